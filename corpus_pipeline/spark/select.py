"""The select stage on Spark: tagged documents -> the documents the decisions keep.

Consumes the tag shards of every input file of the run; produces the documents that pass
and those dropped with their reason: `quality` for the Pareto rule of GPT-3 Appendix A
(keep when quality_u < (2 - quality_score)^-alpha; `detail` is the score). Only
decisions live here, so changing alpha re-runs this stage and what follows, never
extraction or scoring.
"""
from __future__ import annotations

from pyspark.sql import functions as F

from .. import config
from .stages import StageResult


def pareto_keeps(alpha: float):
    return F.col("quality_u") < F.pow(2.0 - F.col("quality_score"), -alpha)


def select_documents(tagged, cfg: config.FilterConfig) -> StageResult:
    """Split tagged documents by the Pareto rule (everything passes without a model)."""
    if not cfg.quality.model:
        return StageResult(tagged, None)
    decided = (tagged.withColumn("reason", F.when(~pareto_keeps(cfg.quality.alpha), F.lit("quality")))
               .withColumn("detail", F.when(F.col("reason").isNotNull(), F.format_number("quality_score", 4))))
    return StageResult.split(decided)
