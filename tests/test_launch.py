"""`corpus-pipeline JOB`: checks before a JVM starts, then this installation's spark-submit."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from corpus_pipeline import launch
from corpus_pipeline.errors import UserError

from .conftest import REPO
from .test_filter_job import SAMPLE_FILES


def bare_environment(**extra) -> dict[str, str]:
    """A new shell's environment: no virtualenv on PATH, no PYSPARK_* variables."""
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/local/bin:/usr/bin:/bin",
           "SPARK_LOCAL_IP": "127.0.0.1", **extra}
    return env


def launch_command(*args: str, cwd=REPO, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_pipeline.launch", *args], cwd=cwd,
                          env=bare_environment(**extra), capture_output=True, text=True, timeout=600)


def test_spark_options_go_before_the_job_and_hyphens_name_it_too():
    names = launch.job_files()
    assert launch.split_command(["--master", "local[4]", "--conf", "a=b", "filter", "--output", "o"], names) == (
        ["--master", "local[4]", "--conf", "a=b"], "filter", ["--output", "o"])
    assert launch.split_command(["import-reference", "--conf", "x.yaml"], names)[1] == "import_reference"
    assert launch.split_command(["--name", "filter", "--verbose", "mix", "--dry-run"], names) == (
        ["--name", "filter", "--verbose"], "mix", ["--dry-run"])  # an option's value is not the job
    with pytest.raises(UserError, match="^no job named$"):
        launch.split_command(["--master", "local"], names)
    with pytest.raises(UserError, match="^no job named filtre$"):
        launch.split_command(["--master", "local", "filtre"], names)


def test_a_jobs_java_options_reach_driver_and_executors_unless_the_user_set_them():
    pin = "-XX:MaxVectorSize=16"
    assert launch.load_job(launch.job_files()["train_classifier"]).java_options == pin
    assert launch.with_java_options(["--master", "local[2]"], pin) == [
        "--driver-java-options", pin, "--conf", f"spark.executor.extraJavaOptions={pin}", "--master", "local[2]"]
    mine = ["--driver-java-options", "-Xss4m", "--conf", "spark.executor.extraJavaOptions=-Xss4m"]
    assert launch.with_java_options(mine, pin) == mine
    assert launch.with_java_options(mine, "") == mine


def test_every_job_file_is_a_command():
    assert set(launch.job_files()) == {path.stem for path in (REPO / "jobs").glob("*.py")} >= {
        "filter", "import_reference", "mix", "pack", "train_classifier", "report"}


def test_a_mistake_is_one_line_before_any_jvm(tmp_path):
    """JAVA_HOME points nowhere: had a JVM been started, spark-submit would fail on it."""
    (tmp_path / "mine").mkdir()
    for args, message in [
        (["filter", "--set", "nosuch.key=1"], "filter.py: error: unknown config key nosuch"),
        (["filter", "--input", "/nonexistent/x.warc.gz"], "filter.py: error: input not found: /nonexistent/x.warc.gz"),
        (["filter", "--input", SAMPLE_FILES[0], "--output", str(tmp_path / "mine")],
         f"filter.py: error: output folder {tmp_path / 'mine'} exists and is not a corpus-pipeline output"),
    ]:
        result = launch_command(*args, JAVA_HOME=str(tmp_path / "no-java"))
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""


def test_no_job_and_help():
    assert launch_command().returncode == 2
    listed = launch_command("--help")
    assert listed.returncode == 0 and "jobs: calibrate_quality, decontaminate, dedup, filter" in listed.stdout
    unknown = launch_command("nosuch")
    assert unknown.returncode == 2 and unknown.stderr.startswith("corpus-pipeline: error: no job named nosuch")
    job_help = launch_command("pack", "--help")
    assert job_help.returncode == 0 and "usage: spark-submit jobs/pack.py" in job_help.stdout


def test_a_spark_free_job_runs_here(tmp_path):
    result = launch_command("mix", "--dry-run")
    assert result.returncode == 0 and "weights sum to 1" in result.stdout, result.stderr


@pytest.mark.spark
def test_the_filter_runs_from_a_new_shell(tmp_path):
    """No virtualenv on PATH: the launcher's spark-submit and interpreter are used for the
    driver and the workers, and the run is the job's own."""
    out = tmp_path / "out"
    result = launch_command("--master", "local[2]", "filter", "--input", SAMPLE_FILES[0], "--output", str(out),
                            "--set", "quality.model=", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_read"] > 0 and f"{stats['records_read']} records read" in result.stdout
