"""The select stage on Spark: tagged documents -> the documents the decisions keep.

Consumes the tag shards of every input file of the run; produces the documents that pass
and those dropped with their reason: `duplicate_record` for a second copy of a record
(the same id in two input files, e.g. one file under two paths, or a .warc beside its
.warc.gz: the copy at the smallest (source, offset) stays, named in `detail`), so that
every later stage sees each id once; `quality` for the Pareto rule of GPT-3 Appendix A
(keep when quality_u < (2 - quality_score)^-alpha; `detail` is the score), then
`gopher_quality`, `gopher_repetition` or `c4` for the first enabled rule family a
document fails (`rules.first_failure`; `detail` names the rule). Only decisions live
here, so changing alpha or a rule re-runs this stage and what follows, never extraction
or scoring. The rule measurements stay in the tag shards; what select passes on drops them.
"""
from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import config, rules
from .stages import StageResult

FAILURE = T.StructType([T.StructField("reason", T.StringType()), T.StructField("detail", T.StringType())])


def pareto_keeps(alpha: float):
    return F.col("quality_u") < F.pow(2.0 - F.col("quality_score"), -alpha)


def rule_failure(cfg: config.RulesConfig):
    """A (reason, detail) struct column: the first enabled rule family the document fails."""
    names = list(rules.TAG_NAMES)
    decide = F.udf(lambda *values: rules.first_failure(dict(zip(names, values)), cfg), FAILURE)
    return decide(*names)


def rules_on(cfg: config.RulesConfig) -> bool:
    return cfg.gopher_quality or cfg.gopher_repetition or cfg.c4


def later_copies(tagged):
    """(id, first: the (source, offset) of its first copy) for ids that several rows hold.
    Only keys travel: ids held twice are rare, so the result is small enough to broadcast."""
    keys = tagged.select("id", F.struct("source", "offset").alias("at"))
    return (keys.groupBy("id").agg(F.count("*").alias("copies"), F.min("at").alias("first"))
            .filter(F.col("copies") > 1).drop("copies"))


def drop_later_copies(tagged):
    """`tagged` with reason `duplicate_record` on every copy of an id but its first."""
    marked = tagged.join(F.broadcast(later_copies(tagged)), "id", "left")
    later = F.col("first").isNotNull() & ((F.col("source") != F.col("first.source"))
                                          | (F.col("offset") != F.col("first.offset")))
    return (marked.withColumn("reason", F.when(later, F.lit("duplicate_record")))
            .withColumn("detail", F.when(later, F.concat_ws(" @ ", "first.source", "first.offset")))
            .drop("first"))


def select_documents(tagged, cfg: config.FilterConfig) -> StageResult:
    """Split tagged documents: later copies of a record, then the Pareto rule, then the
    enabled rule families (without a model and a rule, only copies are dropped)."""
    decided = drop_later_copies(tagged)
    if cfg.quality.model:
        rejected = F.col("reason").isNull() & ~pareto_keeps(cfg.quality.alpha)
        decided = (decided.withColumn("detail", F.when(rejected, F.format_number("quality_score", 4))
                                      .otherwise(F.col("detail")))
                   .withColumn("reason", F.when(rejected, F.lit("quality")).otherwise(F.col("reason"))))
    if rules_on(cfg.rules):
        failed = F.when(F.col("reason").isNull(), rule_failure(cfg.rules))
        decided = (decided.withColumn("failure", failed)
                   .withColumn("reason", F.coalesce("reason", "failure.reason"))
                   .withColumn("detail", F.coalesce("detail", "failure.detail")).drop("failure"))
    return StageResult.split(decided.drop(*rules.TAG_NAMES))
