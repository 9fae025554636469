"""The ingest stage on Spark: input files -> one row per record, per-file shards.

Consumes archive files (WARC/WET/ARC); produces, per input file, a shard of the stage store
(`shards.py`) holding every record's `ingest.Outcome`: kept documents (reason null, with
text and language) and dropped records with their reason. One Spark task per file; a file
is extracted once and its shard reused by every later run with the same ingest settings.

The records leave the Python workers as Arrow batches (`mapInArrow`), not as pickled rows:
the row-by-row conversion into JVM rows cost more CPU than reading and extracting the pages.
"""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql import types as T

from .. import config, ingest
from .progress import ProgressReporter
from .shards import SHARD_COLUMN, ShardStore, shard_key

_TYPES = {"offset": T.LongType(), "http_status": T.IntegerType(), "payload_bytes": T.LongType(),
          "text_chars": T.IntegerType(), "lang_score": T.DoubleType()}
OUTCOME_SCHEMA = T.StructType(
    [T.StructField(name, _TYPES.get(name, T.StringType()), True) for name in ingest.OUTCOME_FIELDS]
)
_ARROW_TYPES = {"offset": pa.int64(), "http_status": pa.int32(), "payload_bytes": pa.int64(),
                "text_chars": pa.int32(), "lang_score": pa.float64()}
_KEYED_ARROW_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES.get(name, pa.string())) for name in ingest.OUTCOME_FIELDS]
                                + [pa.field(SHARD_COLUMN, pa.string())])
_ROWS_PER_BATCH = 512  # bounds a worker's memory: a batch holds at most this many page texts


def outcome_batches(path: str, cfg: config.IngestConfig):
    """Arrow batches of every outcome of one file, each row tagged with the file's shard key."""
    key, rows = shard_key(path), []
    for outcome in ingest.process_file(path, cfg):
        rows.append(outcome.as_tuple() + (key,))
        if len(rows) == _ROWS_PER_BATCH:
            yield _batch(rows)
            rows = []
    if rows:
        yield _batch(rows)


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    columns = list(zip(*rows))
    return pa.RecordBatch.from_arrays([pa.array(column, type=field.type)
                                       for column, field in zip(columns, _KEYED_ARROW_SCHEMA)],
                                      schema=_KEYED_ARROW_SCHEMA)


def outcomes_frame(spark, files: list[str], cfg: config.IngestConfig):
    """One row per record of every file, with its shard key; one Spark task per file. Tasks get
    the file's index, not its name: a name that is not UTF-8 would not survive a JVM string."""
    def extract(batches):
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from outcome_batches(files[index], cfg)

    keyed = T.StructType(OUTCOME_SCHEMA.fields + [T.StructField(SHARD_COLUMN, T.StringType(), False)])
    return spark.range(len(files), numPartitions=max(len(files), 1)).mapInArrow(extract, keyed)


def ingest_files(spark, files: list[str], identities: dict[str, str], cfg: config.IngestConfig, store: ShardStore,
                 batch_size: int, progress: ProgressReporter) -> list[dict]:
    """Extract `files` batch by batch into their shards; return the markers committed."""
    committed = []
    for batch in (files[i:i + batch_size] for i in range(0, len(files), batch_size)):
        markers = store.commit_batch(outcomes_frame(spark, batch, cfg), batch, identities)
        progress.files_done(len(markers), sum(marker["records"] for marker in markers))
        committed += markers
    return committed
