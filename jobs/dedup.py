"""spark-submit jobs/dedup.py --input DIR [DIR ...] --output DIR [--reference DIR ...] [--conf FILE] [--set key=value ...]

Fuzzy deduplication of Parquet documents (at least `id` and `text`; `quality_score` picks
the document a cluster keeps) within the input and against reference datasets, whose
documents are never removed. Writes documents/, dropped/ (reason duplicate or
duplicate_of_reference, and duplicate_of) and stats.json. jobs/filter.py runs the same
stage after selection.
"""
import json
import sys
from pathlib import Path

from corpus_pipeline import cli, config, dedup
from corpus_pipeline.job import Job, conf_file


def options(parser):
    parser.add_argument("--reference", nargs="+", default=[], metavar="DIR",
                        help="Parquet folders of reference documents, never removed, e.g. an imported WebText "
                             "(default: the config's dedup.references)")


def reference_overrides(args) -> list[str]:
    refs = [{"name": Path(p.rstrip("/")).name, "format": "parquet", "path": p} for p in args.reference]
    return ["dedup.references=" + json.dumps(refs)] if refs else []


def prepare(cfg, args):
    cli.require_paths(cfg.input + tuple(s.path for s in cfg.dedup.references))


JOB = Job(prog="dedup.py", doc=__doc__, config_class=config.DedupJobConfig,
          set_example="dedup.jaccard_threshold=0.7", default_conf=conf_file(__file__, "dedup.yaml"),
          input_help="Parquet folders with id and text", options=options, overrides=reference_overrides,
          prepare=prepare, work="corpus_pipeline.spark.dedup:dedup_job",
          summary=lambda report, cfg, seconds: dedup.format_summary(report, seconds, cfg.output))

if __name__ == "__main__":
    sys.exit(JOB.main())
