"""spark-submit jobs/decontaminate.py --input DIR [DIR ...] --output DIR [--conf FILE] [--set key=value ...]

Benchmark decontamination (GPT-3 Appendix C) of Parquet documents (at least `id` and
`text`; the dataset column, `source` by default, gives the report's per-dataset rows).
Writes documents/ (kept and modified, with decontam_pieces and decontam_chars_removed),
dropped/ (reason contaminated, original text), spans/ (every removed span with the
benchmark examples it matched), report.json (GPT-3 Table C.1 style) and stats.json.
jobs/filter.py runs the same stage after dedup.
"""
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import code_version, cli, config, inputs

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "decontam.yaml"


def parse_args(argv):
    return cli.job_parser("decontaminate.py", __doc__, DEFAULT_CONF, "Parquet folders with id and text").parse_args(argv)


def load_settings(args) -> config.DecontamJobConfig:
    cfg = config.load(config.DecontamJobConfig, args.conf, cli.overrides(args))
    cli.require_paths(cfg.input + tuple(b.path for b in cfg.decontam.benchmarks))
    return cfg


def run(spark, cfg: config.DecontamJobConfig) -> dict:
    from pyspark.sql import functions as F

    from corpus_pipeline.spark.decontam import decontaminate
    from corpus_pipeline.spark.output import AtomicOutput

    started = time.time()
    with AtomicOutput(spark, cfg.output) as out:
        docs = spark.read.parquet(*cfg.input)
        decided, spans, report = decontaminate(spark, docs, cfg.decontam, cfg.dataset_column)
        decided = decided.cache()
        decided.filter(F.col("decontam_reason").isNull()).drop("decontam_reason").write.parquet(out.path("documents"))
        decided.filter(F.col("decontam_reason").isNotNull()).withColumnRenamed("decontam_reason", "reason").write.parquet(
            out.path("dropped"))
        spans.write.parquet(out.path("spans"))
        # Counts read back from what was written, not from the plan (retries cannot skew them).
        report["kept"] = spark.read.parquet(out.path("documents")).count()
        report["dropped"] = {"contaminated": spark.read.parquet(out.path("dropped")).count()}
        report["spans"] = spark.read.parquet(out.path("spans")).count()
        report["seconds"] = round(time.time() - started, 1)
        out.write_text("report.json", json.dumps(report, indent=2) + "\n")
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        out.write_text("stats.json", json.dumps(dict(report, code_version=code_version()), indent=2) + "\n")
    return report


def table_c1(report: dict) -> str:
    """The report as text: GPT-3 Table C.1's columns per benchmark, then the datasets."""
    lines = [f"{'benchmark':<16} {'split':<5} {'examples':>8} {'too short':>9} {'dirty':>6} {'clean':>6} {'dirty %':>8}"]
    for name, row in report["benchmarks"].items():
        share = "" if row["dirty_fraction"] is None else f"{100 * row['dirty_fraction']:.2f}%"
        lines.append(f"{name:<16} {row['split']:<5} {row['examples']:>8,} {row['too_short']:>9,} {row['dirty']:>6,} "
                     f"{row['clean']:>6,} {share:>8}")
    lines.append(f"{'dataset':<16} {'docs':>8} {'kept':>8} {'modified':>8} {'removed':>8} {'chars removed':>14}")
    for name, row in report["datasets"].items():
        lines.append(f"{name:<16} {row['docs']:>8,} {row['kept']:>8,} {row['modified']:>8,} {row['removed']:>8,} "
                     f"{row['chars_removed_from_modified']:>14,}")
    grams = report["grams"]
    lines.append(f"grams matched {grams['matched']:,}; ignored as frequent (> {report['rule']['max_doc_frequency']} "
                 f"documents) {grams['ignored_frequent']:,}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_settings(args)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"decontaminate.py: error: {err}")
    from corpus_pipeline.spark.session import get_spark

    spark = get_spark(cfg.spark)
    report = run(spark, cfg)
    modified = sum(row["modified"] for row in report["datasets"].values())
    print(f"corpus-pipeline decontaminate: {report['kept']:,} documents written ({modified:,} modified), "
          f"{report['dropped']['contaminated']:,} dropped as contaminated, {report['spans']:,} spans removed, "
          f"in {report['seconds']} s")
    print(table_c1(report))
    print(f"  output {cfg.output}")
    spark.stop()


if __name__ == "__main__":
    main()
