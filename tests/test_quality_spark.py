"""The quality classifier on Spark: training on real reference data, Spark/Python parity,
save/load round trip, and partition-invariant Pareto selection."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from pyspark.ml import PipelineModel
from pyspark.ml.feature import HashingTF, NGram, Tokenizer
from pyspark.sql import functions as F

from corpus_pipeline import config, inputs, quality
from corpus_pipeline.spark import quality as spark_quality
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.select import pareto_keeps
from corpus_pipeline.spark.tag import broadcast_scorer, tag_documents

from .conftest import REPO, SAMPLE, UNICODE_TEXTS
from .test_filter_job import job_env


@pytest.fixture(scope="module")
def small_config(tmp_path_factory, shared_import):
    """conf/quality.yaml on the shared data's import, with fewer documents per source, so
    that training takes seconds."""
    folder, _ = shared_import
    cfg = config.load(config.TrainConfig, REPO / "conf" / "quality.yaml")
    caps = {"webtext": 600, "books": 300}

    def local(source):
        path = source.path.replace("output/import/shared", str(folder))
        return dataclasses.replace(source, path=path, max_docs=caps.get(source.name, source.max_docs))

    return dataclasses.replace(cfg, positives=tuple(map(local, cfg.positives)),
                               negatives=tuple(map(local, cfg.negatives)), max_iter=50, max_passages_per_source=600,
                               output=str(tmp_path_factory.mktemp("model") / "quality"))


@pytest.fixture(scope="module")
def trained(spark, small_config):
    manifest = spark_quality.train_classifier(spark, small_config)
    return small_config.output, manifest


def test_manifest_records_sources_parameters_and_metrics(trained, small_config, shared_import):
    folder, manifest = trained
    with open(f"{folder}/manifest.json") as fh:
        assert json.load(fh) == manifest
    docs = {s["name"]: s["docs"] for s in manifest["sources"]}
    # Exact duplicate texts count once (one WebText snippet, 9 dolma pages, 13 pages of the
    # non-CC crawls, a CleanEval page saved twice...).
    assert {k: docs[k] for k in ("webtext", "wikipedia", "wikitext", "books", "cc_dolma")} == \
        {"webtext": 600, "wikipedia": 106, "wikitext": 60, "books": 300, "cc_dolma": 661}
    imported = shared_import[1]
    assert all(0.85 * imported[k]["documents"] <= docs[k] <= imported[k]["documents"]
               for k in ("cc_warc", "crawl_non_cc", "web_wcxb", "web_cleaneval"))
    assert all(len(s["fingerprint"]) == 16 for s in manifest["sources"])
    assert all(0 < s["train_texts"] <= small_config.max_passages_per_source for s in manifest["sources"])
    assert manifest["params"]["passage_words"] == [10, 60] and manifest["features"]["ngram"] == 2
    assert len(manifest["config_sha256"]) == 64
    metrics = manifest["validation"]
    assert metrics["docs"] == sum(s["validation_texts"] for s in manifest["sources"])
    assert metrics["roc_auc"] > 0.85  # curated passages vs web passages, of held-out documents
    assert set(metrics["score_by_source"]) == set(docs)
    assert manifest["model_version"].startswith("quality-")


def test_held_out_documents_cut_to_30_words_still_separate(trained):
    """Not a length detector: with every held-out document cut to its first 30 words, the
    model trained on 600 passages per source still ranks curated text above web text."""
    _, manifest = trained
    held = manifest["held_out_documents"]
    assert held["cut_words"] == 30 and held["docs"] > 600
    assert held["roc_auc_cut"] > 0.8 and held["roc_auc_whole"] > 0.8
    assert all(auc > 0.7 for auc in held["roc_auc_cut_by_source"].values()), held


def test_another_core_count_trains_the_same_model_bit_for_bit(trained, small_config, tmp_path):
    """The job in a new JVM on one core, with other shuffle partitions, trains the model that
    the local[2] session trained: the same version, weights.npz byte for byte."""
    folder, manifest = trained
    conf = tmp_path / "quality.yaml"
    conf.write_text(yaml.safe_dump(config.to_dict(small_config)))
    job = subprocess.run(["spark-submit", "--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=7",
                          "jobs/train_classifier.py", "--conf", str(conf), "--output", str(tmp_path / "m")],
                         cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=900)
    assert job.returncode == 0, job.stderr[-3000:]
    again = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert again["model_version"] == manifest["model_version"] and again["sources"] == manifest["sources"]
    assert (tmp_path / "m" / "weights.npz").read_bytes() == Path(folder, "weights.npz").read_bytes()


def test_retraining_reproduces_the_shipped_model(shared_import, tmp_path):
    """docs/quality.md's command (vectors pinned to 128 bits) with conf/quality.yaml on the
    shared data: models/quality's version and weights.npz byte for byte (about 2 minutes)."""
    folder, _ = shared_import
    conf = tmp_path / "quality.yaml"
    conf.write_text((REPO / "conf" / "quality.yaml").read_text().replace("output/import/shared", str(folder)))
    job = subprocess.run(["spark-submit", "--driver-java-options=-XX:MaxVectorSize=16", "jobs/train_classifier.py",
                          "--conf", str(conf), "--output", str(tmp_path / "m")],
                         cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=900)
    assert job.returncode == 0, job.stderr[-3000:]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    shipped = json.loads((REPO / "models" / "quality" / "manifest.json").read_text())
    assert manifest["model_version"] == shipped["model_version"]
    assert (tmp_path / "m" / "weights.npz").read_bytes() == (REPO / "models" / "quality" / "weights.npz").read_bytes()
    assert [dict(s, path="") for s in manifest["sources"]] == [dict(s, path="") for s in shipped["sources"]]


