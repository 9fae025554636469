"""The filter job on Spark: input files -> `documents/` and `dropped/` Parquet + stats.

Record-level stages, per input file, committed to the shard store (`shards.py`): one task
per file runs `ingest.process_file`, every outcome becomes one row, and the quality
classifier tags each ingested document with `quality_score` and `quality_u` for the Pareto
rule (GPT-3 Appendix A). Corpus-level stages, over all shards of the run: fuzzy dedup
among the kept documents and against reference datasets (`duplicate`,
`duplicate_of_reference`, with the kept id in `duplicate_of`), then repeated-line removal
(site templates: a line that several documents hold stays in one; `repeated_lines` for a
document left too short), then 13-gram benchmark decontamination (Appendix C: cut, or drop
as `contaminated`). Kept rows go to `documents/`; dropped rows to `dropped/` with their
reason (text only where it helps: a `quality` drop, so that another alpha is a
re-selection; a duplicate, shown beside its keeper; what a `repeated_lines` drop had left;
a `contaminated` one). Counts are read
back from the written Parquet, never from accumulators, so task retries and speculative
execution cannot skew them; report.html and samples/ come last.
"""
from __future__ import annotations

import json
import time

import fsspec
import yaml
from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, config, ingest, quality, stats
from ..report import write_report
from .output import AtomicOutput
from .progress import ProgressReporter, progress_reporter
from .decontam import decontaminate
from .dedup import deduplicate, reference_documents
from . import lines
from .quality import tag_documents
from .shards import ShardStore, fingerprint, utc

_TYPES = {"offset": T.LongType(), "http_status": T.IntegerType(), "payload_bytes": T.LongType(),
          "text_chars": T.IntegerType(), "lang_score": T.DoubleType()}
OUTCOME_SCHEMA = T.StructType(
    [T.StructField(name, _TYPES.get(name, T.StringType()), True) for name in ingest.OUTCOME_FIELDS]
)
QUALITY_COLUMNS = ["quality_score", "quality_u"]
# Null where the stage did not look at the document (dropped before it, or no benchmarks);
# lines.COLUMNS likewise.
DECONTAM_COLUMNS = ["decontam_pieces", "decontam_chars_removed"]
DOCUMENT_COLUMNS = ([c for c in ingest.OUTCOME_FIELDS if c not in ("reason", "detail")] + QUALITY_COLUMNS
                    + lines.COLUMNS + DECONTAM_COLUMNS)
DROPPED_COLUMNS = (list(ingest.OUTCOME_FIELDS) + QUALITY_COLUMNS + ["duplicate_of"] + lines.COLUMNS
                   + DECONTAM_COLUMNS)


def outcome_rows(path: str, cfg: config.IngestConfig):
    for outcome in ingest.process_file(path, cfg):
        yield outcome.as_tuple()


def outcomes_frame(spark, files: list[str], cfg: config.IngestConfig):
    """One row per record of every file; one Spark task per file, in file order."""
    rdd = spark.sparkContext.parallelize(files, max(len(files), 1))
    return spark.createDataFrame(rdd.flatMap(lambda path: outcome_rows(path, cfg)), OUTCOME_SCHEMA)


def select_by_quality(outcomes, cfg: config.QualityConfig):
    """Tag ingested documents with score and draw; the Pareto rule's rejects get reason `quality`."""
    if not cfg.model:
        return outcomes.select(*ingest.OUTCOME_FIELDS, *[F.lit(None).cast("double").alias(c) for c in QUALITY_COLUMNS])
    docs = outcomes.filter(F.col("reason").isNull())
    dropped = outcomes.filter(F.col("reason").isNotNull())
    tagged = tag_documents(docs, cfg.model, cfg.seed, cfg.alpha)
    decided = (tagged.withColumn("reason", F.when(~F.col("keep"), F.lit("quality")))
               .withColumn("detail", F.when(~F.col("keep"), F.format_number("quality_score", 4))))
    return decided.drop("keep").unionByName(dropped, allowMissingColumns=True)


def with_earlier_drops(decided, rows):
    """What a corpus-level stage decided on the kept rows, plus the rows dropped before it."""
    return decided.unionByName(rows.filter(F.col("reason").isNotNull()), allowMissingColumns=True)


