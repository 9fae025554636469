"""Fuzzy-dedup cost versus corpus size: documents/s, candidate pairs/doc and peak memory.

Data: real text only, from ../shared/data, loaded by corpus_pipeline.planted (its docstring
and code are the reference for what follows) with corpus_pipeline.references:
- books:     positives/books/*.txt (12 Gutenberg books), load_gutenberg(passage_chars=1500);
- webtext:   positives/webtext/webtext.valid.trunc63tok.jsonl (snippets of <= 63 tokens);
- dolma_cc:  cc_text/dolma_CC-MAIN-...-00140_ccby-subset.jsonl.gz (Common Crawl text);
- cc_head:   cc_text/dolma-cc_en_head/cc_en_head-0091.jsonl (CCNet head, 10 docs);
- dclm:      cc_text/dclm-human-quality/majority_data.jsonl (extracted web pages);
- wikipedia: positives/wikipedia/enwiki-...-shortened.bz2 (load_mediawiki_xml);
- wikitext:  positives/wikipedia/wikitext-2_valid.tokens.txt (load_wikitext_tokens).
That is about 13,100 real documents (the pool), ordered by blake2b("<seed>:<id>").

Corpus of size N: the first min(0.9 N, pool size) pool documents ("originals"), then
planted near-duplicates until N: variant j copies original j mod n_orig and edits a
fraction f of its words, f uniform in [2%, 10%] (from a hash of seed and the variant id);
each edit drops the word or replaces it with a word drawn from the pool's vocabulary
(50/50). So 1k = 900 real + 100 planted, 10k = 9,000 + 1,000, and 100k = the whole pool
(~13.1k) + ~86.9k planted (~6.6 variants per original, which are also near-duplicates of
each other): the 100k corpus is far more duplicated than the smaller ones. The header prints
the exact composition and, on a sample of planted (variant, original) pairs, their 5-gram
shingle Jaccard, since edits of 2-10% of the words leave many planted pairs below 0.8.

Modes (corpus_pipeline.spark.dedup.deduplicate, no references):
- bands:            DedupConfig() (10 MinHash, 5 bands x 2 rows over word shingles of 5
                    words, shorter for texts under 62 words, exact verification);
- spark_minhashlsh: dataclasses.replace(DedupConfig(), mode="spark_minhashlsh"), the
                    GPT-3-faithful Spark ML MinHashLSH (10 OR-ed tables, unigram features).

- datasketch:       the in-memory baseline (no Spark): datasketch MinHash(num_perm=10) of each
                    document's lower-cased word 5-gram shingles (UTF-8 bytes), inserted into
                    and queried from MinHashLSH(threshold=0.8, num_perm=10); clusters are the
                    connected components of the pairs it returns (union-find), each keeping
                    its first document. It verifies nothing, so it does less work than ours.

Each (mode, size) runs in its own child process, so it has its own JVM. The corpora are
built by a separate child and written once to Parquet; each run reads its corpus and counts
it once (JVM start-up and the read are not timed), then times deduplicate() plus a count of the tagged result that also counts
its dedup_reason column (forcing the final join). Measured:
- wall seconds of that, documents/s, documents per CPU-second of the run's process tree, candidate pairs/doc (the module's own report: distinct
  banded pairs in mode bands, sum over the 10 tables of bucket pairs in spark_minhashlsh),
  verified pairs and removed fraction;
- CPU seconds of the child's process tree over the timed window, and the CPU seconds other
  processes on the machine used meanwhile (contention that inflates wall time);
- peak memory, sampled every 0.5 s from /proc by the parent over the child's process tree:
  VmHWM (peak RSS) of the Python driver, of the JVM, the largest VmHWM among the Python
  workers, and the largest sampled sum of VmRSS over the whole tree. The driver's own
  ru_maxrss (RUSAGE_SELF) is printed beside it as a cross-check.
A run that passes --timeout seconds of timed work is killed (its process group) and printed
as "timed out after N s", with whatever it reported before: the candidate-pair count is
printed by the child as soon as the edge finder returns it, before the expensive join.

Usage: python bench/dedup_bench.py [--sizes 1000,10000,100000] [--modes bands,spark_minhashlsh,datasketch]
                                   [--timeout 300] [--data DIR] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from measure import MemoryWatch  # bench/measure.py: the process-tree sampling scale_bench shares

REPO_ROOT = Path(__file__).resolve().parents[1]
# The library is imported inside the functions that need it, so that the parent stays small
# (see build_corpora).


# ---------------------------------------------------------------- corpora

def planted_jaccards(rows: list[dict], ngram: int, sample: int = 2000) -> list[float]:
    """Exact shingle Jaccard of (variant, original) for a hash-ordered sample of variants."""
    from corpus_pipeline import dedup
    from corpus_pipeline.planted import seeded_order

    texts = {r["id"]: r["text"] for r in rows if r["original"] is None}
    variants = sorted((r for r in rows if r["original"]), key=lambda r: seeded_order(r["id"]))[:sample]
    return [dedup.jaccard(dedup.shingles(r["text"], ngram), dedup.shingles(texts[r["original"]], ngram))
            for r in variants]


# ---------------------------------------------------------------- one run (child process)

def child(mode: str, parquet: str) -> None:
    if mode == "datasketch":
        return datasketch_child(parquet)
    from pyspark.sql import functions as F

    from corpus_pipeline.config import DedupConfig
    from corpus_pipeline.spark import dedup as spark_dedup
    from corpus_pipeline.spark.session import local_session

    cfg = dataclasses.replace(DedupConfig(), mode=mode)
    spark = local_session(f"dedup-bench-{mode}")
    targets = spark.read.parquet(parquet)
    docs = targets.count()
    emit("START", docs=docs)
    start = time.perf_counter()
    wrap_edge_finders(spark_dedup, start)
    tagged, report = spark_dedup.deduplicate(targets, None, cfg)
    counted = tagged.agg(F.count("*").alias("rows"), F.count("dedup_reason").alias("removed")).first()
    seconds = time.perf_counter() - start
    emit("RESULT", seconds=seconds, rows=counted["rows"], removed_rows=counted["removed"], report=report,
         driver_maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    spark.stop()


def datasketch_child(parquet: str) -> None:
    """The in-memory baseline (see the module docstring), timed from the loaded texts."""
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    from corpus_pipeline.config import DedupConfig

    cfg = DedupConfig()
    texts = pq.read_table(parquet, columns=["text"]).column("text").to_pylist()
    emit("START", docs=len(texts))
    start = time.perf_counter()
    lsh, signatures = MinHashLSH(threshold=cfg.jaccard_threshold, num_perm=cfg.num_hashes), {}
    for i, text in enumerate(texts):
        words = (text or "").lower().split()
        if words:
            grams = {" ".join(words[k:k + cfg.ngram]).encode("utf-8")
                     for k in range(max(len(words) - cfg.ngram + 1, 1))}
            signatures[i] = MinHash(num_perm=cfg.num_hashes)
            signatures[i].update_batch(list(grams))
            lsh.insert(i, signatures[i])
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = i = parent[parent[i]]
        return i

    pairs = 0
    for i, signature in signatures.items():
        for j in lsh.query(signature):
            if j > i:
                pairs += 1
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)
    emit("EDGES", seconds=time.perf_counter() - start, shingled_docs=len(signatures), candidate_pairs=pairs)
    removed = sum(root(i) != i for i in range(len(texts)))
    seconds = time.perf_counter() - start
    report = dict(candidate_pairs=pairs, verified_pairs=None, removed_fraction=round(removed / len(texts), 4))
    emit("RESULT", seconds=seconds, rows=len(texts), removed_rows=removed, report=report,
         driver_maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def wrap_edge_finders(spark_dedup, start: float) -> None:
    """Report each edge finder's counts when it returns (before the join runs), so that a run
    killed later still tells how many candidate pairs it faced. deduplicate() looks the
    finders up as module globals at call time, so replacing them here is enough."""
    for name in ("banded_edges", "minhashlsh_edges"):
        original = getattr(spark_dedup, name)

        def wrapped(nodes, cfg, _original=original):
            edges, counts = _original(nodes, cfg)
            emit("EDGES", seconds=time.perf_counter() - start, **counts)
            return edges, counts

        setattr(spark_dedup, name, wrapped)


def emit(tag: str, **fields) -> None:
    print(f"{tag} {json.dumps(fields, default=str)}", flush=True)


# ---------------------------------------------------------------- parent: run, watch, kill

def run_one(mode: str, parquet: Path, timeout: float, startup_limit: float = 180.0) -> dict:
    """Run one child; kill its process group `timeout` s after it starts timing."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(parquet)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    watch = MemoryWatch(proc.pid)
    lines, errors = [], []
    readers = [threading.Thread(target=lambda s=s, out=out: out.extend(s), daemon=True)
               for s, out in ((proc.stdout, lines), (proc.stderr, errors))]
    for reader in readers:
        reader.start()
    launched, started, finished, outcome = time.perf_counter(), None, False, {}
    while proc.poll() is None:
        time.sleep(0.2)
        if started is None and any(line.startswith("START") for line in lines):
            started = time.perf_counter()
            watch.mark()
        if not finished and any(line.startswith("RESULT") for line in lines):
            finished = True
            watch.mark()
        limit = (started + timeout) if started is not None else (launched + startup_limit)
        if not finished and time.perf_counter() > limit:
            watch.mark()
            os.killpg(proc.pid, 9)  # the child's own session: its JVM and Python workers
            proc.wait()
            outcome["timed_out"] = f"{timeout:.0f}" if started is not None else f"start-up ({startup_limit:.0f} s)"
    if started is not None and len(watch.marks) < 2:  # exited between two polls
        watch.mark()
    for reader in readers:
        reader.join(timeout=5)
    outcome.update(watch.peaks())
    for line in lines:
        tag, _, payload = line.partition(" ")
        if tag in ("START", "EDGES", "RESULT"):
            outcome[tag.lower()] = json.loads(payload)
    if "result" not in outcome and "timed_out" not in outcome:
        outcome["error"] = f"exit {proc.returncode}: " + "".join(errors)[-1500:]
    return outcome


