"""spark-submit jobs/train_classifier.py [--conf FILE] [--output DIR] [--set key=value ...]

Trains the GPT-3 quality classifier (Tokenizer -> HashingTF -> logistic regression) on the
reference sources of conf/quality.yaml, Parquet imported by jobs/import_reference.py, and
writes a versioned model folder with its training manifest. jobs/filter.py scores
documents with it (`quality.model`).
"""
import argparse
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import cli, config, inputs

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "quality.yaml"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="train_classifier.py", description=__doc__.splitlines()[2])
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="YAML config (default: %(default)s)")
    parser.add_argument("--output", help="model folder (replaced atomically if it holds a previous model)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    return parser.parse_args(argv)


def summary(manifest: dict, seconds: float, output: str) -> str:
    metrics = manifest["validation"]
    lines = [f"quality classifier {manifest['model_version']} trained in {seconds:.1f} s"]
    lines += [f"  {s['name']:<12} label {s['label']}  {s['docs']:>6,} docs ({s['validation']:,} validation)"
              for s in manifest["sources"]]
    lines.append(f"  validation   ROC-AUC {metrics['roc_auc']:.4f}  precision {metrics['precision_at_0.5']:.4f}"
                 f"  recall {metrics['recall_at_0.5']:.4f}  ({metrics['docs']:,} docs)")
    lines += [f"    {source:<12} mean score {d['mean']:.3f}  median {d['quantiles']['0.5']:.3f}"
              for source, d in metrics["score_by_source"].items()]
    lines.append(f"  model        {output}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    overrides = list(args.set) + (["output=" + json.dumps(args.output)] if args.output else [])
    try:
        cfg = config.load(config.TrainConfig, args.conf, overrides)
        cli.require_paths(s.path for s in cfg.positives + cfg.negatives)  # before Spark starts
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"train_classifier.py: error: {err}")
    from corpus_pipeline.spark.quality import train_classifier
    from corpus_pipeline.spark.session import get_spark

    started = time.time()
    spark = get_spark(cfg.spark)
    manifest = train_classifier(spark, cfg)
    print(summary(manifest, time.time() - started, cfg.output))
    spark.stop()


if __name__ == "__main__":
    main()