def held_out_documents(import_folder: Path, manifest: dict) -> list[tuple[str, int, str]]:
    """(source, label, text) of the documents the manifest's split held out, one per text."""
    import pyarrow.parquet as pq

    seed, fraction = manifest["params"]["seed"], manifest["params"]["validation_fraction"]
    first: dict[str, tuple[str, str, int]] = {}
    for s in manifest["sources"]:
        table = pq.read_table(import_folder / s["name"] / "documents", columns=["id", "text"]).to_pydict()
        for doc_id, text in zip(table["id"], table["text"]):
            if text not in first or doc_id < first[text][0]:
                first[text] = (doc_id, s["name"], s["label"])
    return [(source, label, text) for text, (doc_id, source, label) in first.items()
            if quality.unit_hash("split", seed, doc_id) < fraction]


def test_shipped_model_reads_content_on_held_out_documents_cut_to_30_words(shared_import):
    """models/quality on the documents its training held out, each cut to its first 30
    words: ROC-AUC of curated text against web text, overall and per positive source (books
    are capped by passages, not documents, so all their held-out passages count)."""
    model = quality.QualityModel.load(REPO / "models" / "quality")
    manifest = json.loads((REPO / "models" / "quality" / "manifest.json").read_text())
    docs = held_out_documents(shared_import[0], manifest)
    scores = [(source, label, model.score(quality.first_words(text, 30))) for source, label, text in docs]
    negatives = [x for _, label, x in scores if label == 0]
    positives = {s["name"]: [x for source, _, x in scores if source == s["name"]]
                 for s in manifest["sources"] if s["label"] == 1}
    assert len(negatives) > 400 and all(len(p) >= 10 for p in positives.values())
    assert quality.roc_auc([x for p in positives.values() for x in p], negatives) > 0.85
    assert all(quality.roc_auc(p, negatives) > 0.78 for p in positives.values())


def real_texts(n: int = 300) -> list[str]:
    from corpus_pipeline import ingest
    texts = [o.text for f in inputs.expand([str(SAMPLE)]) for o in ingest.process_file(f, config.IngestConfig())
             if o.text]
    return texts[:n] + ["", "   ", "Odd\u00a0spacing\t\tand  runs\r\nof   whitespace  ", "ÄÖÜ ß İstanbul ΣΊΣΥΦΟΣ"]


