"""Quality classifier on Spark: training (GPT-3 Appendix A) and tagging documents.

Training consumes the reference sources of a `TrainConfig` (positives: WebText, Wikipedia,
books; negatives: crawl text as ingest keeps it), as Parquet written by
jobs/import_reference.py, and produces a model folder:
  spark_model/            the fitted Spark ML PipelineModel (Tokenizer [-> NGram -> concat]
                          -> HashingTF -> Normalizer -> LR)
  weights.npz             the same weights for the Spark-free `quality.QualityModel`
  manifest.json           model_version, sources with counts and fingerprints, parameters,
                          validation metrics and per-source score distributions
  validation_scores/      Parquet (id, source, label, score) of the held-out documents,
                          whole, read by the calibration command
Training texts are passages of the documents when the config asks for them (random-length
runs of words, so that length says nothing of the class); the train/validation split is by
document, before the cut, so no document has passages on both sides.
The tag stage (`tag.py`) scores documents with `load_scorer`: the saved Spark model read as
plain files into the Spark-free `quality.QualityModel` (no PipelineModel.load, no JVM scoring).
"""
from __future__ import annotations

import hashlib
import json
import time

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import HashingTF, NGram, Normalizer, SQLTransformer, Tokenizer
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import code_version, quality
from ..config import TrainConfig, to_dict
from .imports import imported_documents
from .output import AtomicOutput, hadoop_fs

SCORE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SPARK_MODEL = "spark_model"
# quality_pipeline's stages, as saved: what load_scorer knows how to reproduce.
_TOKENIZER, _NGRAM, _HASHING, _NORMALIZER, _SQL, _LR = (
    "org.apache.spark.ml.feature.Tokenizer", "org.apache.spark.ml.feature.NGram",
    "org.apache.spark.ml.feature.HashingTF", "org.apache.spark.ml.feature.Normalizer",
    "org.apache.spark.ml.feature.SQLTransformer", "org.apache.spark.ml.classification.LogisticRegressionModel")
_IDENTITY_STATEMENT = "SELECT *, counts AS features FROM __THIS__"
_TERMS_STATEMENT = "SELECT *, concat(words, bigrams) AS terms FROM __THIS__"
HELD_OUT_CUT_WORDS = 30  # the held-out documents are also scored cut to their first 30 words


# ---- reference documents: the Parquet of jobs/import_reference.py

def reference_frame(spark, cfg: TrainConfig):
    """(id, source, label, text) of every positive (label 1) and negative (label 0) source."""
    positives = imported_documents(spark, cfg.positives).withColumn("label", F.lit(1))
    negatives = imported_documents(spark, cfg.negatives).withColumn("label", F.lit(0))
    return positives.unionByName(negatives).select("id", "source", "label", "text")


def hash_column(*parts, column: str = "id"):
    """A uniform [0, 1) column from a hash of (parts..., id): deterministic, partition-free."""
    return F.udf(lambda value: quality.unit_hash(*parts, value), T.DoubleType())(F.col(column))


def cap_per_source(docs, cfg: TrainConfig):
    """Keep at most max_docs per source: the first ones in a seeded hash order."""
    caps = {s.name: s.max_docs for s in cfg.positives + cfg.negatives if s.max_docs}
    if not caps:
        return docs
    cap = F.create_map(*[x for name, n in caps.items() for x in (F.lit(name), F.lit(n))])
    rank = F.row_number().over(Window.partitionBy("source").orderBy("cap_u", "id"))
    return (docs.withColumn("cap_u", hash_column("cap", cfg.seed))
            .withColumn("rank", rank)
            .filter(F.col("rank") <= F.coalesce(cap[F.col("source")], F.lit(2**31 - 1)))
            .drop("cap_u", "rank"))


# ---- training

