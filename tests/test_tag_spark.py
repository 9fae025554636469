"""The tag stage: one Python pass (mapInArrow) with the Spark-free scorer. Its tags equal
those of the Spark ML stage it replaced (PipelineModel.transform and two Python UDFs, kept
here as the reference), column for column and bit for bit, on real documents in many
languages and on texts chosen where Java and Python lower-case differently."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from corpus_pipeline import config, ingest, inputs, quality, rules
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.ingest import OUTCOME_SCHEMA
from corpus_pipeline.spark.quality import load_scorer, score_column
from corpus_pipeline.spark.shards import SHARD_COLUMN, ShardStore, keyed_by_source
from corpus_pipeline.spark.tag import RULE_SCHEMA, TAG_SCHEMA, broadcast_scorer, spark_probability, tag_documents

from .conftest import REPO, SAMPLE, UNICODE_TEXTS, shared_file

SHIPPED_MODEL = REPO / "models" / "quality"  # conf/filter.yaml's quality.model
COLUMNS = ["id", "text", "quality_score", "quality_u", *rules.TAG_NAMES]


def reference_tags(docs, cfg: config.QualityConfig):
    """The tag stage before the one-pass rewrite: Spark ML scores, then a UDF for the draw
    and one for the rule tags."""
    model = PipelineModel.load(f"{cfg.model}/spark_model")
    scored = score_column(model.transform(docs), "quality_score").drop(
        "words", "counts", "features", "rawPrediction", "probability", "prediction")
    seed = cfg.seed
    draw = F.udf(lambda doc_id: quality.pareto_draw(seed, doc_id), T.DoubleType())
    measure = F.udf(lambda text: rules.tag(text or ""), RULE_SCHEMA)
    scored = scored.withColumn("quality_u", draw("id"))
    return scored.withColumn("rule_tags", measure("text")).select("*", "rule_tags.*").drop("rule_tags")


def shared_warc_texts() -> list[str]:
    """The documents ingest keeps from the shared WARC/ARC/WET files (CC and non-CC)."""
    folders = [str(shared_file("warc/cc")), str(shared_file("warc/non_cc"))]
    return [o.text for f in inputs.expand(folders) for o in ingest.process_file(f, config.IngestConfig())
            if o.reason is None]


def sample_texts() -> list[str]:
    return [o.text for f in inputs.expand([str(SAMPLE)]) for o in ingest.process_file(f, config.IngestConfig())
            if o.reason is None]


def rows_by_id(frame) -> dict[str, tuple]:
    return {r.id: tuple(r) for r in frame.select(COLUMNS).collect()}


@pytest.fixture(scope="module")
def real_frame(spark, cc_texts, oscar_texts):
    """Every kind of text at hand, one frame: the sample's and the shared WARCs' documents,
    dolma's CC pages, OSCAR's 133 languages and the Unicode corner cases."""
    texts = sample_texts() + shared_warc_texts() + cc_texts + oscar_texts + UNICODE_TEXTS
    return spark.createDataFrame([(f"doc{i}", t) for i, t in enumerate(texts)], "id string, text string")


def test_scorer_read_from_the_saved_pipeline_equals_the_exported_weights(spark):
    scorer = load_scorer(spark, str(SHIPPED_MODEL))
    exported = quality.QualityModel.load(SHIPPED_MODEL)
    manifest = json.loads((SHIPPED_MODEL / quality.MANIFEST_FILE).read_text())
    assert scorer.version == exported.version == manifest["model_version"]
    assert np.array_equal(scorer.indices, exported.indices) and np.array_equal(scorer.weights, exported.weights)
    assert scorer.intercept == exported.intercept and scorer.normalize and not scorer.binary
    assert scorer.ngram == exported.ngram == manifest["features"]["ngram"] == 2
    assert scorer.num_features == manifest["features"]["num_features"] == 1 << 18


def test_load_scorer_refuses_a_pipeline_it_cannot_reproduce(spark, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    [metadata] = (copy / "spark_model" / "stages").glob("*_Normalizer_*/metadata/part-*")
    metadata.write_text(metadata.read_text().replace('"p":2.0', '"p":1.0'))
    (metadata.parent / f".{metadata.name}.crc").unlink()  # else Hadoop's local file system refuses the edit
    with pytest.raises(ValueError, match="Normalizer p=1.0"):
        load_scorer(spark, str(copy))
    [metadata] = (copy / "spark_model" / "stages").glob("*_NGram_*/metadata/part-*")
    assert '"n":2' in metadata.read_text()
    metadata.write_text(metadata.read_text().replace('"n":2', '"n":3'))
    (metadata.parent / f".{metadata.name}.crc").unlink()
    with pytest.raises(ValueError, match="NGram n=3"):
        load_scorer(spark, str(copy))


def test_tags_equal_the_spark_ml_stage_on_real_and_unicode_texts(spark, real_frame):
    """Every column of every row, scores compared with == (not approximately)."""
    cfg = config.QualityConfig(model=str(SHIPPED_MODEL), seed=77)
    expected = rows_by_id(reference_tags(real_frame, cfg))
    tagged = rows_by_id(tag_documents(real_frame.repartition(3), cfg.seed, broadcast_scorer(spark, cfg)))
    assert len(tagged) == len(expected) == 116 + 206 + 697 + 257 + len(UNICODE_TEXTS)
    assert [i for i in expected if tagged[i] != expected[i]] == []
    assert len({row[2] for row in tagged.values()}) > 1000  # real, varied scores


def test_python_only_scores_are_within_an_ulp_of_spark(spark, real_frame):
    """Without Spark (`QualityModel.score`), the lower case is Python's and exp is C's: equal
    to Spark's but for the last bit of a few scores, on real texts without a capital sigma
    (the Unicode corner cases are the JVM's to lower-case)."""
    cfg = config.QualityConfig(model=str(SHIPPED_MODEL))
    model = quality.QualityModel.load(SHIPPED_MODEL)
    expected = {i: row[1:3] for i, row in rows_by_id(reference_tags(real_frame, cfg)).items()}
    checked = [(model.score(text), score) for text, score in expected.values() if "Σ" not in text and text not in UNICODE_TEXTS]
    assert len(checked) > 1200
    assert all(abs(ours - spark) <= np.spacing(spark) for ours, spark in checked)
    assert sum(ours == spark for ours, spark in checked) >= 0.99 * len(checked)


def test_without_a_model_scores_are_null_and_rule_tags_the_same(spark, real_frame):
    tagged = rows_by_id(tag_documents(real_frame, 1234, None))
    expected = rows_by_id(reference_tags(real_frame, config.QualityConfig(model=str(SHIPPED_MODEL))))
    assert all(row[2] is None and row[3] is None for row in tagged.values())
    assert all(tagged[i][4:] == expected[i][4:] for i in expected)


def test_probability_of_extreme_margins(spark):
    frame = spark.createDataFrame([(m,) for m in (-800.0, -40.0, 0.0, 40.0, 800.0, None)], "m double")
    probabilities = [r.p for r in frame.select(spark_probability(F.col("m")).alias("p")).collect()]
    assert probabilities == [0.0, quality.spark_probability(-40.0), 0.5, 1.0, 1.0, None]


def test_sample_tag_shards_equal_those_of_the_spark_ml_stage(spark, tmp_path):
    """The filter job's tag shards, row for row in each shard, against the reference stage
    run on the same ingest shards and committed the same way."""
    cfg = config.FilterConfig(output=str(tmp_path / "out"), quality=config.QualityConfig(model=str(SHIPPED_MODEL)))
    files = inputs.expand([str(SAMPLE)])
    run_filter(spark, cfg, files)
    store = f"{cfg.output}.shards"
    identities = {path: inputs.identity(path) for path in files}
    ingested, tagged = ShardStore(spark, f"{store}/ingest", ""), ShardStore(spark, f"{store}/tag", "")
    reference = ShardStore(spark, str(tmp_path / "reference"), "")
    docs = ingested.read(files, OUTCOME_SCHEMA).filter(F.col("reason").isNull())
    keyed = keyed_by_source(spark, reference_tags(docs, cfg.quality).select(TAG_SCHEMA.fieldNames()), files)
    reference.commit_batch(keyed.select(*TAG_SCHEMA.fieldNames(), SHARD_COLUMN), files, identities)
    rows = 0
    for path in files:
        ours = spark.read.schema(TAG_SCHEMA).parquet(tagged.path(path)).collect()
        theirs = spark.read.schema(TAG_SCHEMA).parquet(reference.path(path)).collect()
        assert ours == theirs, path
        rows += len(ours)
    assert rows == 116  # the sample's documents (tests/test_quality_spark.py)
