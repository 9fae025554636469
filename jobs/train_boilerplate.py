"""python jobs/train_boilerplate.py [--data DIR] [--output FILE] [--hold-out NAME ...] [--limit N]

Trains the block classifier of corpus_pipeline/boilerplate.py on the human-gold extraction sets.
Writes the model JSON and its manifest beside it (data fingerprint, code version,
parameters, model digest). The shipped model is replaced only when --output names it:
--output corpus_pipeline/boilerplate_model.json (its manifest: boilerplate_manifest.json).
Same gold pages, same code: the same bytes. Takes a few minutes (2,417 pages).
"""
import argparse
import logging
import sys
import time
from pathlib import Path

from corpus_pipeline import boilerplate_training, goldsets


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="train_boilerplate.py", description=__doc__.splitlines()[2],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=str(goldsets.DEFAULT_ROOT), help="the web_html gold folder")
    parser.add_argument("--output", default="output/boilerplate_model.json", help="model JSON to write")
    parser.add_argument("--hold-out", nargs="*", default=[], choices=list(goldsets.GOLD_SETS),
                        help="gold sets to leave out of training")
    parser.add_argument("--limit", type=int, help="at most N pages per gold set; none: all")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        root = goldsets.find_root(args.data)
    except FileNotFoundError as err:
        sys.exit(f"train_boilerplate.py: error: {err}; pass --data DIR")
    datasets = [name for name in goldsets.GOLD_SETS if name not in args.hold_out]
    started = time.time()
    output = Path(args.output)
    manifest = boilerplate_training.train_and_write(root, datasets, output, args.limit)
    print(f"block model {manifest['model_version']} trained in {time.time() - started:.0f} s on "
          + ", ".join(f"{name} {n}" for name, n in manifest["data"]["gold_pages"].items())
          + f" gold pages (fingerprint {manifest['data']['fingerprint']})")
    print(f"  model     {output}\n  manifest  {boilerplate_training.manifest_path(output)}")


if __name__ == "__main__":
    main()
