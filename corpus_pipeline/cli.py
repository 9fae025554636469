"""What the jobs' command lines share: --input, --output, --conf and --set, as config overrides."""
from __future__ import annotations

import json

from . import inputs

OUTPUT_HELP = "output folder (replaced atomically if it holds a previous run)"


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
