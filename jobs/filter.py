"""spark-submit jobs/filter.py [--input PATH ...] [--output DIR] [--conf FILE] [--set key=value ...]

Reads WARC/WET/ARC files (paths, folders, globs or manifests), keeps HTML responses with
extracted main text and language, and writes documents/, dropped/ and stats.json to the
output folder. With no arguments: conf/filter.yaml on the bundled sample in data/sample.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import config, inputs, stats

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "filter.yaml"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="filter.py", description=__doc__.splitlines()[2])
    parser.add_argument("--input", nargs="+", help="archive files, folders, globs or manifests")
    parser.add_argument("--output", help="output folder (replaced atomically if it holds a previous run)")
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    return parser.parse_args(argv)


def load_settings(args):
    overrides = list(args.set)
    if args.input:
        overrides.append("input=" + json.dumps(args.input))
    if args.output:
        overrides.append("output=" + json.dumps(args.output))
    cfg = config.load(config.FilterConfig, args.conf, overrides)
    if cfg.quality.model and not inputs.exists(f"{cfg.quality.model}/manifest.json"):
        raise config.ConfigError(f"quality.model: no trained model at {cfg.quality.model} "
                                 "(train one with jobs/train_classifier.py, or --set quality.model= to skip scoring)")
    return cfg, inputs.expand(cfg.input, cfg.input_prefix)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg, files = load_settings(args)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"filter.py: error: {err}")
    from corpus_pipeline.spark.filter import run_filter
    from corpus_pipeline.spark.session import get_spark

    started = time.time()
    spark = get_spark(cfg.spark)
    run_stats = run_filter(spark, cfg, files)
    print(stats.format_summary(run_stats, time.time() - started, cfg.output))
    spark.stop()


if __name__ == "__main__":
    main()
