"""The ingest stage on Spark: input files -> one row per record, per-file shards.

Consumes archive files (WARC/WET/ARC); produces, per input file, a shard of the stage store
(`shards.py`) holding every record's `ingest.Outcome`: kept documents (reason null, with
text and language) and dropped records with their reason. One Spark task per file, or per
byte range of a large file (`ingest.split_ranges`; the ranges' outcomes together are the
file's), its rows handed over as Arrow batches (`tasks.py`). A file is extracted once and
its shard reused by every later run with the same ingest settings.
"""
from __future__ import annotations

from pyspark.sql import types as T

from .. import config, ingest, inputs
from .progress import ProgressReporter
from .shards import SHARD_COLUMN, ShardStore, shard_key
from .tasks import rows_frame

_TYPES = {"offset": T.LongType(), "http_status": T.IntegerType(), "payload_bytes": T.LongType(),
          "text_chars": T.IntegerType(), "lang_score": T.DoubleType()}
OUTCOME_SCHEMA = T.StructType(
    [T.StructField(name, _TYPES.get(name, T.StringType()), True) for name in ingest.OUTCOME_FIELDS]
)
KEYED_SCHEMA = T.StructType(OUTCOME_SCHEMA.fields + [T.StructField(SHARD_COLUMN, T.StringType(), False)])
MIN_AUTO_SPLIT = 64 << 20  # a range re-reads the records before it (docs/splitting.md): keep ranges large


def keyed_outcomes(path: str, start: int, end: int | None, cfg: config.IngestConfig):
    """Every outcome of one byte range of a file as a tuple, ending with the file's shard key."""
    key = shard_key(path)
    for outcome in ingest.process_file(path, cfg, start, end):
        yield outcome.as_tuple() + (key,)


def outcomes_frame(spark, ranges: list[tuple[str, int, int | None]], cfg: config.IngestConfig):
    """One row per record of every (file, start, end) range, with its shard key; a task per range."""
    return rows_frame(spark, ranges, lambda task: keyed_outcomes(*task, cfg), KEYED_SCHEMA)


def file_ranges(files: list[str], sizes: dict[str, int], cores: int, split_mb: int) -> list[tuple]:
    """(file, start, end) tasks: ranges of `split_mb`, or with split_mb 0, as many ranges as it
    takes for twice `cores` tasks (none under MIN_AUTO_SPLIT), or whole files when there are enough."""
    if split_mb:
        split = split_mb << 20
    else:
        per_file = -(-2 * cores // max(len(files), 1))
        split = max(MIN_AUTO_SPLIT, -(-max(sizes.values(), default=0) // per_file)) if per_file > 1 else 0
    return [(path, start, end) for path in files
            for start, end in (ingest.split_ranges(path, sizes[path], split) if split and sizes[path] else [(0, None)])]


def records_read(marker: dict) -> int:
    """Records of a committed shard, as the summary counts them: a file that yielded none
    has one row (file_missing, file_empty, ...) that is no record."""
    return sum(n for reason, n in marker["outcomes"].items() if reason not in ingest.FILE_REASONS)


def ingest_files(spark, files: list[str], identities: dict[str, str], cfg: config.FilterConfig, store: ShardStore,
                 batch_size: int, progress: ProgressReporter) -> list[dict]:
    """Extract `files` batch by batch into their shards; return the markers committed."""
    sizes = {path: inputs.size_of(identities[path]) for path in files}
    cores = spark.sparkContext.defaultParallelism
    committed = []
    for batch in (files[i:i + batch_size] for i in range(0, len(files), batch_size)):
        ranges = file_ranges(batch, sizes, cores, cfg.split_mb)
        markers = store.commit_batch(outcomes_frame(spark, ranges, cfg.ingest), batch, identities)
        progress.files_done(len(markers), sum(records_read(marker) for marker in markers))
        committed += markers
    return committed
