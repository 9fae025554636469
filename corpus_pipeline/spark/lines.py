"""Repeated-line removal on Spark: `corpus_pipeline.lines` over all documents of a run.

Consumes documents (`id`, `text`, `text_chars`); produces them with the lines that another
document keeps removed, `repeated_lines_removed` and `repeated_chars_removed`, and
`lines_reason` = `repeated_lines` for a document left shorter than `min_chars`.

Only line keys travel: each line becomes (96-bit hash of its text, document id, position),
the smallest id per hash is its keeper, and each document gets back the positions it loses.
So the cost is one shuffle of 20-odd bytes a line, and no Python runs per line. At 96 bits,
two different lines share a key with odd ~1e-9 in a corpus of ten billion lines.
"""
from __future__ import annotations

from pyspark.sql import functions as F

REPEATED_LINES = "repeated_lines"
COLUMNS = ["repeated_lines_removed", "repeated_chars_removed"]


def line_keys(docs):
    lines = docs.select("id", F.posexplode(F.split("text", "\n")).alias("pos", "line"))
    return lines.select("id", "pos", F.xxhash64("line").alias("h"), F.hash("line").alias("h2"))


def removed_positions(docs):
    """(id, positions of its lines that another document keeps), for documents that lose any."""
    keys = line_keys(docs)
    keepers = keys.groupBy("h", "h2").agg(F.min("id").alias("keeper"))
    return (keys.join(keepers, ["h", "h2"]).filter(F.col("id") != F.col("keeper"))
            .groupBy("id").agg(F.collect_list("pos").alias("removed")))


def remove_repeated_lines(docs, min_chars: int):
    """`docs` with repeated lines removed, the two COLUMNS, and `lines_reason`."""
    joined = docs.join(removed_positions(docs), "id", "left")
    changed = F.col("removed").isNotNull()
    kept = F.array_join(F.filter(F.split("text", "\n"), lambda _, i: ~F.array_contains("removed", i)), "\n")
    return (joined
            .withColumn("repeated_lines_removed", F.when(changed, F.size("removed")).otherwise(0))
            .withColumn("kept", F.when(changed, kept).otherwise(F.col("text")))
            .withColumn("repeated_chars_removed", F.length("text") - F.length("kept"))
            .withColumn("text", F.col("kept"))
            .withColumn("text_chars", F.length("text"))
            .withColumn("lines_reason", F.when(F.col("text_chars") < min_chars, F.lit(REPEATED_LINES)))
            .drop("removed", "kept"))


def report(documents, dropped) -> dict:
    """What the stage removed, read back from the written output: from kept documents, and
    from those it dropped."""
    touched = documents.select(*COLUMNS).unionByName(
        dropped.filter(F.col("reason") == REPEATED_LINES).select(*COLUMNS))
    row = touched.agg(F.count(F.when(F.col(COLUMNS[0]) > 0, 1)).alias("documents_changed"),
                      F.coalesce(F.sum(COLUMNS[0]), F.lit(0)).alias("lines_removed"),
                      F.coalesce(F.sum(COLUMNS[1]), F.lit(0)).alias("chars_removed")).first()
    return row.asDict()


def lines_stage(docs, min_chars: int):
    """The filter's repeated-line stage: texts cut; `repeated_lines` for one left too short."""
    from .stages import StageResult

    tagged = remove_repeated_lines(docs, min_chars)
    decided = (tagged.withColumn("reason", F.col("lines_reason"))
               .withColumn("detail", F.when(F.col("lines_reason").isNotNull(),
                                            F.format_string("%d lines removed", F.col("repeated_lines_removed"))))
               .drop("lines_reason"))
    return StageResult.split(decided)