def quality_pipeline(cfg: TrainConfig) -> Pipeline:
    stages = [Tokenizer(inputCol="text", outputCol="words")]
    if cfg.ngram == 2:  # words then bigrams, hashed into one feature space
        stages += [NGram(n=2, inputCol="words", outputCol="bigrams"), SQLTransformer(statement=_TERMS_STATEMENT)]
    stages.append(HashingTF(inputCol="terms" if cfg.ngram == 2 else "words", outputCol="counts",
                            numFeatures=cfg.num_features))
    stages.append(Normalizer(inputCol="counts", outputCol="features", p=2.0) if cfg.normalize
                  else SQLTransformer(statement=_IDENTITY_STATEMENT))
    # No standardization: it would blow up the weight of rare hashed terms.
    stages.append(LogisticRegression(featuresCol="features", labelCol="label", weightCol="weight",
                                     regParam=cfg.reg_param, maxIter=cfg.max_iter, standardization=False))
    return Pipeline(stages=stages)


def unique_texts(docs):
    """One document per distinct text (the smallest id): a page saved twice must not land on
    both sides of the split."""
    first = F.row_number().over(Window.partitionBy("text").orderBy("id"))
    return docs.withColumn("copy", first).filter(F.col("copy") == 1).drop("copy")


def training_texts(docs, cfg: TrainConfig):
    """The rows the model learns from: each document, or its passages (id "<doc id>:<n>")
    capped per source in a seeded hash order."""
    if not cfg.passage_min_words:
        return docs
    cut = F.udf(lambda doc_id, text: quality.passages_of(text, cfg.seed, doc_id, cfg.passage_min_words,
                                                         cfg.passage_max_words), T.ArrayType(T.StringType()))
    passages = (docs.select("*", F.posexplode(cut("id", "text")).alias("n", "passage"))
                .withColumn("id", F.concat_ws(":", "id", F.col("n").cast("string")))
                .withColumn("text", F.col("passage")).drop("n", "passage"))
    if not cfg.max_passages_per_source:
        return passages
    rank = F.row_number().over(Window.partitionBy("source").orderBy("cap_u", "id"))
    return (passages.withColumn("cap_u", hash_column("passage_cap", cfg.seed)).withColumn("rank", rank)
            .filter(F.col("rank") <= cfg.max_passages_per_source).drop("cap_u", "rank"))


def with_class_weights(train):
    """Balanced classes: each class weighs half of the training set."""
    counts = {r["label"]: r["count"] for r in train.groupBy("label").count().collect()}
    total = sum(counts.values())
    weight = F.when(F.col("label") == 1, total / (2 * counts[1])).otherwise(total / (2 * counts[0]))
    return train.withColumn("weight", weight), counts


def score_column(scored, name: str = "score"):
    """The positive-class probability of a transformed frame, as a double column."""
    return scored.withColumn(name, vector_to_array("probability")[1])


def in_one_canonical_partition(train):
    """The training rows in one partition, sorted: the weights are then the same bit for bit
    on any core count. L-BFGS sums the gradient per partition and adds the partial sums in
    the order tasks finish, and floating-point addition is not associative."""
    return train.repartition(1).sortWithinPartitions("id", "source", "text")


