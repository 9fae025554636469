"""spark-submit jobs/dedup.py --input DIR [DIR ...] --output DIR [--reference DIR ...] [--conf FILE] [--set key=value ...]

Fuzzy deduplication of Parquet documents (at least `id` and `text`; `quality_score` picks
the document a cluster keeps) within the input and against reference datasets, whose
documents are never removed. Writes documents/, dropped/ (reason duplicate or
duplicate_of_reference, and duplicate_of) and stats.json. jobs/filter.py runs the same
stage after quality sampling.
"""
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import code_version, cli, config, inputs

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "dedup.yaml"


def parse_args(argv):
    parser = cli.job_parser("dedup.py", __doc__, DEFAULT_CONF, "Parquet folders with id and text")
    parser.add_argument("--reference", nargs="+", default=[], help="Parquet folders of reference documents")
    return parser.parse_args(argv)


def load_settings(args) -> config.DedupJobConfig:
    overrides = cli.overrides(args)
    if args.reference:
        refs = [{"name": Path(p.rstrip("/")).name, "format": "parquet", "path": p} for p in args.reference]
        overrides.append("dedup.references=" + json.dumps(refs))
    cfg = config.load(config.DedupJobConfig, args.conf, overrides)
    cli.require_paths(cfg.input + tuple(s.path for s in cfg.dedup.references))
    return cfg


def run(spark, cfg: config.DedupJobConfig) -> dict:
    from pyspark.sql import functions as F

    from corpus_pipeline.spark.dedup import deduplicate, reference_documents
    from corpus_pipeline.spark.output import AtomicOutput

    with AtomicOutput(spark, cfg.output) as out:
        frames = [spark.read.parquet(p) for p in cfg.input]
        targets = frames[0]
        for frame in frames[1:]:
            targets = targets.unionByName(frame, allowMissingColumns=True)
        tagged, report = deduplicate(targets, reference_documents(spark, cfg.dedup), cfg.dedup)
        tagged = tagged.cache()
        tagged.filter(F.col("dedup_reason").isNull()).drop("dedup_reason", "duplicate_of").write.parquet(
            out.path("documents"))
        tagged.filter(F.col("dedup_reason").isNotNull()).withColumnRenamed("dedup_reason", "reason").write.parquet(
            out.path("dropped"))
        report["kept"] = spark.read.parquet(out.path("documents")).count()
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        out.write_text("stats.json", json.dumps(dict(report, code_version=code_version()), indent=2) + "\n")
    return report


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_settings(args)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"dedup.py: error: {err}")
    from corpus_pipeline.spark.session import get_spark

    started = time.time()
    spark = get_spark(cfg.spark)
    report = run(spark, cfg)
    print(f"corpus-pipeline dedup ({report['mode']}): {report['docs']:,} documents, "
          f"{report['references']:,} reference documents, in {time.time() - started:.1f} s")
    print(f"  candidate pairs {report['candidate_pairs']:,} ({report['candidate_pairs_per_doc']} per document), "
          f"verified {report['verified_pairs']:,}")
    print(f"  kept {report['kept']:,}; removed " + ", ".join(f"{k} {v:,}" for k, v in report["removed"].items())
          + f" ({100 * report['removed_fraction']:.1f}%)")
    print(f"  output {cfg.output}")
    spark.stop()


if __name__ == "__main__":
    main()
