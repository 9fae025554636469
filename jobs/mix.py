"""spark-submit jobs/mix.py --conf conf/mix/NAME.yaml [--output DIR] [--dry-run] [--set key=value ...]

Builds a weighted training mixture (GPT-3 Table 2.2): measures each dataset in GPT-2
tokens, draws documents by weight (whole passes without replacement, then a partial
pass), orders them deterministically from the seed, and writes documents/ (Parquet:
position, dataset, id, epoch, tokens, text) and manifest.json. --dry-run prints and
writes the plan from the declared `tokens` of each dataset, without Spark or data.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from corpus_pipeline import config, inputs, mix

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "mix" / "sample.yaml"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="mix.py", description=__doc__.splitlines()[2])
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="YAML mixture (default: %(default)s)")
    parser.add_argument("--output", help="output folder (replaced atomically if it holds a previous mixture)")
    parser.add_argument("--dry-run", action="store_true", help="print and write the plan from declared tokens; no Spark")
    parser.add_argument("--plan-file", help="where --dry-run writes the plan (default: OUTPUT.plan.json)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    return parser.parse_args(argv)


def load_settings(args) -> config.MixConfig:
    overrides = list(args.set) + (["output=" + json.dumps(args.output)] if args.output else [])
    return config.load(config.MixConfig, args.conf, overrides)


def check_paths(cfg: config.MixConfig):
    for d in cfg.datasets:
        path = f"{d.path.rstrip('/')}/documents" if d.format == "filter" else d.path
        if not d.path or not (any(ch in d.path for ch in "*?[") or inputs.exists(path)):
            raise inputs.InputError(f"dataset {d.name}: input not found: {path or '(no path)'}")


def dry_run(cfg: config.MixConfig, args) -> int:
    plan = mix.plan_mixture(cfg, {d.name: d.tokens for d in cfg.datasets})
    print(mix.format_plan(plan, f"plan {args.conf}"))
    target = Path(args.plan_file or f"{cfg.output.rstrip('/')}.plan.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(mix.plan_dict(plan), indent=2) + "\n")
    print(f"  plan written to {target}")
    return 1 if plan.errors else 0


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_settings(args)
        if args.dry_run:
            sys.exit(dry_run(cfg, args))
        check_paths(cfg)
    except (config.ConfigError, inputs.InputError) as err:
        sys.exit(f"mix.py: error: {err}")
    from corpus_pipeline.spark.mix import MixPlanError, build_mixture
    from corpus_pipeline.spark.session import get_spark

    started = time.time()
    spark = get_spark(cfg.spark)
    try:
        manifest = build_mixture(spark, cfg)
    except MixPlanError as err:
        spark.stop()
        sys.exit(f"mix.py: error: {err}")
    print(format_summary(manifest, time.time() - started, cfg.output))
    spark.stop()


def format_summary(manifest: dict, seconds: float, output: str) -> str:
    lines = [f"corpus-pipeline mix: {manifest['docs']:,} documents, {manifest['tokens']:,} tokens "
             f"in {manifest['files']} files, seed {manifest['seed']}, in {seconds:.1f} s",
             f"  {'dataset':<16}{'docs avail':>11}{'tokens avail':>14}{'weight':>8}{'target':>12}"
             f"{'drawn':>12}{'share':>8}{'docs':>8}{'epochs':>8}"]
    for d in manifest["datasets"]:
        lines.append(f"  {d['name']:<16}{d['docs_available']:>11,}{d['tokens_available']:>14,}{d['weight']:>8.2%}"
                     f"{d['tokens_drawn']:>12,}{d['tokens_drawn_realised']:>12,}{d['share_realised']:>8.2%}"
                     f"{d['docs_drawn']:>8,}{d['epochs_realised']:>8.3f}")
    lines += [f"  WARNING {w}" for w in manifest["plan"]["warnings"]]
    lines += [f"  NOTE {d['name']}: declared {d['tokens_declared']:,} tokens, measured {d['tokens_available']:,}"
              for d in manifest["datasets"] if d["tokens_declared"] and d["tokens_declared"] != d["tokens_available"]]
    lines.append(f"  output {output}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