def train_classifier(spark, cfg: TrainConfig) -> dict:
    """Fit, evaluate and save the model folder atomically; return its manifest."""
    started = time.time()
    with AtomicOutput(spark, cfg.output, marker=quality.MANIFEST_FILE) as out:
        docs = unique_texts(cap_per_source(reference_frame(spark, cfg), cfg))
        docs = docs.withColumn("validation", hash_column("split", cfg.seed) < cfg.validation_fraction).cache()
        texts = training_texts(docs, cfg).cache()
        train, class_counts = with_class_weights(texts.filter(~F.col("validation")))
        model = quality_pipeline(cfg).fit(in_one_canonical_partition(train))
        validation = score_column(model.transform(texts.filter(F.col("validation")))).cache()
        held_out = held_out_scores(model, docs.filter(F.col("validation"))).cache()
        python_model = export_weights(model, cfg)
        manifest = {
            "model_version": python_model.version,
            "created_unix": int(time.time()),
            "code_version": code_version(),
            "config_sha256": config_digest(cfg),
            "features": {"tokenizer": "pyspark.ml.feature.Tokenizer", "hashing": "pyspark.ml.feature.HashingTF",
                         "ngram": cfg.ngram, "num_features": cfg.num_features, "hash": "murmur3_x86_32 seed 42",
                         "l2_normalized": cfg.normalize},
            "params": {"reg_param": cfg.reg_param, "max_iter": cfg.max_iter, "seed": cfg.seed,
                       "validation_fraction": cfg.validation_fraction,
                       "passage_words": [cfg.passage_min_words, cfg.passage_max_words],
                       "max_passages_per_source": cfg.max_passages_per_source,
                       "train_texts_by_label": {str(k): v for k, v in sorted(class_counts.items())}},
            "numerics": jvm_numerics(spark),
            "sources": source_summaries(docs, texts, cfg),
            "validation": validation_metrics(validation),
            "held_out_documents": held_out_metrics(held_out, cfg),
            "config": to_dict(cfg),
        }
        model.save(out.path(SPARK_MODEL))
        (held_out.select("id", "source", "label", F.col("score_whole").alias("score"))
         .coalesce(1).write.parquet(out.path("validation_scores")))
        out.write_bytes(quality.WEIGHTS_FILE, python_model.weights_file_bytes())
        manifest["training_seconds"] = round(time.time() - started, 1)
        out.write_text(quality.MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    spark.catalog.clearCache()
    return manifest


def config_digest(cfg: TrainConfig) -> str:
    """SHA-256 of the config without its output folder: what decides the model, with the data."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in ("output", "spark")}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def held_out_scores(model: PipelineModel, docs):
    """(id, source, label, score_whole, score_cut) of held-out documents: whole, and cut to their
    first HELD_OUT_CUT_WORDS words, where length says nothing."""
    cut = F.udf(lambda text: quality.first_words(text, HELD_OUT_CUT_WORDS), T.StringType())
    whole = score_column(model.transform(docs.select("id", "source", "label", "text")), "score_whole")
    cut_scores = score_column(model.transform(docs.select("id", cut("text").alias("text"))), "score_cut")
    return whole.select("id", "source", "label", "score_whole").join(cut_scores.select("id", "score_cut"), "id")


def held_out_metrics(held_out, cfg: TrainConfig) -> dict:
    """ROC-AUC of held-out documents, whole and cut to 30 words: all positives against all
    negatives (the larger sources weigh more), each positive source against all negatives,
    and the mean over positive sources (each weighs alike)."""
    rows = held_out.select("source", "label", "score_whole", "score_cut").collect()
    negatives = [r for r in rows if r["label"] == 0]
    figures = {"docs": len(rows), "cut_words": HELD_OUT_CUT_WORDS}
    for column, name in (("score_cut", "cut"), ("score_whole", "whole")):
        neg = [r[column] for r in negatives]
        figures[f"roc_auc_{name}"] = round(quality.roc_auc([r[column] for r in rows if r["label"] == 1], neg), 4)
        by_source = {s.name: quality.roc_auc([r[column] for r in rows if r["source"] == s.name], neg)
                     for s in cfg.positives}
        figures[f"roc_auc_{name}_by_source"] = {k: round(v, 4) for k, v in by_source.items()}
        figures[f"roc_auc_{name}_mean_of_sources"] = round(float(np.mean(list(by_source.values()))), 4)
    return figures


def jvm_numerics(spark) -> dict:
    """What else decides the last bits of the weights: Spark ML's BLAS (Java's Vector API sums
    in as many lanes as the CPU's vectors hold) and the JVM. -XX:MaxVectorSize=16 pins 128 bits."""
    jvm = spark._jvm
    return {"blas": jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName(),
            "vector_bits": jvm.jdk.incubator.vector.DoubleVector.SPECIES_MAX.vectorBitSize(),
            "java": jvm.java.lang.System.getProperty("java.version"),
            "arch": jvm.java.lang.System.getProperty("os.arch")}


def export_weights(model: PipelineModel, cfg: TrainConfig) -> quality.QualityModel:
    lr = model.stages[-1]
    dense = lr.coefficients.toArray()
    indices = np.flatnonzero(dense).astype(np.int64)
    weights, intercept = dense[indices], float(lr.intercept)
    return quality.QualityModel(cfg.num_features, indices, weights, intercept, cfg.normalize,
                                quality.weights_version(indices, weights, intercept), ngram=cfg.ngram)


def source_summaries(docs, texts, cfg: TrainConfig) -> list[dict]:
    """Per source: documents (after exact-duplicate removal) and training/validation texts,
    and an order-free fingerprint of the documents."""
    fingerprint = F.sum(F.xxhash64("id", "text").cast("decimal(38,0)"))
    rows = {r["source"]: r for r in docs.groupBy("source").agg(
        F.count("*").alias("docs"), F.sum(F.col("validation").cast("int")).alias("validation"),
        F.sum(F.length("text")).alias("chars"), fingerprint.alias("fingerprint")).collect()}
    used = {r["source"]: r for r in texts.groupBy("source").agg(
        F.sum((~F.col("validation")).cast("int")).alias("train_texts"),
        F.sum(F.col("validation").cast("int")).alias("validation_texts")).collect()}
    summaries = []
    for label, sources in ((1, cfg.positives), (0, cfg.negatives)):
        for s in sources:
            row = rows.get(s.name)
            if row is None:
                raise ValueError(f"source {s.name} ({s.path}) yielded no document")
            summaries.append({"name": s.name, "label": label, "format": s.format, "path": s.path,
                              "max_docs": s.max_docs, "docs": row["docs"], "validation": row["validation"],
                              "train_texts": used[s.name]["train_texts"],
                              "validation_texts": used[s.name]["validation_texts"],
                              "chars": row["chars"], "fingerprint": format(int(row["fingerprint"]) % 2**64, "016x")})
    return summaries


def validation_metrics(validation) -> dict:
    auc = BinaryClassificationEvaluator(rawPredictionCol="rawPrediction", labelCol="label",
                                        metricName="areaUnderROC").evaluate(validation)
    rows = validation.select("source", "label", "score").collect()
    labels = np.array([r["label"] for r in rows])
    predicted = np.array([r["score"] >= 0.5 for r in rows])
    true_pos = int(np.sum(predicted & (labels == 1)))
    precision = true_pos / max(int(predicted.sum()), 1)
    recall = true_pos / max(int((labels == 1).sum()), 1)
    by_source = {}
    for source in sorted({r["source"] for r in rows}):
        scores = np.array([r["score"] for r in rows if r["source"] == source])
        by_source[source] = score_distribution(scores)
    return {"docs": len(rows), "roc_auc": round(auc, 4), "precision_at_0.5": round(precision, 4),
            "recall_at_0.5": round(recall, 4), "score_by_source": by_source}


def score_distribution(scores: np.ndarray) -> dict:
    histogram, _ = np.histogram(scores, bins=10, range=(0.0, 1.0))
    return {"docs": len(scores), "mean": round(float(scores.mean()), 4),
            "quantiles": {str(q): round(float(np.quantile(scores, q)), 4) for q in SCORE_QUANTILES},
            "histogram_10_bins": histogram.tolist()}


# ---- scoring without Spark ML: the saved PipelineModel read as files

def load_scorer(spark, folder: str) -> quality.QualityModel:
    """The Spark model of `folder` (its `spark_model/`) as a `quality.QualityModel` that
    scores as it does. Reads the stages' metadata JSON and the logistic regression's one
    Parquet file as plain files, wherever Spark reads (local, HDFS, S3): no Spark job, where
    PipelineModel.load runs about ten. Refuses a pipeline of other stages or settings."""
    root = f"{folder.rstrip('/')}/{SPARK_MODEL}"
    fs, Path = hadoop_fs(spark, root)
    stages = saved_stages(fs, Path, root)
    classes = [meta["class"] for _, meta in stages]
    ngram = 2 if classes[1:3] == [_NGRAM, _SQL] else 1
    if ngram == 2:
        if _param(stages[1][1], "n") != 2 or _param(stages[2][1], "statement") != _TERMS_STATEMENT:
            raise ValueError(f"{root}: NGram n={_param(stages[1][1], 'n')} or the terms statement is not "
                             "quality_pipeline's")
        stages = stages[:1] + stages[3:]
        classes = classes[:1] + classes[3:]
    if classes not in ([_TOKENIZER, _HASHING, _NORMALIZER, _LR], [_TOKENIZER, _HASHING, _SQL, _LR]):
        raise ValueError(f"{root}: stages {classes} are not quality_pipeline's")
    hashing, scaling, (lr_path, lr_meta) = stages[1][1], stages[2][1], stages[3]
    if int(hashing["sparkVersion"].split(".")[0]) < 3:  # Spark 2's HashingTF hashed differently
        raise ValueError(f"{root}: HashingTF saved by Spark {hashing['sparkVersion']}; retrain on Spark 3+")
    if scaling["class"] == _NORMALIZER and _param(scaling, "p") != 2.0:
        raise ValueError(f"{root}: Normalizer p={_param(scaling, 'p')}, only p=2 is supported")
    if scaling["class"] == _SQL and _param(scaling, "statement") != _IDENTITY_STATEMENT:
        raise ValueError(f"{root}: SQLTransformer {_param(scaling, 'statement')!r} is not the identity")
    num_features = int(_param(hashing, "numFeatures"))
    indices, weights, intercept = binomial_weights(fs, Path, lr_path, num_features)
    return quality.QualityModel(num_features, indices, weights, intercept, scaling["class"] == _NORMALIZER,
                                quality.weights_version(indices, weights, intercept),
                                bool(_param(hashing, "binary")), ngram)


def saved_stages(fs, Path, root: str) -> list[tuple[str, dict]]:
    """[(stage folder, its metadata)] of a saved PipelineModel, in pipeline order."""
    pipeline = _metadata(fs, Path, root)
    return [(folder, _metadata(fs, Path, folder))
            for folder in (f"{root}/stages/{i}_{uid}" for i, uid in enumerate(pipeline["paramMap"]["stageUids"]))]


def binomial_weights(fs, Path, stage: str, num_features: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(indices, weights, intercept) of a saved binomial LogisticRegressionModel: its one row of
    Parquet, the coefficients a 1 x numFeatures row-major matrix (sparse or dense)."""
    import io

    import pyarrow.parquet as pq

    files = [status.getPath().toString() for status in fs.globStatus(Path(f"{stage}/data/*.parquet")) or []]
    if len(files) != 1:
        raise ValueError(f"{stage}/data: expected one Parquet file, found {len(files)}")
    row = pq.read_table(io.BytesIO(_read_bytes(fs, Path, files[0]))).to_pylist()[0]
    matrix = row["coefficientMatrix"]
    if row["isMultinomial"] or row["numClasses"] != 2 or matrix["numRows"] != 1 or not matrix["isTransposed"] \
            or matrix["numCols"] != num_features:
        raise ValueError(f"{stage}: not a binomial model over {num_features} features")
    if matrix["type"] == 0:  # sparse, row-major: rowIndices hold the column of each value
        indices, weights = np.array(matrix["rowIndices"], dtype=np.int64), np.array(matrix["values"])
    else:
        dense = np.array(matrix["values"])
        indices = np.flatnonzero(dense).astype(np.int64)
        weights = dense[indices]
    kept = weights != 0.0
    return indices[kept], weights[kept], _vector_value(row["interceptVector"], 0)


def _vector_value(vector: dict, i: int) -> float:
    """Element i of a saved ml.linalg vector (type 0 sparse, 1 dense)."""
    if vector["type"] == 1:
        return float(vector["values"][i])
    return float(dict(zip(vector["indices"], vector["values"])).get(i, 0.0))


def _param(meta: dict, name: str):
    return meta["paramMap"].get(name, meta["defaultParamMap"].get(name))


def _metadata(fs, Path, folder: str) -> dict:
    files = [status.getPath().toString() for status in fs.globStatus(Path(f"{folder}/metadata/part-*")) or []]
    if len(files) != 1:
        raise ValueError(f"{folder}/metadata: expected one part file, found {len(files)}")
    return json.loads(_read_bytes(fs, Path, files[0]))


def _read_bytes(fs, Path, path: str) -> bytes:
    stream = fs.open(Path(path))
    try:
        return bytes(stream.readAllBytes())
    finally:
        stream.close()