def test_python_tokenizer_and_hashing_equal_spark(spark):
    texts = real_texts()
    frame = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i int, text string")
    words = Tokenizer(inputCol="text", outputCol="w").transform(frame).orderBy("i").collect()
    assert [r.w for r in words] == [quality.spark_tokens(t) for t in texts]
    hashing = HashingTF(numFeatures=1 << 18)
    terms = sorted({w for r in words for w in r.w})[:3000]
    assert [hashing.indexOf(t) for t in terms] == [quality.term_index(t, 1 << 18) for t in terms]
    bigrams = NGram(n=2, inputCol="w", outputCol="b").transform(Tokenizer(inputCol="text", outputCol="w")
                                                                  .transform(frame)).orderBy("i").collect()
    assert [Counter(t.encode() for t in r.w + r.b) for r in bigrams] == \
        [quality.spark_term_counts_with_bigrams(t.lower().encode()) for t in texts]


def test_tag_scores_equal_spark_scores_after_reload(spark, trained, oscar_texts):
    """A freshly trained model: the tag stage's scores (the model read as files, scored in
    Python) equal the reloaded PipelineModel's probabilities exactly, on English pages,
    OSCAR's 133 languages and the Unicode corner cases; Python-only scores to the last bit."""
    folder, _ = trained
    texts = real_texts() + oscar_texts + UNICODE_TEXTS
    frame = spark.createDataFrame([(str(i), t) for i, t in enumerate(texts)], "id string, text string")
    spark_scores = spark_quality.score_column(PipelineModel.load(f"{folder}/spark_model").transform(frame))
    expected = {r.id: r.score for r in spark_scores.select("id", "score").collect()}
    cfg = config.QualityConfig(model=folder)
    tagged = {r.id: r.quality_score for r in tag_documents(frame, cfg.seed, broadcast_scorer(spark, cfg)).collect()}
    assert tagged == expected and len(set(expected.values())) > 300
    model = quality.QualityModel.load(folder)
    english = [str(i) for i, t in enumerate(texts[:300]) if t.isascii()]
    assert len(english) == 67
    assert all(abs(model.score(texts[int(i)]) - expected[i]) <= np.spacing(expected[i]) for i in english)


def test_selection_is_the_same_under_any_partitioning(spark, trained):
    folder, _ = trained
    texts = real_texts()
    frame = spark.createDataFrame([(f"doc{i}", t) for i, t in enumerate(texts)], "id string, text string")
    results = []
    for partitions in (1, 3, 7):
        cfg = config.QualityConfig(model=folder, seed=99, alpha=9.0)
        tagged = tag_documents(frame.repartition(partitions), cfg.seed, broadcast_scorer(spark, cfg))
        decided = tagged.withColumn("keep", pareto_keeps(cfg.alpha))
        results.append(sorted((r.id, r.keep, round(r.quality_score, 12), r.quality_u)
                              for r in decided.select("id", "keep", "quality_score", "quality_u").collect()))
    assert results[0] == results[1] == results[2]
    assert all(u == quality.pareto_draw(99, i) for i, _, _, u in results[0])
    assert all(keep == quality.keeps(s, u, 9.0) for _, keep, s, u in results[0])


def test_filter_job_tags_then_selects(spark, trained, tmp_path):
    folder, manifest = trained
    cfg = config.FilterConfig(output=str(tmp_path / "out"), quality=config.QualityConfig(model=folder))
    stats = run_filter(spark, cfg, inputs.expand([str(SAMPLE)]))
    assert stats["quality"] == {"model": folder, "model_version": manifest["model_version"], "alpha": 9.0,
                                "seed": 1234}
    assert stats["records_read"] == 311 and stats["kept"] + stats["dropped"]["quality"] == 116
    docs = spark.read.parquet(str(tmp_path / "out" / "documents"))
    dropped = spark.read.parquet(str(tmp_path / "out" / "dropped")).filter(F.col("reason") == "quality")
    assert all(r.quality_u < (2 - r.quality_score) ** -9.0 for r in docs.collect())
    rejected = dropped.collect()
    assert len(rejected) == stats["dropped"]["quality"] and all(r.text for r in rejected)
    assert all(r.quality_u >= (2 - r.quality_score) ** -9.0 for r in rejected)
