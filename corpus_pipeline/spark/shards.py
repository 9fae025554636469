"""The shard store: per-input-file results of the record-level stages, committed one by one.

Ingest, quality scoring and the Pareto draw depend on one input file at a time, so their
rows are kept per input file ("shard") in `<store>/<key>/` (Parquet) and a shard counts as
done only once its marker `<store>/<key>/_COMMITTED.json` exists. The marker is written
after the data is in place, so a run killed at any moment leaves each shard either
committed or redone by the next run, never half-counted. The marker holds the shard's
outcome counts and the fingerprint of the settings that produced it: a shard made with
another ingest or quality setting is redone, not reused.

Files whose names start with `_` are invisible to Spark's Parquet reader, so the marker
never shows up as data.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid

from pyspark.sql import functions as F

from .. import __version__, boilerplate, config
from ..ingest import short_hash
from .output import hadoop_fs, write_file

MARKER = "_COMMITTED.json"
PARTIAL_MARKER = "_COMMITTING.json"
STAGING = "staging-"  # a batch's rows before they are committed shard by shard


def shard_key(path: str) -> str:
    """A stable folder name for an input file: the same file is the same shard in every run."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return f"{name[:60]}-{short_hash(path)[:12]}"


def fingerprint(cfg: config.FilterConfig, model_version: str | None) -> str:
    """What a shard's rows depend on besides its file: ingest settings, the block extractor's
    weights (retrained without a code change), the quality model and its draw, and the package
    version (a git commit would redo every shard at each edit in a checkout)."""
    settings = {"ingest": config.to_dict(cfg.ingest), "block_model": boilerplate.shipped_model_digest(),
                "model_version": model_version,
                "alpha": cfg.quality.alpha if model_version else None,
                "seed": cfg.quality.seed if model_version else None, "version": __version__}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


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

    def marker(self, input_path: str) -> dict | None:
        """The marker of a committed shard made with this store's settings, else None."""
        marker = self._Path(f"{self.path(input_path)}/{MARKER}")
        if not self._fs.exists(marker):
            return None
        stream = self._fs.open(marker)
        try:
            found = json.loads(bytes(stream.readAllBytes()))
        except ValueError:  # cut short on a store without atomic rename (S3): redo the shard
            return None
        finally:
            stream.close()
        return found if found.get("fingerprint") == self.fingerprint else None

    def commit_batch(self, rows, files: list[str]) -> list[dict]:
        """Write the rows of `files` (a frame with a `source` column) and commit each file's shard."""
        staging = f"{self.root}/{STAGING}{uuid.uuid4().hex[:12]}"
        keyed = rows.withColumn("shard", F.udf(lambda path: shard_key(path))(F.col("source")))
        keyed.write.partitionBy("shard").parquet(staging)
        counts = shard_counts(self.spark.read.parquet(staging))
        markers = [self._commit_one(staging, path, counts.get(shard_key(path), {})) for path in files]
        self._fs.delete(self._Path(staging), True)
        return markers

    def _commit_one(self, staging: str, input_path: str, by_reason: dict) -> dict:
        final = self._Path(self.path(input_path))
        if self._fs.exists(final):  # a stale or half-committed shard from an earlier run
            self._fs.delete(final, True)
        self._fs.mkdirs(final.getParent())
        if not self._fs.rename(self._Path(f"{staging}/shard={shard_key(input_path)}"), final):
            raise RuntimeError(f"could not commit shard {final}")
        marker = {"input": input_path, "fingerprint": self.fingerprint, "records": sum(by_reason.values()),
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


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def shard_counts(staged) -> dict[str, dict[str, int]]:
    """{shard key: {reason or "kept": rows}} read back from the written data."""
    counts: dict[str, dict[str, int]] = {}
    for row in staged.groupBy("shard", "reason").count().collect():
        counts.setdefault(row["shard"], {})[row["reason"] or "kept"] = row["count"]
    return counts
