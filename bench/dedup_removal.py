"""Fuzzy-dedup removal per dataset on the shared data, and Common Crawl against WebText.

Data: the reference sources of conf/quality.yaml (WebText, Wikipedia, WikiText, Gutenberg
passages, the CC pages ingest keeps from shared/data/warc/cc, dolma CC), as imported by
`spark-submit jobs/import_reference.py --conf conf/import/shared.yaml` (run it first), each
deduplicated within itself with the default `DedupConfig` (bands mode), then both CC
sets together against WebText as a reference (GPT-3 "fuzzily removed WebText from
Common Crawl").

Usage: python bench/dedup_removal.py [--conf conf/quality.yaml] [--mode bands|spark_minhashlsh]
"""
import argparse
import dataclasses
import os
import time

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from corpus_pipeline import config  # noqa: E402
from corpus_pipeline.spark.dedup import deduplicate  # noqa: E402
from corpus_pipeline.spark.imports import imported_documents  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", default="conf/quality.yaml")
    parser.add_argument("--mode", default="bands")
    args = parser.parse_args()
    train = config.load(config.TrainConfig, args.conf)
    cfg = dataclasses.replace(config.DedupConfig(), mode=args.mode)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.execution.pythonUDF.arrow.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    sources = [dataclasses.replace(s, max_docs=0) for s in train.positives + train.negatives]
    docs = imported_documents(spark, sources).cache()
    print(f"mode {cfg.mode}: {cfg.bands} bands x {cfg.rows} rows, {cfg.ngram}-gram shingles "
          f"(shorter for short texts: adapt_ngram {cfg.adapt_ngram}), "
          f"Jaccard >= {cfg.jaccard_threshold}")
    print(f"{'dataset':<22} {'docs':>7} {'removed':>8} {'removed %':>9} {'cand/doc':>9} {'seconds':>8}")
    for source in sources:
        started = time.time()
        _, report = deduplicate(docs.filter(F.col("source") == source.name), None, cfg)
        print(f"{source.name:<22} {report['docs']:>7} {sum(report['removed'].values()):>8} "
              f"{100 * report['removed_fraction']:>8.1f}% {report['candidate_pairs_per_doc']:>9} "
              f"{time.time() - started:>8.1f}")
    started = time.time()
    cc = docs.filter(F.col("source").isin("cc_warc", "cc_dolma"))
    webtext = docs.filter(F.col("source") == "webtext").select("id", "text")
    _, report = deduplicate(cc, webtext, cfg)
    print(f"{'CC vs WebText ref':<22} {report['docs']:>7} {sum(report['removed'].values()):>8} "
          f"{100 * report['removed_fraction']:>8.1f}% {report['candidate_pairs_per_doc']:>9} "
          f"{time.time() - started:>8.1f}   removed by reason: {report['removed']}")


if __name__ == "__main__":
    main()
