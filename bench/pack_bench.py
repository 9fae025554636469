"""Tokenize-and-pack throughput: tokens per CPU-second (one core) for the pack stage's
cpu engine (gpt2.encode_array: tokie, tiktoken where tokie's lexer may differ), its gpu
engine (array_bpe), the whole stage, plain tiktoken, tokie alone and Hugging Face
`tokenizers`, on the same real text; peak memory of each; and the engines' and the stage's
speed as a multiple of tiktoken's, from the same run.

    python bench/pack_bench.py [--repeat 3] [--processes 16] [--gpu-device auto|cuda|cpu]

Each contender runs in its own process (so peak RSS is its own), single-threaded, and is
timed in CPU seconds (time.process_time), which a busy shared machine distorts far less
than wall time. Text: the 12 Gutenberg books, the 670 non-empty dolma CC documents and
the 4,724 WebText documents of ../shared/data (5.0 M GPT-2 tokens).

`--processes N` adds the cpu engine in N worker processes, timed in wall seconds (a whole
machine's CPU). Row assembly is timed alone to show its share of the stage.

The gpu engine runs where `--gpu-device` says (auto: a CUDA device where CuPy finds one,
else NumPy) in batches of array_bpe.BATCH_CHARS characters, as the stage sends them; on a CUDA
device it is timed in wall seconds (the host waits for the device), on NumPy in CPU
seconds. The line after the table names the device the figure came from.
"""
from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CORPUS_SHARED_DATA", REPO.parent / "shared" / "data"))


def texts() -> list[str]:
    books = [p.read_text(encoding="utf-8") for p in sorted((SHARED / "positives" / "books").glob("*.txt"))]
    with gzip.open(next((SHARED / "cc_text").glob("dolma_*.jsonl.gz")), "rt", encoding="utf-8") as lines:
        cc = [json.loads(line)["text"] for line in lines]
    webtext = [json.loads(line)["text"] for line in
               (SHARED / "positives" / "webtext" / "webtext.valid.trunc63tok.jsonl").read_text().splitlines()]
    return [t for t in books + cc + webtext if t]


def run_tiktoken(docs):
    from corpus_pipeline import gpt2

    encoding = gpt2.encoding()
    started = time.process_time()
    tokens = sum(len(encoding.encode_ordinary(d)) for d in docs)
    return tokens, time.process_time() - started


def run_engine(docs):
    """The pack stage's engine, ids as arrays, as pack.document_tokens calls it."""
    from corpus_pipeline import gpt2

    gpt2.engine(), gpt2.encoding()  # both built once per process, as in the job (tiktoken for the fallback)
    started = time.process_time()
    tokens = sum(len(gpt2.encode_array(d)) for d in docs)
    return tokens, time.process_time() - started


def run_tokie(docs):
    from corpus_pipeline import gpt2

    engine = gpt2.engine()
    started = time.process_time()
    tokens = sum(len(engine.encode(d, add_special_tokens=False).ids) for d in docs)
    return tokens, time.process_time() - started