# ---------------------------------------------------------------- report

def mib(kb: int) -> str:
    return f"{kb / 1024:,.0f}"


def table_row(mode: str, size: int, out: dict) -> str:
    edges = out.get("edges") or (out.get("result") or {}).get("report") or {}
    pairs = edges.get("candidate_pairs")
    shingled = edges.get("shingled_docs") or size
    cand = f"{pairs:,}" if pairs is not None else "-"
    per_doc = f"{pairs / shingled:,.2f}" if pairs is not None else "-"
    cpu = (f"{out['cpu_s']:>7.1f} {out['other_cpu_s']:>6.0f}" if "cpu_s" in out else f"{'-':>7} {'-':>6}")
    mem = f"{cpu} {mib(out['driver_hwm_kb']):>7} {mib(out['jvm_hwm_kb']):>7} {mib(out['worker_hwm_kb']):>7} " \
          f"{mib(out['tree_rss_kb']):>8}"
    mem += f" {mib(out['result']['driver_maxrss_kb']):>8}" if "result" in out else f" {'-':>8}"
    if "result" in out:
        res, rep = out["result"], out["result"]["report"]
        verified = f"{rep['verified_pairs']:,}" if rep["verified_pairs"] is not None else "-"
        return (f"{mode:<17} {size:>7,} {res['seconds']:>9.1f} {out['edges']['seconds']:>7.1f} "
                f"{size / res['seconds']:>9,.0f} {docs_per_cpu_s(size, out):>10} {cand:>14} {per_doc:>10} "
                f"{verified:>9} {rep['removed_fraction']:>8.3f} {mem}")
    status = f"timed out after {out['timed_out']} s" if "timed_out" in out else "FAILED"
    edges_at = f" (edges known at {out['edges']['seconds']:.0f} s)" if out.get("edges") else ""
    return f"{mode:<17} {size:>7,} {status:>38} {cand:>14} {per_doc:>10} {'-':>9} {'-':>8} {mem}{edges_at}"


