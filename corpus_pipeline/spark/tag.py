"""The tag stage on Spark: ingested documents -> the same documents with every per-document signal.

Consumes the committed ingest shards of a batch of input files and keeps their documents
(reason null); produces, per input file, a tag shard with those documents and their tag
columns: `quality_score` (the classifier of GPT-3 Appendix A, from `quality.model`),
`quality_u` (the document's uniform draw for the Pareto rule: a hash of seed and id), and
the Gopher and C4 measurements of `rules.TAG_COLUMNS`.
Tags are measurements, never decisions: the select stage decides from them, so another
alpha or threshold re-runs select only, and a new model re-runs this stage, not ingest
(the shape of dolma's taggers and mixer).

Every tag comes from one Python pass over Arrow batches (`mapInArrow`): each text crosses
to Python once, and the model is read once on the driver (`spark/quality.py: load_scorer`: files,
no Spark ML) and broadcast. The scores equal Spark ML's `PipelineModel.transform`
probabilities bit for bit, because the two steps where Python and the JVM can differ are
left to the JVM: Java's lower case of a non-ASCII text (String.toLowerCase, what Spark's
Tokenizer calls) and Java's Math.exp in the logistic function.
"""
from __future__ import annotations

from functools import partial

import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import config, quality, rules
from .ingest import OUTCOME_SCHEMA
from .quality import load_scorer
from .shards import SHARD_COLUMN, ShardStore, keyed_by_source

QUALITY_COLUMNS = ["quality_score", "quality_u"]
_KINDS = {"int": T.IntegerType(), "double": T.DoubleType(), "boolean": T.BooleanType()}
_ARROW_KINDS = {"int": pa.int32(), "double": pa.float64(), "boolean": pa.bool_()}
RULE_SCHEMA = T.StructType([T.StructField(name, _KINDS[kind], True) for name, kind in rules.TAG_COLUMNS])
TAG_SCHEMA = T.StructType(OUTCOME_SCHEMA.fields + [T.StructField(c, T.DoubleType(), True) for c in QUALITY_COLUMNS]
                          + RULE_SCHEMA.fields)
MARGIN, JAVA_LOWERED = "quality_margin", "java_lowered"
# Default locales whose String.toLowerCase() changes ASCII letters (I -> dotless i).
_ASCII_CHANGING_LOCALES = ("tr", "az")


def tag_documents(docs, seed: int, scorer, lower_every_text: bool = False):
    """`docs` (any columns with `id` and `text`) with quality_score, quality_u (both null
    without a scorer: a broadcast `quality.QualityModel`) and the rule tags."""
    if scorer is not None:
        docs = docs.withColumn(JAVA_LOWERED, java_lowered(F.col("text"), lower_every_text))
    passed = [f for f in docs.schema.fields if f.name != JAVA_LOWERED]
    measured_schema = T.StructType(passed + [T.StructField(MARGIN, T.DoubleType(), True),
                                             T.StructField("quality_u", T.DoubleType(), True)] + RULE_SCHEMA.fields)
    measure = partial(measured_batches, [f.name for f in passed], scorer, seed)
    measured = docs.mapInArrow(measure, measured_schema)
    return measured.withColumn("quality_score", spark_probability(F.col(MARGIN))).drop(MARGIN)


def java_lowered(text, every_text: bool):
    """The text as Java lower-cases it (what Spark ML's Tokenizer does), taken on the JVM
    only where Python's lower case could differ: non-ASCII texts (final sigma rules,
    Unicode versions), or every text under a Turkish default locale. Null elsewhere."""
    lower = F.reflect(F.lit("org.apache.commons.lang3.StringUtils"), F.lit("lowerCase"), text)
    return lower if every_text else F.when(F.length(text) != F.octet_length(text), lower)


def spark_probability(margin):
    """`quality.spark_probability` with Java's Math.exp, as Spark ML computes it (C's exp
    differs from it in the last bit for about one margin in 10,000)."""
    exp = F.reflect(F.lit("java.lang.Math"), F.lit("exp"), margin).cast("double")
    one = F.lit(1.0)
    return F.when(margin.isNotNull(), one - one / (one + exp))


def measured_batches(passed: list[str], scorer, seed: int, batches):
    """mapInArrow's function: each batch's `passed` columns unchanged, plus the margin, the
    draw and the rule tags of each row."""
    model = scorer.value if scorer is not None else None
    for batch in batches:
        yield measured_batch(batch, passed, model, seed)


def measured_batch(batch: pa.RecordBatch, passed: list[str], model: quality.QualityModel | None,
                   seed: int) -> pa.RecordBatch:
    texts = batch.column("text").to_pylist()
    margins = draws = [None] * len(texts)
    if model is not None:
        lowered = batch.column(JAVA_LOWERED).cast(pa.binary()).to_pylist()
        margins = [document_margin(model, text, java) for text, java in zip(texts, lowered)]
        draws = [quality.pareto_draw(seed, doc_id) for doc_id in batch.column("id").to_pylist()]
    tags = list(zip(*(rules.tag(text or "") for text in texts))) or [()] * len(rules.TAG_COLUMNS)
    arrays = [batch.column(name) for name in passed] + [pa.array(margins, pa.float64()), pa.array(draws, pa.float64())]
    arrays += [pa.array(values, _ARROW_KINDS[kind]) for values, (_, kind) in zip(tags, rules.TAG_COLUMNS)]
    names = passed + [MARGIN, "quality_u"] + list(rules.TAG_NAMES)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def document_margin(model: quality.QualityModel, text: str | None, java_lowered_text: bytes | None) -> float | None:
    """The model's margin for a text; an ASCII text is lower-cased here, as Java would."""
    if text is None:
        return None
    lowered = java_lowered_text if java_lowered_text is not None else quality.python_lowered(text)
    return model.margin_of_lowered(lowered)


def lowers_ascii(spark) -> bool:
    """Whether the JVM's default locale lower-cases ASCII letters otherwise than Python."""
    return spark._jvm.java.util.Locale.getDefault().getLanguage() in _ASCII_CHANGING_LOCALES


def broadcast_scorer(spark, cfg: config.QualityConfig):
    """The model of `cfg`, read once on the driver and broadcast to the workers (None without one)."""
    return spark.sparkContext.broadcast(load_scorer(spark, cfg.model)) if cfg.model else None


def tag_files(spark, files: list[str], identities: dict[str, str], cfg: config.QualityConfig, ingested: ShardStore,
              store: ShardStore, batch_size: int) -> list[dict]:
    """Tag the documents of `files` (their ingest shards) batch by batch into tag shards."""
    scorer = broadcast_scorer(spark, cfg) if files else None
    every_text = lowers_ascii(spark)
    committed = []
    for batch in (files[i:i + batch_size] for i in range(0, len(files), batch_size)):
        docs = ingested.read(batch, OUTCOME_SCHEMA).filter(F.col("reason").isNull())
        tagged = tag_documents(docs, cfg.seed, scorer, every_text)
        keyed = keyed_by_source(spark, tagged.select(TAG_SCHEMA.fieldNames()), batch)
        committed += store.commit_batch(keyed.select(*TAG_SCHEMA.fieldNames(), SHARD_COLUMN), batch, identities)
    return committed