def drop_duplicates(spark, rows, cfg: config.FilterConfig):
    """Fuzzy dedup of the documents the quality stage kept (GPT-3 order: filter, then dedup)."""
    kept = rows.filter(F.col("reason").isNull())
    if not cfg.dedup.enabled:
        return rows.withColumn("duplicate_of", F.lit(None).cast("string")), None
    references = reference_documents(spark, cfg.dedup)
    tagged, report = deduplicate(kept, references, cfg.dedup)
    decided = (tagged.withColumn("reason", F.col("dedup_reason"))
               .withColumn("detail", F.col("duplicate_of")).drop("dedup_reason"))
    return with_earlier_drops(decided, rows), report


def drop_repeated_lines(rows, cfg: config.FilterConfig):
    """Repeated-line removal over the documents left after dedup (null columns when it is off)."""
    if not cfg.repeated_lines.enabled:
        return rows.select("*", *[F.lit(None).cast("int").alias(c) for c in lines.COLUMNS])
    kept = rows.filter(F.col("reason").isNull())
    tagged = lines.remove_repeated_lines(kept, cfg.ingest.min_chars)
    decided = (tagged.withColumn("reason", F.col("lines_reason"))
               .withColumn("detail", F.when(F.col("lines_reason").isNotNull(),
                                            F.format_string("%d lines removed", F.col("repeated_lines_removed"))))
               .drop("lines_reason"))
    return with_earlier_drops(decided, rows)


def remove_contamination(spark, rows, cfg: config.FilterConfig):
    """GPT-3 Appendix C on the documents left after dedup: (rows, removed spans or None, report)."""
    if not (cfg.decontam.enabled and cfg.decontam.benchmarks):
        untouched = [F.lit(None).cast("int").alias(c) for c in DECONTAM_COLUMNS]
        return rows.select("*", *untouched), None, None
    kept = rows.filter(F.col("reason").isNull())
    tagged, spans, report = decontaminate(spark, kept, cfg.decontam, dataset_column="source")
    decided = (tagged.withColumn("reason", F.col("decontam_reason"))
               .withColumn("detail", F.when(F.col("decontam_reason").isNotNull(),
                                            F.format_string("%d pieces", F.col("decontam_pieces"))))
               .drop("decontam_reason"))
    modified = (F.col("decontam_chars_removed") > 0) & F.col("reason").isNull()
    decided = decided.withColumn("text_chars", F.when(modified, F.length("text")).otherwise(F.col("text_chars")))
    return with_earlier_drops(decided, rows), spans, report