def docs_per_cpu_s(size: int, out: dict) -> str:
    return f"{size / out['cpu_s']:,.0f}" if out.get("cpu_s") else "-"


def against_datasketch(results: dict, sizes: list[int]) -> list[str]:
    """Per size: each Spark mode's documents per CPU-second over datasketch's (issue #34's target
    is >= 1.0 for bands at 100k)."""
    lines = []
    for size in sizes:
        base = results.get(("datasketch", size), {})
        if not ("result" in base and base.get("cpu_s")):
            continue
        for (mode, n), out in results.items():
            if n == size and mode != "datasketch" and "result" in out and out.get("cpu_s"):
                ratio = base["cpu_s"] / out["cpu_s"]
                lines.append(f"  {size:,} docs: {mode} {size / out['cpu_s']:,.0f} docs per CPU-s, datasketch "
                             f"{size / base['cpu_s']:,.0f}: {ratio:.2f}x datasketch")
    return lines


HEADER = (f"{'mode':<17} {'docs':>7} {'seconds':>9} {'edges@':>7} {'docs/s':>9} {'docs/cpu-s':>10} {'cand. pairs':>14} "
          f"{'cand/doc':>10} {'verified':>9} {'removed':>8} {'cpu s':>7} {'other':>6} {'drvMiB':>7} {'jvmMiB':>7} "
          f"{'wrkMiB':>7} {'treeMiB':>8} {'selfMiB':>8}")


