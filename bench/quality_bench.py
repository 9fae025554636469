"""Quality classifier: does it read content, or length and source format?

python bench/quality_bench.py [--conf conf/quality.yaml] [--baseline-negatives cc_warc,cc_dolma]

Trains two recipes on Spark ML (Tokenizer -> HashingTF -> logistic regression, both through
`corpus_pipeline.spark.quality.train_classifier`) and scores both on the same held-out
documents:
- `documents, words` (GPT-3's recipe as first shipped): whole documents, unigram features,
  books capped at 1,500 passages, negatives only the CC text sources named by
  --baseline-negatives;
- `passages, words+bigrams`: the config as given (conf/quality.yaml: passages of random
  length, unigrams and bigrams, every negative source, a cap per source).

Data: the Parquet sources of --conf, written by
`spark-submit jobs/import_reference.py --conf conf/import/shared.yaml` from ../shared/data.
Held-out documents: those of --conf's sources whose hash of (seed, id) falls in the
validation fraction, after exact-duplicate texts are merged: neither recipe trains on them
(both split with the same hash; the split is by document, before any cut into passages).

Printed, per recipe: ROC-AUC of the held-out positives against the held-out negatives, with
every text cut to its first 30 words (length says nothing) and whole: all positives pooled
(books and WebText, the most documents, weigh most), the mean over positive sources, and
each positive source against all negatives. Needs the venv's bin on PATH and PYTHONPATH at the
repository root. Takes about 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from corpus_pipeline import config, quality
from corpus_pipeline.spark import quality as spark_quality
from corpus_pipeline.spark.session import local_session

REPO = Path(__file__).resolve().parent.parent


def baseline_config(cfg: config.TrainConfig, negatives: list[str], output: str) -> config.TrainConfig:
    """The whole-document, unigram recipe on the CC text negatives only, books capped at 1,500."""
    positives = tuple(dataclasses.replace(s, max_docs=1500) if s.name == "books" else s for s in cfg.positives)
    return dataclasses.replace(cfg, positives=positives, negatives=tuple(s for s in cfg.negatives if s.name in negatives),
                               ngram=1, passage_min_words=0, passage_max_words=0, max_passages_per_source=0,
                               output=output)


def held_out_documents(spark, cfg: config.TrainConfig):
    """(id, source, label, text) of the held-out documents of cfg's sources."""
    docs = spark_quality.unique_texts(spark_quality.cap_per_source(spark_quality.reference_frame(spark, cfg), cfg))
    held = spark_quality.hash_column("split", cfg.seed) < cfg.validation_fraction
    return docs.filter(held).cache()


def recipe_figures(spark, model_folder: str, docs, cfg: config.TrainConfig) -> dict:
    model = PipelineModel.load(f"{model_folder}/{spark_quality.SPARK_MODEL}")
    return spark_quality.held_out_metrics(spark_quality.held_out_scores(model, docs), cfg)


def figures_table(figures: dict[str, dict], sources: list[str]) -> str:
    header = f"{'recipe':<26} {'text':<14} {'pooled':>6} {'mean':>6} " + " ".join(f"{s[:10]:>10}" for s in sources)
    lines = [header]
    for recipe, f in figures.items():
        for name, label in (("cut", f"first {f['cut_words']} words"), ("whole", "whole")):
            by_source = f[f"roc_auc_{name}_by_source"]
            lines.append(f"{recipe:<26} {label:<14} {f[f'roc_auc_{name}']:>6.3f} "
                         f"{f[f'roc_auc_{name}_mean_of_sources']:>6.3f} "
                         + " ".join(f"{by_source[s]:>10.3f}" for s in sources))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--conf", default=str(REPO / "conf" / "quality.yaml"))
    parser.add_argument("--baseline-negatives", default="cc_warc,cc_dolma",
                        help="negative sources of the whole-document recipe")
    args = parser.parse_args()
    cfg = config.load(config.TrainConfig, args.conf)
    spark = local_session("quality-bench")
    with tempfile.TemporaryDirectory() as tmp:
        recipes = {"documents, words": baseline_config(cfg, args.baseline_negatives.split(","), f"{tmp}/documents"),
                   "passages, words+bigrams": dataclasses.replace(cfg, output=f"{tmp}/passages")}
        docs = held_out_documents(spark, cfg)
        counts = {r["source"]: r["count"] for r in docs.groupBy("source").count().collect()}
        print(f"data: {args.conf}; held-out documents (seed {cfg.seed}, fraction {cfg.validation_fraction}): "
              + ", ".join(f"{s.name} {counts.get(s.name, 0):,}" for s in cfg.positives + cfg.negatives))
        figures = {}
        for name, recipe in recipes.items():
            started = time.time()
            manifest = spark_quality.train_classifier(spark, recipe)
            trained = ", ".join(f"{s['name']} {s['train_texts']:,}" for s in manifest["sources"])
            print(f"{name}: {manifest['model_version']} trained in {time.time() - started:.0f} s on {trained} texts")
            figures[name] = recipe_figures(spark, recipe.output, docs, cfg)
    print(f"ROC-AUC, held-out positives against the {sum(counts.get(s.name, 0) for s in cfg.negatives):,} "
          "held-out negatives: pooled (all positives), mean over positive sources, and each positive source")
    print(figures_table(figures, [s.name for s in cfg.positives]))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
