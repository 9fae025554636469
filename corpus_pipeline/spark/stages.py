"""Corpus-level stage outputs: each stage writes its documents, its drops and its record.

A corpus-level stage (select, dedup, repeated lines, decontamination) reads the documents
its predecessor wrote and writes `<store>/<stage>/`:
  documents/      the documents it passes on (Parquet)
  dropped/        the documents it dropped, with `reason` and `detail`
  <extra>/        anything else it produces (decontamination's removed spans)
  _STAGE.json     its fingerprint, report, row counts and schemas, written last
The fingerprint chains the predecessor's with the stage's own settings, so a re-run with
the same fingerprint reuses the folder and a changed setting re-runs that stage and every
stage after it. Each folder is replaced atomically (`output.AtomicOutput`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version
from .output import AtomicOutput, hadoop_fs, read_json
from .shards import digest, utc

STAGE_FILE = "_STAGE.json"


@dataclass
class StageResult:
    documents: object  # DataFrame passed on
    dropped: object | None  # DataFrame of drops with reason and detail, or None
    report: dict | None = None
    extras: dict = field(default_factory=dict)  # name -> DataFrame

    @staticmethod
    def split(decided, report: dict | None = None, extras: dict | None = None) -> "StageResult":
        """Documents and drops of a frame whose `reason` is null for what passes."""
        # It feeds two writes. On disk only: its rows hold whole texts, and caching a crawl's
        # documents in the heap ran a 1 GB executor out of memory.
        decided = decided.persist(StorageLevel.DISK_ONLY)
        return StageResult(decided.filter(F.col("reason").isNull()), decided.filter(F.col("reason").isNotNull()),
                           report, extras or {})


def stage_fingerprint(previous: str, settings: dict) -> str:
    return digest({"previous": previous, "settings": settings})


class StageFolder:
    """A stage's committed output in the store."""

    def __init__(self, spark, root: str, name: str):
        self.spark, self.name, self.path = spark, name, f"{root.rstrip('/')}/{name}"
        self._fs, self._Path = hadoop_fs(spark, self.path)

    def record(self) -> dict | None:
        return read_json(self._fs, self._Path, f"{self.path}/{STAGE_FILE}")

    def read(self, part: str):
        """`documents`, `dropped` or an extra, with the schema it was written with (a part
        with no row has no Parquet file to infer one from)."""
        schema = self.record()["schemas"].get(part)
        if schema is None:
            return None
        return self.spark.read.schema(T.StructType.fromJson(json.loads(schema))).parquet(f"{self.path}/{part}")


def run_stage(folder: StageFolder, fingerprint: str, compute: Callable[[], StageResult], resume: bool) -> dict:
    """Reuse the folder when it was made with this fingerprint, else compute and commit it;
    return its record with `status` ran or reused."""
    found = folder.record()
    if resume and found and found["fingerprint"] == fingerprint:
        return dict(found, status="reused")
    started = time.time()
    with AtomicOutput(folder.spark, folder.path, marker=STAGE_FILE) as out:
        result = compute()
        parts = {"documents": result.documents, "dropped": result.dropped, **result.extras}
        schemas, counts = {}, {}
        for name, frame in parts.items():
            if frame is None:
                continue
            frame.write.parquet(out.path(name))
            schemas[name] = frame.schema.json()
            counts[name] = folder.spark.read.schema(frame.schema).parquet(out.path(name)).count()
        record = {"stage": folder.name, "fingerprint": fingerprint, "rows": counts, "report": result.report,
                  "schemas": schemas, "code_version": code_version(), "finished_at": utc(time.time()),
                  "seconds": round(time.time() - started, 1)}
        out.write_text(STAGE_FILE, json.dumps(record, indent=2) + "\n")
    folder.spark.catalog.clearCache()
    return dict(record, status="ran")
