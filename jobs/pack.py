"""spark-submit jobs/pack.py --input DIR [DIR ...] --output DIR [--conf FILE] [--set key=value ...]

Tokenizes Parquet documents (a `text` column; a mixture's `position` column gives the
order) with the GPT-2 BPE and packs them, each followed by <|endoftext|>, into rows of
exactly 2048 tokens: uint16 shard files, metadata.json, documents/ and stats.json.
"""
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import code_version, cli, config, inputs

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "pack.yaml"


def parse_args(argv):
    return cli.job_parser("pack.py", __doc__, DEFAULT_CONF, "Parquet folders with a text column").parse_args(argv)


def load_settings(args) -> config.PackJobConfig:
    cfg = config.load(config.PackJobConfig, args.conf, cli.overrides(args))
    cli.require_paths(cfg.input)
    return cfg


def run(spark, cfg: config.PackJobConfig) -> dict:
    from corpus_pipeline.spark.output import AtomicOutput
    from corpus_pipeline.spark.pack import pack_documents

    started = time.time()
    with AtomicOutput(spark, cfg.output) as out:
        meta = pack_documents(spark, list(cfg.input), cfg.pack, out)
        meta.update(inputs=list(cfg.input), code_version=code_version())
        out.write_text("metadata.json", json.dumps(meta, indent=2) + "\n")
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        summary = {k: meta[k] for k in ("documents", "empty_documents", "documents_dropped", "stream_tokens",
                                         "rows", "tail_tokens", "pad_tokens", "dropped_tokens")}
        summary.update(shards=len(meta["shards"]), seconds=round(time.time() - started, 1),
                       code_version=meta["code_version"])
        out.write_text("stats.json", json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_settings(args)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"pack.py: error: {err}")
    from corpus_pipeline.spark.pack import PackInputError
    from corpus_pipeline.spark.session import get_spark

    spark = get_spark(cfg.spark)
    try:
        summary = run(spark, cfg)
    except PackInputError as err:
        sys.exit(f"pack.py: error: {err}")
    finally:
        spark.stop()
    print(f"corpus-pipeline pack: {summary['documents']:,} documents ({summary['empty_documents']:,} empty skipped), "
          f"{summary['stream_tokens']:,} tokens in {summary['seconds']} s")
    print(f"  {summary['rows']:,} rows of {cfg.pack.seq_len + cfg.pack.with_target} tokens in {summary['shards']} "
          f"shards; tail {summary['tail_tokens']:,} tokens ({cfg.pack.tail}: "
          f"{summary['pad_tokens']:,} padding, {summary['dropped_tokens']:,} dropped)")
    print(f"  output {cfg.output}")


if __name__ == "__main__":
    main()
