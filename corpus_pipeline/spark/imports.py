"""Importing reference corpora on Spark, and reading them back.

Consumes the sources of an `ImportConfig` (any format `corpus_pipeline.imports` reads, or
a Parquet folder with id and text); produces, for each source, `<output>/<name>/`:
  documents/   Parquet `id, source, text` for every format: `source` is the source's
               name, `id` the loader's id (`references.doc_id` of the name and the
               document's key; for "warc", ingest's id of the record), `text` clean text
  stats.json   name, format, path; files read and, per file, its documents (and for
               "warc" the records ingest dropped, by reason); documents, distinct ids,
               characters, an order-free fingerprint of (id, text) (the one the mixture
               and classifier manifests record), the resolved ingest config for "warc",
               seconds and code version
Each source's folder is written atomically (`AtomicOutput`, marker stats.json) and
replaced on a re-import. One Spark task per input file. A source that yields no document,
or two documents with one id, fails its import with a one-line error.

`imported_documents` is how every later stage (mixtures, dedup references, classifier
training) reads reference corpora: Parquet only.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, imports
from ..config import IngestConfig, ReferenceSource, to_dict
from ..errors import UserError
from .output import AtomicOutput
from .tasks import rows_frame

DOCUMENTS = "documents"
STATS = "stats.json"
ROW_SCHEMA = T.StructType([T.StructField(name, T.StringType(), True) for name in imports.FileRow._fields])


class ImportSourceError(UserError, ValueError):
    """A source whose import cannot be used (no document, repeated ids); the message is for the user."""


def loaded_rows(spark, source: ReferenceSource, ingest_cfg: IngestConfig):
    """(file, id, text, reason) of every document of the source, and every record ingest drops."""
    if source.format == "parquet":
        return spark.read.parquet(source.path).select(
            F.input_file_name().alias("file"), "id", "text", F.lit(None).cast("string").alias("reason"))
    return rows_frame(spark, imports.source_files(source), lambda path: imports.file_rows(source, path, ingest_cfg),
                      ROW_SCHEMA)


def per_file(rows, files: list[str]) -> list[dict]:
    """Documents and drops of each file; files that gave nothing are listed with 0."""
    counts = defaultdict(dict)  # file -> {reason, None for documents: rows}
    for r in rows.groupBy("file", "reason").count().collect():
        counts[r["file"]][r["reason"]] = r["count"]
    return [{"path": path, "documents": counts[path].pop(None, 0), "dropped": dict(sorted(counts[path].items()))}
            for path in sorted(set(files) | set(counts))]


def documents_summary(docs) -> dict:
    """Documents, distinct ids, characters and the order-free (id, text) fingerprint."""
    fingerprint = F.sum(F.xxhash64("id", "text").cast("decimal(38,0)"))
    r = docs.agg(F.count("*").alias("documents"), F.countDistinct("id").alias("ids"),
                 F.sum(F.length("text")).alias("chars"), fingerprint.alias("fingerprint")).collect()[0]
    return {"documents": r["documents"], "distinct_ids": r["ids"], "chars": r["chars"] or 0,
            "fingerprint": format(int(r["fingerprint"] or 0) % 2**64, "016x")}


def check_documents(source: ReferenceSource, summary: dict):
    where = f"source {source.name} ({source.format} {source.path})"
    if summary["documents"] == 0:
        raise ImportSourceError(f"{where} yielded no document")
    if summary["distinct_ids"] != summary["documents"]:  # mixtures and dedup key on ids
        raise ImportSourceError(f"{where}: {summary['documents'] - summary['distinct_ids']} documents repeat an id "
                                "(files under one source name share key spaces: give each file its own source)")


def import_source(spark, source: ReferenceSource, ingest_cfg: IngestConfig, output: str) -> dict:
    """Write <output>/<name>/documents and stats.json atomically; return the stats."""
    started = time.time()
    files = [] if source.format == "parquet" else imports.source_files(source)
    with AtomicOutput(spark, f"{output.rstrip('/')}/{source.name}", marker=STATS) as out:
        rows = loaded_rows(spark, source, ingest_cfg).persist(StorageLevel.MEMORY_AND_DISK)
        rows.filter(F.col("reason").isNull()).select(
            "id", F.lit(source.name).alias("source"), "text").write.parquet(out.path(DOCUMENTS))
        summary = documents_summary(spark.read.parquet(out.path(DOCUMENTS)))  # counts from what was written
        check_documents(source, summary)
        stats = source_stats(source, summary, per_file(rows, files), ingest_cfg, time.time() - started)
        out.write_text(STATS, json.dumps(stats, indent=2) + "\n")
    rows.unpersist()
    return stats


def source_stats(source: ReferenceSource, summary: dict, by_file: list[dict], ingest_cfg: IngestConfig,
                 seconds: float) -> dict:
    """stats.json: what was read, what was written, and with which code and ingest config."""
    dropped = Counter()
    for entry in by_file:
        dropped.update(entry["dropped"])
    return {"name": source.name, "format": source.format, "path": source.path, "files": len(by_file), **summary,
            "dropped": dict(sorted(dropped.items())), "by_file": by_file,
            "ingest": to_dict(ingest_cfg) if source.format == "warc" else None,
            "seconds": round(seconds, 1), "code_version": code_version()}


def import_sources(spark, sources, ingest_cfg: IngestConfig, output: str) -> list[dict]:
    """Import each source in turn; a failing source stops the run, earlier ones stay written."""
    return [import_source(spark, source, ingest_cfg, output) for source in sources]


def imported_documents(spark, sources):
    """(id, source, text) of Parquet sources, `source` being each one's configured name."""
    frames = [spark.read.parquet(s.path).select("id", F.lit(s.name).alias("source"), "text") for s in sources]
    return reduce(lambda a, b: a.unionByName(b), frames)


def import_job(spark, cfg) -> list[dict]:
    """jobs/import_reference.py: every source of an `ImportConfig` into OUTPUT/NAME/."""
    return import_sources(spark, cfg.sources, cfg.ingest, cfg.output)
