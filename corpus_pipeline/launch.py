"""corpus-pipeline [SPARK-SUBMIT OPTIONS] JOB [JOB OPTIONS]: every job from any shell.

`corpus-pipeline filter --input crawl/ --output out/` is `spark-submit jobs/filter.py
--input crawl/ --output out/`, with two differences. The job's command line, config,
inputs and output folder are checked first in plain Python (about a second, before a JVM
starts), so a mistake is one line on stderr at once. And the driver and the Python workers
use this installation's interpreter, and its spark-submit, so that the command works in a
new shell without activating the virtualenv. Jobs that need no Spark (report,
calibrate_quality, train_boilerplate, mix --dry-run) run here directly. Spark's own options
(`--master`, `--conf`, `--driver-memory`, ...) go before the job's name.

Needs the repository's jobs/ folder beside the package: an editable install (`pip install
-e .`, as the README's first command) or a run from the clone.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from .errors import UserError

JOBS = Path(__file__).resolve().parent.parent / "jobs"
PROG = "corpus-pipeline"


def job_files() -> dict[str, Path]:
    return {path.stem: path for path in sorted(JOBS.glob("*.py"))}


def usage() -> str:
    names = ", ".join(job_files()) or f"none: no jobs/ folder at {JOBS}"
    return (f"usage: {PROG} [SPARK-SUBMIT OPTIONS] JOB [JOB OPTIONS]\n"
            f"jobs: {names}\n`{PROG} JOB --help` shows a job's options.")


# spark-submit's options that take no value; every other one takes the next argument.
FLAGS = {"--verbose", "-v", "--supervise", "--version"}


def split_command(argv: list[str], names) -> tuple[list[str], str, list[str]]:
    """(spark-submit options, job name, the job's arguments): the job is the first argument
    that is not an option or an option's value (hyphens in its name read as underscores)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 if "=" in argv[i] or argv[i] in FLAGS else 2
    name = argv[i].replace("-", "_") if i < len(argv) else None
    if name not in names:
        raise UserError(f"no job named {argv[i]}" if name else "no job named")
    return argv[:i], name, argv[i + 1:]


def load_job(path: Path):
    spec = importlib.util.spec_from_file_location(f"corpus_pipeline_job_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.JOB


def spark_submit_command(spark_options: list[str], job_file: Path, job_args: list[str],
                         java_options: str = "") -> list[str]:
    here = Path(sys.executable).parent / "spark-submit"  # the one installed with pyspark beside us
    found = str(here) if here.exists() else shutil.which("spark-submit")
    if not found:
        raise UserError("spark-submit not found: install the project (pip install -e .) in this environment")
    return [found, *with_java_options(spark_options, java_options), str(job_file), *job_args]


def with_java_options(spark_options: list[str], java_options: str) -> list[str]:
    """The job's JVM options for the driver and the executors, where the user set none."""
    if not java_options:
        return spark_options
    given = " ".join(spark_options)
    added = []
    if "--driver-java-options" not in given and "spark.driver.extraJavaOptions" not in given:
        added += ["--driver-java-options", java_options]
    if "spark.executor.extraJavaOptions" not in given:
        added += ["--conf", f"spark.executor.extraJavaOptions={java_options}"]
    return added + spark_options


def spark_environment() -> dict[str, str]:
    """This interpreter for the driver and the workers, unless the user chose one."""
    env = dict(os.environ)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return env


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    files = job_files()
    try:
        spark_options, name, job_args = split_command(argv, files)
    except UserError as err:
        print(f"{PROG}: error: {err}\n{usage()}", file=sys.stderr)
        return 2
    job = load_job(files[name])
    args = job.parser().parse_args(job_args)  # --help and usage errors exit here, as the job would
    if not job.uses_spark(args):
        return job.main(job_args)
    try:
        job.checked(args)
        command = spark_submit_command(spark_options, files[name], job_args, job.java_options)
    except UserError as err:
        print(f"{job.prog}: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    os.execvpe(command[0], command, spark_environment())
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
