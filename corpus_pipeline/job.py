"""The one job base: what every entry point in `jobs/` shares (as cc-pyspark's CCSparkJob.run).

A job file declares a `Job` (its usage, config class and default config, the library
function that does the work, and the one that words its summary) and calls `Job.main`.
The base parses the command line (its --help shows every option's default), loads and
validates the config and checks the inputs and the output folder, all before Spark starts;
builds the session; prints progress lines while Spark works; prints the summary on stdout;
turns a user's mistake, on the command line or later, into one line on stderr (the real
one under spark-submit too) and exit code 1; and stops Spark in every case. Job files never import pyspark:
the work is named as "module:function" and imported only once the checks passed.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
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


class OneLineErrors(argparse.ArgumentParser):
    """A mistake on the command line (an unknown option, a missing value) in one line on
    stderr with exit code 1, as every other mistake; argparse's own is the usage, then the
    message, with exit code 2."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message} (see --help)\n")


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
    set_example: str = ""  # a config key and value that --help shows, e.g. "quality.alpha=3"
    # JVM options the work's result depends on, which `corpus-pipeline JOB` passes to the
    # driver and the executors unless the user gave their own (a JVM flag cannot be set
    # once the JVM runs).
    java_options: str = ""

    def parser(self) -> argparse.ArgumentParser:
        usage, _, description = self.doc.strip().partition("\n\n")
        parser = OneLineErrors(prog=self.prog, usage=usage.strip(), description=description.strip(),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        if self.input_help:
            parser.add_argument("--input", nargs="+", metavar="PATH",
                                help=f"{self.input_help} ({self.config_default('input')})")
        if self.config_class:
            parser.add_argument("--output", metavar="DIR", help=f"{cli.OUTPUT_HELP} ({self.config_default('output')})")
            parser.add_argument("--conf", default=self.default_conf, metavar="FILE",
                                help=f"YAML config (default: {shown_path(self.default_conf)})")
            example = f", e.g. --set {self.set_example}" if self.set_example else ""
            parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                                help=f"override a key of the config{example}; repeatable (default: none)")
        if self.options:
            self.options(parser)
        return parser

    def config_default(self, key: str) -> str:
        """`key` as the default config sets it, for --help: "default: ..." or "required"."""
        value = config_file_value(self.default_conf, key)
        if value is None:
            value = getattr(self.config_class(), key, None) if self.config_class else None
        if isinstance(value, (list, tuple)):
            value = " ".join(str(v) for v in value)
        return f"default: {value}, from --conf" if value else "required"

    def main(self, argv=None) -> int:
        use_launchers_stderr()
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


def config_file_value(path: str | None, key: str):
    """A top-level key of a YAML config file, or None (no file, no key, or not YAML): --help
    must work whatever the config holds."""
    import yaml

    try:
        with open(path or "", encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return None
    return loaded.get(key) if isinstance(loaded, dict) else None


def shown_path(path: str | None) -> str:
    """A path relative to the current folder where it lies below it (conf/filter.yaml)."""
    if not path:
        return "none"
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def use_launchers_stderr():
    """Under spark-submit the JVM that starts this Python process joins its stderr to its
    stdout (Spark's PythonRunner), so errors and progress lines would reach the user on
    stdout. Where that happened (stderr and stdout are one pipe, and a Spark gateway set
    this process up), file descriptor 2 becomes the launching JVM's own stderr (Linux's
    /proc); in any other case it stays as it is."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return
    try:
        sys.stderr.flush()
        ours, out = os.fstat(2), os.fstat(1)
        if (ours.st_dev, ours.st_ino) != (out.st_dev, out.st_ino):
            return
        # O_APPEND: when the launcher's stderr is a file, write at its end, never over it.
        launchers = os.open(f"/proc/{os.getppid()}/fd/2", os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    os.dup2(launchers, 2)
    os.close(launchers)


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
