"""spark-submit jobs/decontaminate.py --input DIR [DIR ...] --output DIR [--conf FILE] [--set key=value ...]

Benchmark decontamination (GPT-3 Appendix C) of Parquet documents (at least `id` and
`text`; the dataset column, `source` by default, gives the report's per-dataset rows).
Writes documents/ (kept and modified, with decontam_pieces and decontam_chars_removed),
dropped/ (reason contaminated, original text), spans/ (every removed span with the
benchmark examples it matched), report.json (GPT-3 Table C.1 style) and stats.json.
jobs/filter.py runs the same stage after dedup.
"""
import sys

from corpus_pipeline import cli, config, decontam
from corpus_pipeline.job import Job, conf_file


def prepare(cfg, args):
    cli.require_paths(cfg.input + tuple(b.path for b in cfg.decontam.benchmarks))


JOB = Job(prog="decontaminate.py", doc=__doc__, config_class=config.DecontamJobConfig,
          set_example="decontam.max_pieces=5", default_conf=conf_file(__file__, "decontam.yaml"),
          input_help="Parquet folders with id and text", prepare=prepare,
          work="corpus_pipeline.spark.decontam:decontam_job",
          summary=lambda report, cfg, seconds: decontam.format_summary(report, seconds, cfg.output))

if __name__ == "__main__":
    sys.exit(JOB.main())
