"""spark-submit jobs/mix.py --conf conf/mix/NAME.yaml [--output DIR] [--dry-run] [--set key=value ...]

Builds a weighted training mixture (GPT-3 Table 2.2): measures each dataset in GPT-2
tokens, draws documents by weight (whole passes without replacement, then a partial
pass), orders them deterministically from the seed, and writes documents/ (Parquet:
position, dataset, id, epoch, tokens, text) and manifest.json. --dry-run prints and
writes the plan from the declared `tokens` of each dataset, without Spark or data.
"""
import sys

from corpus_pipeline import config, inputs, mix
from corpus_pipeline.job import Job, conf_file


def options(parser):
    parser.add_argument("--dry-run", action="store_true",
                        help="print and write the plan from declared tokens; no Spark (default: off, a build)")
    parser.add_argument("--plan-file", metavar="FILE",
                        help="where --dry-run writes the plan (default: OUTPUT.plan.json)")


def prepare(cfg, args):
    """--dry-run needs no data; a build needs every dataset's path."""
    if args.dry_run:
        return args.plan_file or ""
    for d in cfg.datasets:
        if not d.path or not inputs.exists(d.documents()):
            raise inputs.InputError(f"dataset {d.name}: input not found: {d.documents() if d.path else '(no path)'}")
    return None


def summary(result, cfg, seconds: float) -> str:
    return "" if isinstance(result, mix.Plan) else mix.format_summary(result, seconds, cfg.output)


JOB = Job(prog="mix.py", doc=__doc__, config_class=config.MixConfig,
          set_example="total_tokens=100000", default_conf=conf_file(__file__, "mix/sample.yaml"),
          options=options, prepare=prepare, output_marker="manifest.json", summary=summary,
          uses_spark=lambda args: not args.dry_run, local_work=mix.dry_run,
          work="corpus_pipeline.spark.mix:build_mixture")

if __name__ == "__main__":
    sys.exit(JOB.main())
