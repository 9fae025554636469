"""Per-input-file outputs of the record-level stages (ingest, tag), committed one by one.

Ingest and tagging depend on one input file at a time, so each keeps its rows per input
file ("shard") in `<store>/<stage>/<key>/` (Parquet), and a shard counts as done only once
its marker `<key>/_COMMITTED.json` exists. The marker is written after the data is in
place, so a run killed at any moment leaves each shard either committed or redone by the
next run, never half-counted. The marker holds the shard's outcome counts and the
fingerprint of what produced it: a shard made with other settings is redone, not reused.

Files whose names start with `_` are invisible to Spark's Parquet reader, so the marker
never shows up as data.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import uuid

from pyspark.sql import functions as F

from .. import __version__, boilerplate, config, inputs
from ..ingest import short_hash
from .output import hadoop_fs, read_json, write_file

MARKER = "_COMMITTED.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
PARTIAL_MARKER = "_COMMITTING.json"
STAGING = "staging-"  # a batch's rows before they are committed shard by shard
SHARD_COLUMN = "shard"  # the shard key of a row's input file, while a batch is staged


def shard_key(path: str) -> str:
    """A stable folder name for an input file: the same file is the same shard in every run.
    Only letters, digits, `.`, `_` and `-` of the file name are kept: Spark escapes others in
    the partition folders a batch is staged in (`=`, `:`, `%`, ...), and a name that is not
    UTF-8 has no text form; the hash of the whole path keeps keys apart."""
    path = inputs.printable(path)
    name = _UNSAFE.sub("_", path.rstrip("/").rsplit("/", 1)[-1])
    return f"{name[:60]}-{short_hash(path)[:12]}"


def digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def ingest_fingerprint(cfg: config.IngestConfig) -> str:
    """What an ingest shard depends on besides its file: ingest settings, the block extractor's
    weights (retrained without a code change) and the package version (a git commit would
    redo every shard at each edit in a checkout)."""
    return digest({"ingest": config.to_dict(cfg), "block_model": boilerplate.shipped_model_digest(),
                   "version": __version__})


def tag_fingerprint(ingest: str, model_version: str | None, seed: int) -> str:
    """What a tag shard depends on: its ingest shard, the quality model and the draw's seed."""
    return digest({"ingest": ingest, "model_version": model_version, "seed": seed if model_version else None,
                   "version": __version__})


class ShardStore:
    def __init__(self, spark, root: str, stage_fingerprint: str):
        self.spark, self.root, self.fingerprint = spark, root.rstrip("/"), stage_fingerprint
        self._fs, self._Path = hadoop_fs(spark, self.root)

    def remove_staging(self):
        """Staging folders left by a killed run: their shards were never committed, so they go."""
        for status in self._fs.globStatus(self._Path(f"{self.root}/{STAGING}*")) or []:
            self._fs.delete(status.getPath(), True)

    def path(self, input_path: str) -> str:
        return f"{self.root}/{shard_key(input_path)}"

    def marker(self, input_path: str, identity: str) -> dict | None:
        """The marker of a committed shard made with this store's settings from this version of
        the file (`inputs.identity`), else None."""
        found = read_json(self._fs, self._Path, f"{self.path(input_path)}/{MARKER}")
        if found and found.get("fingerprint") == self.fingerprint and found.get("identity") == identity:
            return found
        return None

    def read(self, files: list[str], schema):
        """The rows of the committed shards of `files` (a shard may hold no row at all)."""
        return self.spark.read.schema(schema).parquet(*[self.path(path) for path in files])

    def commit_batch(self, rows, files: list[str], identities: dict[str, str]) -> list[dict]:
        """Write the rows of `files` (a frame with a `shard` column: `shard_key` of the row's
        input file) and commit each file's shard, its marker naming the file's identity."""
        staging = f"{self.root}/{STAGING}{uuid.uuid4().hex[:12]}"
        rows.write.partitionBy(SHARD_COLUMN).parquet(staging)
        written = self._fs.globStatus(self._Path(f"{staging}/{SHARD_COLUMN}=*"))
        counts = shard_counts(self.spark.read.parquet(staging)) if written else {}
        markers = [self._commit_one(staging, path, identities[path], counts.get(shard_key(path), {}))
                   for path in files]
        self._fs.delete(self._Path(staging), True)
        return markers

    def _commit_one(self, staging: str, input_path: str, identity: str, by_reason: dict) -> dict:
        final = self._Path(self.path(input_path))
        if self._fs.exists(final):  # a stale or half-committed shard from an earlier run
            self._fs.delete(final, True)
        self._fs.mkdirs(final.getParent())
        staged = self._Path(f"{staging}/{SHARD_COLUMN}={shard_key(input_path)}")
        if not self._fs.exists(staged):  # no row for this file (a tag shard of a file with no document)
            self._fs.mkdirs(final)
        elif not self._fs.rename(staged, final):
            raise RuntimeError(f"could not commit shard {final}")
        marker = {"input": input_path, "identity": identity, "fingerprint": self.fingerprint,
                  "records": sum(by_reason.values()),
                  "outcomes": by_reason, "committed_at": utc(time.time())}
        self._write_marker(self.path(input_path), marker)
        return marker

    def _write_marker(self, shard: str, marker: dict):
        """Written beside the marker's name, then renamed: a driver killed mid-write leaves only
        the temporary file (hidden from Spark by its `_`), never a marker cut short."""
        partial = f"{shard}/{PARTIAL_MARKER}"
        write_file(self._fs, self._Path, partial, json.dumps(marker).encode())
        if not self._fs.rename(self._Path(partial), self._Path(f"{shard}/{MARKER}")):
            raise RuntimeError(f"could not write the marker of shard {shard}")


def keyed_by_source(spark, rows, files: list[str]):
    """`rows` of `files` with the `shard` column, from their `source` (the printable form of the
    input file's path, of which `shard_key` is a function): a broadcast join, not a Python UDF."""
    keys = spark.createDataFrame([(inputs.printable(path), shard_key(path)) for path in files],
                                 f"source string, {SHARD_COLUMN} string")
    return rows.join(F.broadcast(keys), "source")


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def shard_counts(staged) -> dict[str, dict[str, int]]:
    """{shard key: {reason or "kept": rows}} read back from the written data."""
    counts: dict[str, dict[str, int]] = {}
    for row in staged.groupBy(SHARD_COLUMN, "reason").count().collect():
        counts.setdefault(row[SHARD_COLUMN], {})[row["reason"] or "kept"] = row["count"]
    return counts
