"""python jobs/train_boilerplate.py [--data DIR] [--output FILE] [--hold-out NAME ...] [--limit N]

Trains the block classifier of corpus_pipeline/boilerplate.py on the human-gold extraction sets.
Writes the model JSON and its manifest beside it (data fingerprint, code version,
parameters, model digest). The shipped model is replaced only when --output names it:
--output corpus_pipeline/boilerplate_model.json (its manifest: boilerplate_manifest.json).
Same gold pages, same code: the same bytes. Takes a few minutes (2,417 pages).
"""
import logging
import sys

from corpus_pipeline import boilerplate_training, goldsets
from corpus_pipeline.job import Job


def options(parser):
    parser.add_argument("--data", default=str(goldsets.DEFAULT_ROOT),
                        help="the web_html gold folder (default: %(default)s)")
    parser.add_argument("--output", default="output/boilerplate_model.json",
                        help="model JSON to write (default: %(default)s)")
    parser.add_argument("--hold-out", nargs="*", default=[], choices=list(goldsets.GOLD_SETS),
                        help="gold sets to leave out of training (default: none)")
    parser.add_argument("--limit", type=int, help="at most N pages per gold set (default: all)")


JOB = Job(prog="train_boilerplate.py", doc=__doc__, options=options, uses_spark=lambda args: False,
          local_work=boilerplate_training.train_command,
          summary=lambda manifest, args, seconds: boilerplate_training.format_summary(manifest, args.output, seconds))

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    sys.exit(JOB.main())
