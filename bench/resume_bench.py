"""Cost of per-shard commits and the time a resumed run saves, on the bundled sample.

    python bench/resume_bench.py [--repeat 2]

Runs jobs/filter.py's run_filter (ingest only plus dedup, local[2]) on data/sample (6 real
files, 311 records) three ways in one process, best of `--repeat`:
  - one commit for the whole run (files_per_commit=100): the baseline;
  - one commit per input file (files_per_commit=1): the most fault-tolerant setting;
  - a resumed run whose shards are all committed already (only dedup and the final write).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from corpus_pipeline import config, inputs
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.session import get_spark


def timed_run(spark, out: Path, files: list[str], files_per_commit: int, fresh: bool) -> float:
    if fresh:
        shutil.rmtree(out.parent / (out.name + ".shards"), ignore_errors=True)
    cfg = config.FilterConfig(output=str(out), quality=config.QualityConfig(model=""),
                              files_per_commit=files_per_commit)
    started = time.perf_counter()
    run_filter(spark, cfg, files)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = get_spark(config.SparkConfig(master="local[2]", app_name="resume-bench"))
    files = inputs.expand([str(REPO / "data/sample")])
    work = Path(tempfile.mkdtemp(prefix="resume-bench-"))
    timed_run(spark, work / "warmup", files, 100, fresh=True)  # JVM and Python workers warm
    best = {"single commit": [], "commit per file": [], "resume, all shards done": []}
    for _ in range(args.repeat):
        best["single commit"].append(timed_run(spark, work / "a", files, 100, fresh=True))
        best["commit per file"].append(timed_run(spark, work / "b", files, 1, fresh=True))
        best["resume, all shards done"].append(timed_run(spark, work / "b", files, 1, fresh=False))
    base = min(best["single commit"])
    print(f"data/sample: {len(files)} files, 311 records; local[2]; best of {args.repeat}")
    for name, seconds in best.items():
        print(f"  {name:<26}{min(seconds):>7.1f} s   {min(seconds) / base:>5.2f}x single commit")
    shutil.rmtree(work)
    spark.stop()


if __name__ == "__main__":
    main()
