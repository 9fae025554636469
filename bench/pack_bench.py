"""Tokenize-and-pack throughput: tokens per CPU-second (one core) for our CPU path, plain
tiktoken and Hugging Face `tokenizers`, on the same real text; peak memory of each.

    python bench/pack_bench.py [--repeat 3] [--processes 16]

Each contender runs in its own process (so peak RSS is its own), single-threaded, and is
timed in CPU seconds (time.process_time), which a busy shared machine distorts far less
than wall time. Text: the 12 Gutenberg books, the 670 non-empty dolma CC documents and
the 4,724 WebText documents of ../shared/data (about 5.5 M GPT-2 tokens).

`--processes N` adds our tokenizer in N worker processes, timed in wall seconds: on a GPU
machine, run it with N = its cores beside `--device cuda` to compare a whole CPU against
the GPU path. Row assembly is timed separately (numpy, and torch on the device) because
it is the only part of the stage a GPU can take: BPE merges are sequential per word.
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


def run_hf(docs):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from corpus_pipeline import gpt2

    vocab, merges = gpt2.bpe_files()
    tokenizer = Tokenizer(models.BPE.from_file(str(merges), str(vocab)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    started = time.process_time()
    tokens = sum(len(tokenizer.encode(d, add_special_tokens=False).ids) for d in docs)
    return tokens, time.process_time() - started


def run_ours(docs, device=None):
    """The whole stage: tokenize, EOT, stream to disk, cut rows, write shards + metadata."""
    from corpus_pipeline import gpt2, pack

    gpt2.encoding()  # built once per process in the job too; not part of the per-token cost
    if device:  # likewise the torch import and, on a GPU, the CUDA context
        pack.pack_stream(pack.stream_of([[1] * 5000]), 2048, device=device)
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        meta = pack.pack_texts(docs, Path(folder) / "out", device=device)
        return meta["stream_tokens"], time.process_time() - started


def run_rows(docs, device=None):
    """Row assembly alone, on a stream of these documents (what a GPU could take over)."""
    import numpy as np

    from corpus_pipeline import pack

    stream = np.concatenate([pack.document_tokens(d) for d in docs])
    pack.pack_stream(stream[:4096], 2048, device=device)  # warm-up (CUDA context, kernels)
    started = time.process_time()
    pack.pack_stream(stream, 2048, True, "pad", 16384, device=device)
    return len(stream), time.process_time() - started


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


CONTENDERS = {"ours (pack_texts, numpy rows)": run_ours, "tiktoken encode_ordinary": run_tiktoken,
              "HF tokenizers ByteLevel BPE": run_hf, "row assembly alone, numpy": run_rows}


def child(name: str, device: str | None, processes: int):
    os.environ.update(TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    docs = texts()
    if name == "parallel":
        tokens, seconds = run_parallel(docs, processes)
    elif device:
        tokens, seconds = (run_ours if name.startswith("ours") else run_rows)(docs, device)
    else:
        tokens, seconds = CONTENDERS[name](docs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tokens": tokens, "seconds": seconds, "peak_mib": peak}))


def measure(name: str, repeat: int, device: str | None = None, processes: int = 0) -> dict:
    runs = []
    for _ in range(repeat):
        args = [sys.executable, __file__, "--child", name, "--processes", str(processes)]
        out = subprocess.run(args + (["--device", device] if device else []), capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return dict(best, tokens_per_s=best["tokens"] / best["seconds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the best is reported")
    parser.add_argument("--processes", type=int, default=0, help="also run our tokenizer in N processes")
    parser.add_argument("--device", default=None, help="also time our torch path on this device (cuda, cpu)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.device, args.processes)
    rows = [(name, measure(name, args.repeat)) for name in CONTENDERS]
    if args.device:
        rows += [(f"ours, torch rows on {args.device}", measure("ours", args.repeat, args.device)),
                 (f"row assembly alone, torch on {args.device}", measure("rows", args.repeat, args.device))]
    if args.processes:
        rows.append((f"our tokenizer, {args.processes} processes (wall s)",
                     measure("parallel", args.repeat, processes=args.processes)))
    print(f"{'contender':48} {'tokens':>10} {'seconds':>8} {'tokens/s':>12} {'peak MiB':>9}")
    for name, r in rows:
        print(f"{name:48} {r['tokens']:>10,} {r['seconds']:>8.3f} {r['tokens_per_s']:>12,.0f} {r['peak_mib']:>9.0f}")


if __name__ == "__main__":
    main()