def run_hf(docs):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from corpus_pipeline import gpt2

    vocab, merges = gpt2.bpe_files()
    tokenizer = Tokenizer(models.BPE.from_file(str(merges), str(vocab)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    started = time.process_time()
    tokens = sum(len(tokenizer.encode(d, add_special_tokens=False).ids) for d in docs)
    return tokens, time.process_time() - started


def run_ours(docs):
    """The whole stage: tokenize, EOT, stream to disk, cut rows, write shards + metadata."""
    from corpus_pipeline import gpt2, pack

    gpt2.encoding(), gpt2.engine()  # built once per process in the job too; not part of the per-token cost
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        meta = pack.pack_texts(docs, Path(folder) / "out")
        return meta["stream_tokens"], time.process_time() - started


def run_rows(docs):
    """Row assembly alone, on a stream of these documents."""
    import numpy as np

    from corpus_pipeline import pack

    stream = np.concatenate([pack.document_tokens(d) for d in docs])
    started = time.process_time()
    pack.pack_stream(stream, 2048, True, "pad", 16384)
    return len(stream), time.process_time() - started


def run_gpu_engine(docs):
    """The gpu engine on --gpu-device, batch by batch as the stage calls it; tables built first."""
    from corpus_pipeline import array_bpe, pack

    engine = array_bpe.engine(os.environ.get("PACK_BENCH_GPU_DEVICE", "auto"))
    engine.encode_batch(docs[:50])  # uploads, and on CUDA compiles the kernels
    on_cuda = engine.device != "cpu"
    clock = time.time if on_cuda else time.process_time
    started = clock()
    chars = array_bpe.BATCH_CHARS["cuda" if on_cuda else "cpu"]
    tokens = sum(len(ids) for batch in pack.batches(docs, chars) for ids in engine.encode_batch(batch))
    return tokens, clock() - started, engine.device


def _tokenize_chunk(chunk):
    from corpus_pipeline import pack

    return sum(len(pack.document_tokens(d)) for d in chunk)


def run_parallel(docs, processes: int):
    chunks = [docs[i::processes * 8] for i in range(processes * 8)]
    with multiprocessing.Pool(processes) as pool:
        pool.map(_tokenize_chunk, [[d[:100]] for d in docs[:processes]])  # start workers, build tokenizers
        started = time.time()
        tokens = sum(pool.map(_tokenize_chunk, chunks))
        return tokens, time.time() - started


ENGINE, STAGE, TIKTOKEN = "cpu engine (gpt2.encode_array)", "stage (pack_texts, shards)", "tiktoken encode_ordinary"
GPU = "gpu engine (array_bpe)"
CONTENDERS = {ENGINE: run_engine, GPU: run_gpu_engine, STAGE: run_ours, TIKTOKEN: run_tiktoken,
              "tokie alone (no fallback)": run_tokie, "HF tokenizers ByteLevel BPE": run_hf,
              "row assembly alone, numpy": run_rows}


def child(name: str, processes: int):
    os.environ.update(TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    docs = texts()
    tokens, seconds, *device = run_parallel(docs, processes) if name == "parallel" else CONTENDERS[name](docs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tokens": tokens, "seconds": seconds, "peak_mib": peak, "device": (device or ["cpu"])[0]}))


def run_child(name: str, processes: int = 0) -> dict:
    args = [sys.executable, __file__, "--child", name, "--processes", str(processes)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(names: list[str], repeat: int, processes: int = 0) -> dict[str, dict]:
    """Best of `repeat` runs each, taken in turns (engine, stage, tiktoken, ..., then again),
    so that a burst of load on a shared machine falls on all contenders alike."""
    runs = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            runs[name].append(run_child(name, processes))
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    return {name: dict(b, tokens_per_s=b["tokens"] / b["seconds"]) for name, b in best.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the best is reported")
    parser.add_argument("--processes", type=int, default=0, help="also run the engine in N processes")
    parser.add_argument("--gpu-device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="where the gpu engine runs (pack.gpu_device)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["PACK_BENCH_GPU_DEVICE"] = args.gpu_device
    if args.child:
        return child(args.child, args.processes)
    rows = measure(list(CONTENDERS), args.repeat)
    if args.processes:
        rows[f"cpu engine, {args.processes} processes (wall s)"] = measure(["parallel"], args.repeat, args.processes)["parallel"]
    print(f"{'contender':48} {'tokens':>10} {'seconds':>8} {'tokens/s':>12} {'peak MiB':>9}")
    for name, r in rows.items():
        print(f"{name:48} {r['tokens']:>10,} {r['seconds']:>8.3f} {r['tokens_per_s']:>12,.0f} {r['peak_mib']:>9.0f}")
    base = rows[TIKTOKEN]["tokens_per_s"]
    print(f"per CPU-second against tiktoken, this run: cpu engine {rows[ENGINE]['tokens_per_s'] / base:.2f}x, "
          f"whole stage {rows[STAGE]['tokens_per_s'] / base:.2f}x")
    gpu = rows[GPU]
    if gpu["device"] == "cpu":
        print(f"gpu engine ran on NumPy (no CUDA device): {gpu['tokens_per_s'] / base:.2f}x tiktoken per CPU-second; "
              "no GPU figure was measured")
    else:
        print(f"gpu engine on {gpu['device']}: {gpu['tokens_per_s']:,.0f} tokens per wall second, "
              f"{gpu['tokens_per_s'] / base:.1f}x one core of tiktoken")
    parallel = next((r for name, r in rows.items() if name.startswith("cpu engine, ")), None)
    if parallel:
        print(f"gpu engine ({gpu['device']}) against the cpu engine on {args.processes} processes, wall: "
              f"{gpu['tokens_per_s'] / parallel['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
