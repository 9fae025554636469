"""The one job base: what every entry point in `jobs/` shares (as cc-pyspark's CCSparkJob.run).

A job file declares a `Job` (its usage, config class and default config, the library
function that does the work, and the one that words its summary) and calls `Job.main`.
The base parses the command line, loads and validates the config and checks the inputs
and the output folder, all before Spark starts; builds the session; prints a progress
line while Spark works; prints the summary; turns a user's mistake into one line on
stderr and exit code 1; and stops Spark in every case. Job files never import pyspark:
the work is named as "module:function" and imported only once the checks passed.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import fsspec

from . import cli, config
from .errors import UserError



def conf_file(job_file: str, name: str) -> str:
    """A job's default config, `conf/<name>` beside its `jobs/` folder: found from the job
    file, since the package itself may run from a zip (spark-submit --py-files)."""
    return str(Path(job_file).resolve().parent.parent / "conf" / name)


@dataclass(frozen=True)
class Job:
    prog: str  # e.g. "filter.py", the prefix of every message
    doc: str  # the job file's docstring: usage line, blank line, description
    summary: Callable  # (result, cfg or args, seconds) -> the text printed when the work is done
    # The Spark work, "module:function", imported once the checks passed and called as
    # function(spark, cfg[, prepared]) -> result.
    work: str = ""
    # Work without Spark, called as function(cfg or args[, prepared]) -> result, instead of
    # `work` when `uses_spark(args)` is false (e.g. mix --dry-run).
    local_work: Callable | None = None
    config_class: type | None = None  # None: the job takes only its own options
    default_conf: str | None = None  # a path: conf_file(__file__, "x.yaml") in the job file
    input_help: str | None = None  # adds --input (config key `input`)
    options: Callable[[argparse.ArgumentParser], None] | None = None  # the job's own options
    overrides: Callable[[argparse.Namespace], list[str]] | None = None  # its options as config keys
    prepare: Callable | None = None  # (cfg, args) -> what the work needs; checks before Spark
    output_marker: str | None = "stats.json"  # an existing --output must hold this, or it is refused
    uses_spark: Callable[[argparse.Namespace], bool] = lambda args: True  # else local_work runs
    progress: bool = True  # False where the work prints its own progress line
    finish: Callable | None = None  # (cfg, result) -> None, after the work, without Spark

    def parser(self) -> argparse.ArgumentParser:
        usage, _, description = self.doc.strip().partition("\n\n")
        parser = argparse.ArgumentParser(prog=self.prog, usage=usage.strip(), description=description.strip(),
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        if self.input_help:
            parser.add_argument("--input", nargs="+", help=self.input_help)
        if self.config_class:
            parser.add_argument("--output", help=cli.OUTPUT_HELP)
            parser.add_argument("--conf", default=self.default_conf, help="YAML config (default: %(default)s)")
            parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                                help="override a config key, e.g. --set quality.alpha=3 (repeatable)")
        if self.options:
            self.options(parser)
        return parser

    def main(self, argv=None) -> int:
        args = self.parser().parse_args(argv)
        try:
            cfg, prepared = self.checked(args)
            started = time.time()
            result = self.run(args, cfg, prepared)
            if self.finish:
                self.finish(cfg, result)
        except UserError as err:
            print(f"{self.prog}: error: {err}", file=sys.stderr)
            return 1
        text = self.summary(result, cfg if cfg is not None else args, time.time() - started)
        if text:
            print(text)
        return 0

    def checked(self, args):
        """(config, what the work needs) once the config, inputs and output folder passed
        every check that needs no Spark; a UserError otherwise."""
        cfg = self.load(args)
        prepared = self.prepare(cfg, args) if self.prepare else default_prepare(cfg)
        if cfg is not None and self.output_marker:
            refuse_foreign_output(cfg.output, self.output_marker)
        return cfg, prepared

    def load(self, args):
        if not self.config_class:
            return None
        extra = self.overrides(args) if self.overrides else []
        return config.load(self.config_class, args.conf, cli.overrides(args) + extra)

    def run(self, args, cfg, prepared):
        extra = () if prepared is None else (prepared,)
        if not self.uses_spark(args):
            return self.local_work(cfg if cfg is not None else args, *extra)
        module, _, name = self.work.partition(":")
        work = getattr(importlib.import_module(module), name)
        from .spark.progress import stage_heartbeat
        from .spark.session import get_spark

        spark = get_spark(cfg.spark)
        try:
            beat = stage_heartbeat(spark) if self.progress else contextlib.nullcontext()
            with beat:
                return work(spark, cfg, *extra)
        finally:
            spark.stop()


def default_prepare(cfg):
    """Every configured input must exist before Spark starts."""
    if cfg is not None and getattr(cfg, "input", None):
        cli.require_paths(cfg.input)
    return None


def refuse_foreign_output(path: str, marker: str):
    """An existing output folder is replaced only when a run of ours wrote it (it holds `marker`);
    checked here so that the refusal comes before Spark starts, in one line."""
    fs, root = fsspec.core.url_to_fs(path)
    if fs.exists(root) and not fs.exists(f"{root.rstrip('/')}/{marker}"):
        raise UserError(f"output folder {path} exists and is not a corpus-pipeline output; "
                        "remove it or choose another --output")


def json_list(key: str, values) -> list[str]:
    """A config override for a list-valued option."""
    return [f"{key}={json.dumps(list(values))}"] if values else []
