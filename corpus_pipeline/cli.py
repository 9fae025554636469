"""What the jobs' command lines share: --input, --output, --conf and --set, as config overrides."""
from __future__ import annotations

import argparse
import json

from . import inputs

OUTPUT_HELP = "output folder (replaced atomically if it holds a previous run)"


def job_parser(prog: str, doc: str, default_conf, input_help: str) -> argparse.ArgumentParser:
    """A parser with the four common options; the job adds its own. The description is the
    third line of the job's docstring (the first is its usage line)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[2])
    parser.add_argument("--input", nargs="+", help=input_help)
    parser.add_argument("--output", help=OUTPUT_HELP)
    parser.add_argument("--conf", default=str(default_conf), help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    return parser


def overrides(args) -> list[str]:
    """The --set items, then --input and --output as the config keys they stand for."""
    found = list(args.set)
    for key in ("input", "output"):
        if getattr(args, key, None):
            found.append(f"{key}={json.dumps(getattr(args, key))}")
    return found


def require_paths(paths):
    """Stop before Spark starts when an input is missing, with the path in the message."""
    for path in paths:
        if not inputs.exists(path):
            raise inputs.InputError(f"input not found: {path}")
