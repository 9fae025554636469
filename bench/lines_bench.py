"""Repeated-line removal cost versus corpus size, against fuzzy dedup on the same documents.

Data: the real-text corpora of corpus_pipeline.planted, as bench/dedup_bench.py times them
(Common Crawl text, extracted web pages, Wikipedia, Gutenberg passages, WebText snippets from
../shared/data, topped up with planted near-duplicates; its docstring gives the recipe), at
each size.

Timed, in one Spark session (local[2], 8 shuffle partitions), after the corpus is read and
counted:
- lines: `corpus_pipeline.spark.lines.remove_repeated_lines` plus an aggregate over its
  output (rows, lines removed), which forces the whole stage;
- baseline: `corpus_pipeline.spark.dedup.deduplicate` (DedupConfig(), bands) plus a count
  of its tagged output, the stage that runs just before it in jobs/filter.py.
Printed: wall seconds and documents/s of each, their ratio, the share of lines removed, and
how each one's time grows with the corpus.

Usage: python bench/lines_bench.py [--sizes 1000,10000,100000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from corpus_pipeline import planted


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run_lines(docs):
    from pyspark.sql import functions as F

    from corpus_pipeline.spark import lines

    out = lines.remove_repeated_lines(docs.withColumn("text_chars", F.length("text")), min_chars=200)
    return out.agg(F.count("*").alias("rows"), F.sum("repeated_lines_removed").alias("removed")).first()


def run_dedup(docs):
    from corpus_pipeline.config import DedupConfig
    from corpus_pipeline.spark import dedup

    tagged, _ = dedup.deduplicate(docs, None, DedupConfig())
    return tagged.count()


def line_count(docs) -> int:
    from pyspark.sql import functions as F

    return docs.select(F.sum(F.size(F.split("text", "\n")))).first()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--data", type=Path, default=planted.DEFAULT_DATA)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    pool = planted.load_pool(args.data)
    vocab = planted.vocabulary(pool)
    from corpus_pipeline.spark.session import local_session

    spark = local_session("lines-bench")
    print(f"real pool: {len(pool):,} documents from {args.data} (corpora as in bench/dedup_bench.py); "
          f"machine: {os.cpu_count()} CPUs, Spark local[2]")
    print(f"{'docs':>8} {'lines':>10} {'lines s':>8} {'docs/s':>8} {'removed':>8} {'dedup s':>8} {'docs/s':>8} "
          f"{'lines/dedup':>11}")
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="lines_bench_") as workdir:
        for size in sizes:
            rows, _ = planted.build_corpus(pool, size, vocab)
            path = Path(workdir) / f"corpus_{size}.parquet"
            planted.write_parquet(rows, path)
            docs = spark.read.parquet(str(path))
            total_lines = line_count(docs)
            result, lines_s = timed(lambda: run_lines(docs))
            _, dedup_s = timed(lambda: run_dedup(docs))
            seconds[size] = lines_s, dedup_s
            print(f"{size:>8,} {total_lines:>10,} {lines_s:>8.1f} {size / lines_s:>8,.0f} "
                  f"{result['removed'] / total_lines:>8.1%} {dedup_s:>8.1f} {size / dedup_s:>8,.0f} "
                  f"{lines_s / dedup_s:>11.2f}", flush=True)
    for small, big in zip(sizes, sizes[1:]):
        print(f"growth {small:,} -> {big:,} documents ({big / small:.0f}x): lines "
              f"{seconds[big][0] / seconds[small][0]:.1f}x, dedup {seconds[big][1] / seconds[small][1]:.1f}x")
    spark.stop()


if __name__ == "__main__":
    main()