def growth(results: dict, mode: str, sizes: list[int]) -> str:
    parts = []
    for small, big in zip(sizes, sizes[1:]):
        a, b = results.get((mode, small), {}), results.get((mode, big), {})
        if "result" in a and "result" in b:
            ratio = b["result"]["seconds"] / a["result"]["seconds"]
            parts.append(f"time({big // 1000}k)/time({small // 1000}k) = {ratio:.2f} for {big / small:.0f}x docs")
        elif "result" in a and str(b.get("timed_out", "")).isdigit():
            ratio = float(b["timed_out"]) / a["result"]["seconds"]
            parts.append(f"time({big // 1000}k)/time({small // 1000}k) > {ratio:.2f} (timed out) "
                         f"for {big / small:.0f}x docs")
        else:
            parts.append(f"time({big // 1000}k)/time({small // 1000}k) = n/a")
    return f"  {mode}: " + "; ".join(parts)


def build_corpora(data: Path | None, sizes: list[int], workdir: Path) -> None:
    """Child process: load the pool, write one Parquet corpus per size, print the header lines.
    Kept out of the parent so that the parent stays small (a run's RUSAGE_SELF maxrss starts
    from the parent's size at fork: Linux carries maxrss across execve)."""
    from corpus_pipeline.config import DedupConfig
    from corpus_pipeline.planted import (DEFAULT_DATA, EDIT_RANGE, ORIGINAL_SHARE, build_corpus, load_pool,
                                         vocabulary, write_parquet)

    cfg = DedupConfig()
    data = data or DEFAULT_DATA
    t0 = time.perf_counter()
    pool = load_pool(data)
    vocab = vocabulary(pool)
    pool_sources = {}
    for doc in pool:
        pool_sources[doc.source] = pool_sources.get(doc.source, 0) + 1
    print(f"real pool: {len(pool):,} documents from {data}: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(pool_sources.items(), key=lambda kv: -kv[1]))
          + " (books = 1,500-char Gutenberg passages)")
    print(f"corpus(N) = first min({ORIGINAL_SHARE:.0%} N, pool) pool docs in blake2b(seed:id) order + planted "
          f"variants of them (variant j copies original j mod n_orig; {EDIT_RANGE[0]:.0%}-{EDIT_RANGE[1]:.0%} of its "
          f"words dropped or replaced by a pool-vocabulary word, 50/50)")
    for size in sizes:
        rows, comp = build_corpus(pool, size, vocab)
        write_parquet(rows, workdir / f"corpus_{size}.parquet")
        js = sorted(planted_jaccards(rows, cfg.ngram)) if comp["planted"] else []
        jline = (f"; planted-vs-original 5-gram J on {len(js)} sampled: median {js[len(js) // 2]:.2f}, "
                 f">= {cfg.jaccard_threshold}: {sum(j >= cfg.jaccard_threshold for j in js) / len(js):.1%}"
                 if js else "")
        print(f"  N={size:,}: {comp['originals']:,} real + {comp['planted']:,} planted, "
              f"{comp['chars'] / 1e6:,.1f}M chars{jline}")
        del rows
    print(f"(corpora built in {time.perf_counter() - t0:.0f} s, not timed; each run: own process and JVM, "
          "timed = deduplicate() + count of the tagged result)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--modes", default="bands,spark_minhashlsh")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds of timed work per run")
    parser.add_argument("--data", type=Path, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the Parquet corpora go (temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PARQUET"), help=argparse.SUPPRESS)
    parser.add_argument("--build", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.child:
        return child(*args.child)
    if args.build:
        return build_corpora(args.data, sizes, Path(args.build))

    from corpus_pipeline.config import DedupConfig

    modes = args.modes.split(",")
    cfg = DedupConfig()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dedup_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print("Fuzzy-dedup cost vs corpus size (corpus_pipeline.spark.dedup.deduplicate, no references)")
    print(f"machine: {os.cpu_count()} CPUs, Spark local[2], shuffle partitions 8, default driver memory (1g); "
          f"timeout {args.timeout:.0f} s of timed work per run")
    print(f"config: bands = DedupConfig() ({cfg.bands} bands x {cfg.rows} rows, {cfg.ngram}-gram shingles "
          f"(shorter for short texts: adapt_ngram {cfg.adapt_ngram}), "
          f"J >= {cfg.jaccard_threshold}, max_bucket {cfg.max_bucket}); spark_minhashlsh = same with "
          f"mode=spark_minhashlsh ({cfg.num_hashes} OR-ed tables, unigram HashingTF {cfg.num_features})")
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "--build", str(workdir), "--sizes", args.sizes]
                   + (["--data", str(args.data)] if args.data else []), cwd=REPO_ROOT, check=True)
    print()
    print(HEADER)
    results = {}
    for mode in modes:
        for size in sizes:
            out = run_one(mode, workdir / f"corpus_{size}.parquet", args.timeout)
            results[(mode, size)] = out
            print(table_row(mode, size, out), flush=True)
            if "error" in out:
                print("   ", out["error"].strip().replace("\n", "\n    "))
    print()
    print("seconds = timed wall (deduplicate + count); edges@ = when the edge finder returned its counts "
          "(signatures/features and candidate counting done; the verification or similarity join is lazy and "
          "runs inside connected components after that).")
    print("cpu s = CPU seconds of the run's process tree (JVM, driver, Python workers) over the timed window; "
          "other = CPU seconds used by other processes on the machine over the same window (2 CPUs = at most "
          "2 s per s): contention that inflates wall time.")
    print("MiB columns: drv = VmHWM of the Python driver, jvm = VmHWM of the JVM, wrk = largest VmHWM of a "
          "Python worker, tree = largest sampled sum of VmRSS over the run's process tree (0.5 s sampling), "
          "self = the driver's own ru_maxrss (RUSAGE_SELF), a cross-check of drv (Linux carries maxrss across "
          "execve, so it starts from the small parent's size at fork).")
    print("cand. pairs: distinct banded pairs (bands); sum over the 10 tables of same-bucket pairs, what "
          "approxSimilarityJoin must join (spark_minhashlsh).")
    print("growth of timed seconds:")
    for mode in modes:
        print(growth(results, mode, sizes))
    if "datasketch" in modes:
        print("documents per CPU-second against datasketch in memory (same run, same corpora):")
        print("\n".join(against_datasketch(results, sizes)) or "  n/a")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