def run_filter(spark, cfg: config.FilterConfig, files: list[str]) -> dict:
    """Write the job's output atomically to `cfg.output`; return its stats.

    Record-level stages run per input file into the shard store (resuming where a previous
    run stopped); the corpus-level ones (dedup, decontamination) then read every shard of `files`."""
    started = time.time()
    output = AtomicOutput(spark, cfg.output)  # refuses a foreign folder before any work
    quality_info = quality_summary(cfg.quality)
    store = ShardStore(spark, shard_root(cfg), fingerprint(cfg, quality_info and quality_info["model_version"]))
    with progress_reporter(spark, len(files), every_s=cfg.progress_every_s) as progress:
        shards = ingest_shards(spark, cfg, files, store, progress)
    with output as out:
        selected = spark.read.parquet(*[store.path(path) for path in files])
        deduplicated, dedup_report = drop_duplicates(spark, selected, cfg)
        # Cached: line removal reads its input twice, decontamination several times.
        deduplicated = deduplicated.persist(StorageLevel.MEMORY_AND_DISK)
        delined = drop_repeated_lines(deduplicated, cfg).persist(StorageLevel.MEMORY_AND_DISK)
        rows, spans, decontam_report = remove_contamination(spark, delined, cfg)
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)  # feeds two writes
        rows.filter(F.col("reason").isNull()).select(DOCUMENT_COLUMNS).write.parquet(out.path("documents"))
        rows.filter(F.col("reason").isNotNull()).select(DROPPED_COLUMNS).write.parquet(out.path("dropped"))
        if spans is not None:
            spans.write.parquet(out.path("decontam_spans"))
        spark.catalog.clearCache()
        documents, dropped = spark.read.parquet(out.path("documents")), spark.read.parquet(out.path("dropped"))
        run_stats = count_outcomes(documents, dropped, len(files))
        run_stats["shards"] = reconcile(run_stats, shards)
        run_stats["quality"] = quality_info
        run_stats["dedup"] = dedup_report
        run_stats["repeated_lines"] = lines.report(documents, dropped) if cfg.repeated_lines.enabled else None
        run_stats["decontam"] = decontam_report
        run_stats["seconds"] = round(time.time() - started, 1)
        out.write_text("config.yaml", yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
        out.write_text("inputs.txt", "".join(f + "\n" for f in files))
        out.write_text("run.json", json.dumps(run_manifest(cfg, store, shards, started), indent=2) + "\n")
        out.write_text("stats.json", json.dumps(dict(run_stats, code_version=code_version()), indent=2) + "\n")
        write_report(out.tmp, title=cfg.output)
    return run_stats


def shard_root(cfg: config.FilterConfig) -> str:
    return cfg.shards or cfg.output.rstrip("/") + ".shards"


def ingest_shards(spark, cfg: config.FilterConfig, files: list[str], store: ShardStore,
                  progress: ProgressReporter) -> dict[str, dict]:
    """{input file: its shard marker}, running ingest and quality for the files not yet committed."""
    store.remove_staging()  # one run per store at a time (README), so no batch is in flight
    markers = {path: (store.marker(path) if cfg.resume else None) for path in files}
    for marker in markers.values():
        if marker:
            marker["status"] = "reused"
    pending = [path for path in files if markers[path] is None]
    progress.files_reused(len(files) - len(pending))
    size = cfg.files_per_commit or 4 * spark.sparkContext.defaultParallelism
    for batch in (pending[i:i + size] for i in range(0, len(pending), size)):
        # Cached: ingest feeds two branches (scored documents and dropped records).
        outcomes = outcomes_frame(spark, batch, cfg.ingest).persist(StorageLevel.MEMORY_AND_DISK)
        committed = store.commit_batch(select_by_quality(outcomes, cfg.quality), batch)
        outcomes.unpersist()
        for marker in committed:
            markers[marker["input"]] = dict(marker, status="processed")
        progress.files_done(len(committed), sum(marker["records"] for marker in committed))
    return markers


def reconcile(run_stats: dict, shards: dict[str, dict]) -> dict:
    """Every row of every shard must be in the output exactly once; a mismatch is a bug."""
    rows = sum(marker["records"] for marker in shards.values())
    written = run_stats["records_read"] + sum(run_stats["files"]["failed"].values())
    if rows != written:
        raise RuntimeError(f"accounting mismatch: shards hold {rows} rows, the output {written}")
    statuses = [marker["status"] for marker in shards.values()]
    return {"total": len(shards), "processed": statuses.count("processed"), "reused": statuses.count("reused"),
            "rows": rows}


def run_manifest(cfg: config.FilterConfig, store: ShardStore, shards: dict[str, dict], started: float) -> dict:
    return {"code_version": code_version(), "seed": cfg.quality.seed, "fingerprint": store.fingerprint,
            "shard_store": store.root, "started_at": utc(started), "finished_at": utc(time.time()),
            "config": config.to_dict(cfg),
            "inputs": [{"input": path, "shard": store.path(path), "status": m["status"], "records": m["records"],
                        "outcomes": m["outcomes"], "committed_at": m["committed_at"]} for path, m in shards.items()]}


def quality_summary(cfg: config.QualityConfig) -> dict | None:
    if not cfg.model:
        return None
    manifest = read_text(cfg.model + "/" + quality.MANIFEST_FILE)
    return {"model": cfg.model, "model_version": json.loads(manifest)["model_version"],
            "alpha": cfg.alpha, "seed": cfg.seed}


def read_text(path: str) -> str:
    with fsspec.open(path, "r") as fh:
        return fh.read()


def count_outcomes(documents, dropped, files: int) -> dict:
    kept = documents.count()
    by_reason = {row["reason"]: row["count"] for row in dropped.groupBy("reason").count().collect()}
    return stats.summarise(kept, by_reason, files)
