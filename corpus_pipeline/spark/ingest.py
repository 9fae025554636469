"""The ingest stage on Spark: input files -> one row per record, per-file shards.

Consumes archive files (WARC/WET/ARC); produces, per input file, a shard of the stage store
(`shards.py`) holding every record's `ingest.Outcome`: kept documents (reason null, with
text and language) and dropped records with their reason. One Spark task per file, its
rows handed over as Arrow batches (`tasks.py`); a file is extracted once and its shard
reused by every later run with the same ingest settings.
"""
from __future__ import annotations

from pyspark.sql import types as T

from .. import config, ingest
from .progress import ProgressReporter
from .shards import SHARD_COLUMN, ShardStore, shard_key
from .tasks import rows_frame

_TYPES = {"offset": T.LongType(), "http_status": T.IntegerType(), "payload_bytes": T.LongType(),
          "text_chars": T.IntegerType(), "lang_score": T.DoubleType()}
OUTCOME_SCHEMA = T.StructType(
    [T.StructField(name, _TYPES.get(name, T.StringType()), True) for name in ingest.OUTCOME_FIELDS]
)
KEYED_SCHEMA = T.StructType(OUTCOME_SCHEMA.fields + [T.StructField(SHARD_COLUMN, T.StringType(), False)])


def keyed_outcomes(path: str, cfg: config.IngestConfig):
    """Every outcome of one file as a tuple, ending with the file's shard key."""
    key = shard_key(path)
    for outcome in ingest.process_file(path, cfg):
        yield outcome.as_tuple() + (key,)


def outcomes_frame(spark, files: list[str], cfg: config.IngestConfig):
    """One row per record of every file, with its shard key; one Spark task per file."""
    return rows_frame(spark, files, lambda path: keyed_outcomes(path, cfg), KEYED_SCHEMA)


def ingest_files(spark, files: list[str], identities: dict[str, str], cfg: config.IngestConfig, store: ShardStore,
                 batch_size: int, progress: ProgressReporter) -> list[dict]:
    """Extract `files` batch by batch into their shards; return the markers committed."""
    committed = []
    for batch in (files[i:i + batch_size] for i in range(0, len(files), batch_size)):
        markers = store.commit_batch(outcomes_frame(spark, batch, cfg), batch, identities)
        progress.files_done(len(markers), sum(marker["records"] for marker in markers))
        committed += markers
    return committed
