"""spark-submit jobs/import_reference.py [--conf FILE] [--output DIR] [--set key=value ...]

Imports reference corpora once: each source of the config, from its own format to Parquet.
Writes OUTPUT/NAME/documents (id, source, text) and OUTPUT/NAME/stats.json per source.
Formats: jsonl, mediawiki_xml, wikitext_tokens, gutenberg, oscar_dummy (the loaders of
corpus_pipeline/references.py), warc (the documents ingest keeps) and parquet (id, text).
Mixtures, dedup references and classifier training read only these Parquet documents.
With no arguments: conf/import/sample.yaml, the bundled sample's two mixture datasets.
"""
import argparse
import sys
import time
from pathlib import Path

from corpus_pipeline import cli, config, imports, inputs

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "import" / "sample.yaml"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="import_reference.py", description=__doc__.splitlines()[2])
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="YAML config (default: %(default)s)")
    parser.add_argument("--output", help="folder of the imports; each OUTPUT/NAME is replaced atomically")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    return parser.parse_args(argv)


def load_settings(args) -> config.ImportConfig:
    cfg = config.load(config.ImportConfig, args.conf, cli.overrides(args))
    for source in cfg.sources:
        imports.source_files(source)  # every source must match a file before Spark starts
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_settings(args)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"import_reference.py: error: {err}")
    from corpus_pipeline.spark.imports import ImportSourceError, import_sources
    from corpus_pipeline.spark.session import get_spark

    started = time.time()
    spark = get_spark(cfg.spark)
    try:
        stats = import_sources(spark, cfg.sources, cfg.ingest, cfg.output)
    except ImportSourceError as err:
        sys.exit(f"import_reference.py: error: {err}")
    finally:
        spark.stop()
    print(imports.format_summary(stats, time.time() - started, cfg.output))


if __name__ == "__main__":
    main()
