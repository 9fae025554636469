"""spark-submit jobs/import_reference.py [--conf FILE] [--output DIR] [--set key=value ...]

Imports reference corpora once: each source of the config, from its own format to Parquet.
Writes OUTPUT/NAME/documents (id, source, text) and OUTPUT/NAME/stats.json per source.
Formats: jsonl, mediawiki_xml, wikitext_tokens, gutenberg, oscar_dummy (the loaders of
corpus_pipeline/references.py), warc (the documents ingest keeps) and parquet (id, text).
Mixtures, dedup references and classifier training read only these Parquet documents.
With no arguments: conf/import/sample.yaml, the bundled sample's two mixture datasets.
"""
import sys

from corpus_pipeline import config, imports
from corpus_pipeline.job import Job, conf_file


def prepare(cfg, args):
    """Every source must match a file before Spark starts."""
    for source in cfg.sources:
        imports.source_files(source)


# OUTPUT holds one folder per source, each replaced atomically: OUTPUT itself has no marker.
JOB = Job(prog="import_reference.py", doc=__doc__, config_class=config.ImportConfig,
          set_example="ingest.min_chars=100", default_conf=conf_file(__file__, "import/sample.yaml"),
          prepare=prepare, output_marker=None, work="corpus_pipeline.spark.imports:import_job",
          summary=lambda stats, cfg, seconds: imports.format_summary(stats, seconds, cfg.output))

if __name__ == "__main__":
    sys.exit(JOB.main())
