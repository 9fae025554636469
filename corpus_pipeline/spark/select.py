"""The select stage on Spark: tagged documents -> the documents the decisions keep.

Consumes the tag shards of every input file of the run; produces the documents that pass
and those dropped with their reason: `quality` for the Pareto rule of GPT-3 Appendix A
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


def select_documents(tagged, cfg: config.FilterConfig) -> StageResult:
    """Split tagged documents by the Pareto rule, then by the enabled rule families
    (everything passes without a model and without a rule)."""
    if not (cfg.quality.model or rules_on(cfg.rules)):
        return StageResult(tagged.drop(*rules.TAG_NAMES), None)
    decided = tagged
    if cfg.quality.model:
        decided = (decided.withColumn("reason", F.when(~pareto_keeps(cfg.quality.alpha), F.lit("quality")))
                   .withColumn("detail", F.when(F.col("reason").isNotNull(), F.format_number("quality_score", 4))))
    if rules_on(cfg.rules):
        failed = F.when(F.col("reason").isNull(), rule_failure(cfg.rules))
        decided = (decided.withColumn("failure", failed)
                   .withColumn("reason", F.coalesce("reason", "failure.reason"))
                   .withColumn("detail", F.coalesce("detail", "failure.detail")).drop("failure"))
    return StageResult.split(decided.drop(*rules.TAG_NAMES))
