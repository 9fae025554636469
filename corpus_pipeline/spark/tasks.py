"""Python work as Spark tasks: one task per item, rows handed to Spark as Arrow batches.

Reading an input file (ingest, reference imports, benchmark files) is Python work with one
item per task. Its rows leave the Python worker as Arrow batches (`mapInArrow`): converting
pickled rows into JVM rows one by one cost more CPU than extracting the pages themselves.
Tasks are given the item's index, not the item: a file name that is not UTF-8 would not
survive the trip through a JVM string.
"""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

ROWS_PER_BATCH = 512  # bounds a worker's memory: a batch holds at most this many texts


def rows_frame(spark, items: list, rows_of, schema: T.StructType):
    """A frame of every tuple `rows_of(item)` yields (in `schema`'s column order), one Spark
    task per item, in item order."""
    arrow_schema = to_arrow_schema(schema)

    def run(batches):
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from arrow_batches(rows_of(items[index]), arrow_schema)

    return spark.range(len(items), numPartitions=max(len(items), 1)).mapInArrow(run, schema)


def arrow_batches(rows, schema: pa.Schema):
    """Record batches of at most ROWS_PER_BATCH rows."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == ROWS_PER_BATCH:
            yield _batch(chunk, schema)
            chunk = []
    if chunk:
        yield _batch(chunk, schema)


def _batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = zip(*rows)
    return pa.RecordBatch.from_arrays([pa.array(column, type=field.type) for column, field in zip(columns, schema)],
                                      schema=schema)
