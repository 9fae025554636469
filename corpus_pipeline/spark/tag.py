"""The tag stage on Spark: ingested documents -> the same documents with every per-document signal.

Consumes the committed ingest shards of a batch of input files and keeps their documents
(reason null); produces, per input file, a tag shard with those documents and their tag
columns: `quality_score` (the classifier of GPT-3 Appendix A, from `quality.model`),
`quality_u` (the document's uniform draw for the Pareto rule: a hash of seed and id), and
the Gopher and C4 measurements of `rules.TAG_COLUMNS`.
Tags are measurements, never decisions: the select stage decides from them, so another
alpha or threshold re-runs select only, and a new model re-runs this stage, not ingest
(the shape of dolma's taggers and mixer).
"""
from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import config, quality, rules
from .ingest import OUTCOME_SCHEMA
from .quality import SPARK_MODEL, score_column
from .shards import SHARD_COLUMN, ShardStore, keyed_by_source

QUALITY_COLUMNS = ["quality_score", "quality_u"]
_KINDS = {"int": T.IntegerType(), "double": T.DoubleType(), "boolean": T.BooleanType()}
RULE_SCHEMA = T.StructType([T.StructField(name, _KINDS[kind], True) for name, kind in rules.TAG_COLUMNS])
TAG_SCHEMA = T.StructType(OUTCOME_SCHEMA.fields + [T.StructField(c, T.DoubleType(), True) for c in QUALITY_COLUMNS]
                          + RULE_SCHEMA.fields)
_MODEL_COLUMNS = ("words", "counts", "features", "rawPrediction", "probability", "prediction")


def quality_tags(docs, cfg: config.QualityConfig, model: PipelineModel | None):
    """`docs` with quality_score and quality_u (both null without a model)."""
    if model is None:
        return docs.select("*", *[F.lit(None).cast("double").alias(c) for c in QUALITY_COLUMNS])
    scored = score_column(model.transform(docs), "quality_score").drop(*_MODEL_COLUMNS)
    seed = cfg.seed
    draw = F.udf(lambda doc_id: quality.pareto_draw(seed, doc_id), T.DoubleType())
    return scored.withColumn("quality_u", draw("id"))


def rule_tags(docs):
    """`docs` with the Gopher and C4 rule measurements of `rules.TAG_COLUMNS`."""
    measure = F.udf(lambda text: rules.tag(text or ""), RULE_SCHEMA)
    return docs.withColumn("rule_tags", measure("text")).select("*", "rule_tags.*").drop("rule_tags")


def load_model(cfg: config.QualityConfig) -> PipelineModel | None:
    return PipelineModel.load(f"{cfg.model}/{SPARK_MODEL}") if cfg.model else None


def tag_files(spark, files: list[str], identities: dict[str, str], cfg: config.QualityConfig, ingested: ShardStore,
              store: ShardStore, batch_size: int) -> list[dict]:
    """Tag the documents of `files` (their ingest shards) batch by batch into tag shards."""
    model = load_model(cfg) if files else None
    committed = []
    for batch in (files[i:i + batch_size] for i in range(0, len(files), batch_size)):
        docs = ingested.read(batch, OUTCOME_SCHEMA).filter(F.col("reason").isNull())
        tagged = rule_tags(quality_tags(docs, cfg, model))
        keyed = keyed_by_source(spark, tagged.select(TAG_SCHEMA.fieldNames()), batch)
        committed += store.commit_batch(keyed.select(*TAG_SCHEMA.fieldNames(), SHARD_COLUMN), batch, identities)
    return committed
