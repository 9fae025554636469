"""spark-submit jobs/filter.py [--input PATH ...] [--output DIR] [--conf FILE] [--set key=value ...]

Reads WARC/WET/ARC files (paths, folders, globs or manifests), keeps HTML responses with
extracted main text and language, and writes documents/, dropped/ and stats.json to the
output folder. With no arguments: conf/filter.yaml on the bundled sample in data/sample.
"""
import sys
import time
from pathlib import Path

from corpus_pipeline import cli, config, inputs, stats

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "filter.yaml"


def parse_args(argv):
    return cli.job_parser("filter.py", __doc__, DEFAULT_CONF, "archive files, folders, globs or manifests").parse_args(argv)


def load_settings(args):
    cfg = config.load(config.FilterConfig, args.conf, cli.overrides(args))
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
