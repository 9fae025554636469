"""The filter job on Spark: input files -> `documents/` and `dropped/` Parquet + stats.

One task per input file runs `ingest.process_file`; every outcome becomes one row. Kept
rows go to `documents/`, dropped rows (without text) to `dropped/` with their reason.
Counts are read back from the written Parquet, never from accumulators, so task retries
and speculative execution cannot skew them.
"""
from __future__ import annotations

import json
import time

import yaml
from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, config, ingest, stats
from .output import AtomicOutput

_TYPES = {"offset": T.LongType(), "http_status": T.IntegerType(), "payload_bytes": T.LongType(),
          "text_chars": T.IntegerType(), "lang_score": T.DoubleType()}
OUTCOME_SCHEMA = T.StructType(
    [T.StructField(name, _TYPES.get(name, T.StringType()), True) for name in ingest.OUTCOME_FIELDS]
)
DOCUMENT_COLUMNS = [c for c in ingest.OUTCOME_FIELDS if c not in ("reason", "detail")]
DROPPED_COLUMNS = [c for c in ingest.OUTCOME_FIELDS if c != "text"]


def outcome_rows(path: str, cfg: config.IngestConfig):
    for outcome in ingest.process_file(path, cfg):
        yield outcome.as_tuple()


def outcomes_frame(spark, files: list[str], cfg: config.IngestConfig):
    """One row per record of every file; one Spark task per file, in file order."""
    rdd = spark.sparkContext.parallelize(files, max(len(files), 1))
    return spark.createDataFrame(rdd.flatMap(lambda path: outcome_rows(path, cfg)), OUTCOME_SCHEMA)


def run_filter(spark, cfg: config.FilterConfig, files: list[str]) -> dict:
    """Write the job's output atomically to `cfg.output`; return its stats."""
    started = time.time()
    out = AtomicOutput(spark, cfg.output)
    try:
        outcomes = outcomes_frame(spark, files, cfg.ingest).persist(StorageLevel.MEMORY_AND_DISK)
        outcomes.filter(F.col("reason").isNull()).select(DOCUMENT_COLUMNS).write.parquet(out.path("documents"))
        outcomes.filter(F.col("reason").isNotNull()).select(DROPPED_COLUMNS).write.parquet(out.path("dropped"))
        outcomes.unpersist()
        run_stats = count_outcomes(spark, out.path("documents"), out.path("dropped"), len(files))
        run_stats["seconds"] = round(time.time() - started, 1)
        out.write_text("config.yaml", yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
        out.write_text("inputs.txt", "".join(f + "\n" for f in files))
        out.write_text("stats.json", json.dumps(dict(run_stats, code_version=code_version()), indent=2) + "\n")
        out.commit()
    except BaseException:
        out.abort()
        raise
    return run_stats


def count_outcomes(spark, documents: str, dropped: str, files: int) -> dict:
    kept = spark.read.parquet(documents).count()
    by_reason = {row["reason"]: row["count"] for row in spark.read.parquet(dropped).groupBy("reason").count().collect()}
    return stats.summarise(kept, by_reason, files)
