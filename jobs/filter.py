"""spark-submit jobs/filter.py [--input PATH ...] [--output DIR] [--conf FILE] [--set key=value ...]

Reads WARC/WET/ARC files (paths, folders, globs or manifests) and runs the stage chain:
ingest (records -> main text and language), tag (quality score), select (the Pareto rule),
fuzzy dedup, repeated-line removal and, when benchmarks are listed, decontamination. Writes
documents/, dropped/ (every record not kept, with its reason), stats.json and report.html
to the output folder; each stage's own output stays in the stage store (OUTPUT.shards/) and
is reused by the next run where its settings did not change. With no arguments:
conf/filter.yaml on the bundled sample in data/sample.
"""
import sys

from corpus_pipeline import cli, config, inputs, stats
from corpus_pipeline.job import Job, conf_file


def prepare(cfg, args) -> list[str]:
    """The archive files to read; the quality model, dedup references and benchmarks must exist."""
    if cfg.quality.model and not inputs.exists(f"{cfg.quality.model}/manifest.json"):
        raise config.ConfigError(f"quality.model: no trained model at {cfg.quality.model} "
                                 "(train one with jobs/train_classifier.py, or --set quality.model= to skip scoring)")
    cli.require_paths([s.path for s in cfg.dedup.references] + [b.path for b in cfg.decontam.benchmarks])
    return inputs.expand(cfg.input, cfg.input_prefix)


def write_report(cfg, result):
    """The report, once the run is written; imported here, since plotting takes a second to
    import and a mistake on the command line should not wait for it."""
    from corpus_pipeline import report

    report.write_report(cfg.output)


JOB = Job(prog="filter.py", doc=__doc__, config_class=config.FilterConfig,
          set_example="quality.alpha=3", default_conf=conf_file(__file__, "filter.yaml"),
          input_help="archive files, folders, globs or manifests",
          prepare=prepare, work="corpus_pipeline.spark.filter:run_filter", progress=False,
          summary=lambda result, cfg, seconds: stats.format_summary(result, seconds, cfg.output),
          finish=write_report)

if __name__ == "__main__":
    sys.exit(JOB.main())
