"""The job base: checks before Spark, one-line errors, Spark stopped in every case; thin jobs."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from corpus_pipeline import config
from corpus_pipeline.errors import UserError
from corpus_pipeline.job import Job

from .conftest import REPO

DOC = """python x.py [--output DIR]

Does x.
"""


class FakeSpark:
    stopped = 0

    def stop(self):
        FakeSpark.stopped += 1


def spark_job(work: str, **kwargs) -> Job:
    return Job(prog="x.py", doc=DOC, config_class=config.DedupJobConfig, default_conf=str(REPO / "conf/dedup.yaml"),
               input_help="folders", work=work, progress=False, summary=lambda result, cfg, s: f"done {result}",
               **kwargs)


def failing_work(spark, cfg):
    raise RuntimeError("a bug")


def user_error_work(spark, cfg):
    raise UserError("a bad input")


def fine_work(spark, cfg):
    return len(cfg.input)


@pytest.fixture
def fake_spark(monkeypatch):
    from corpus_pipeline.spark import session

    FakeSpark.stopped = 0
    monkeypatch.setattr(session, "get_spark", lambda cfg: FakeSpark())
    return FakeSpark


def test_spark_is_stopped_after_success_a_users_error_and_a_bug(fake_spark, tmp_path, capsys):
    args = ["--input", str(tmp_path), "--output", str(tmp_path / "out")]
    assert spark_job("tests.test_job:fine_work").main(args) == 0
    assert capsys.readouterr().out == "done 1\n"
    assert spark_job("tests.test_job:user_error_work").main(args) == 1
    assert capsys.readouterr().err == "x.py: error: a bad input\n"
    with pytest.raises(RuntimeError, match="a bug"):  # a bug keeps its traceback
        spark_job("tests.test_job:failing_work").main(args)
    assert fake_spark.stopped == 3


def test_mistakes_are_refused_in_one_line_before_spark_starts(fake_spark, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    cases = {("--input", str(tmp_path / "nowhere")): f"input not found: {tmp_path / 'nowhere'}",
             ("--input", str(tmp_path), "--set", "dedup.bands=x"): "dedup.bands must be int",
             ("--input", str(tmp_path), "--output", str(foreign)): "is not a corpus-pipeline output"}
    for args, message in cases.items():
        assert spark_job("tests.test_job:fine_work").main(list(args)) == 1
        err = capsys.readouterr().err
        assert err.startswith("x.py: error: ") and message in err and err.count("\n") == 1
    assert fake_spark.stopped == 0


def test_help_shows_usage_description_and_defaults(capsys):
    with pytest.raises(SystemExit):
        spark_job("tests.test_job:fine_work").main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    assert shown.startswith("usage: python x.py [--output DIR]") and "Does x." in shown
    assert "(default: " in shown and "dedup.yaml" in shown


def job_files() -> dict[str, Job]:
    """Every job of jobs/, imported from its file as spark-submit runs it."""
    import importlib.util

    jobs = {}
    for path in sorted((REPO / "jobs").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"job_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        jobs[path.name] = module.JOB
    return jobs


def test_every_option_of_every_job_says_its_default(monkeypatch):
    monkeypatch.chdir(REPO)  # --conf defaults are shown relative to the folder one runs in
    for name, job in job_files().items():
        parser = job.parser()
        assert parser.description and parser.description.rstrip().endswith("."), name  # whole sentences
        for action in parser._actions:
            if action.dest != "help":
                assert "default" in action.help or "required" in action.help, (name, action.dest, action.help)
        if job.config_class:
            shown = " ".join(parser.format_help().split())
            assert f"(default: {Path(job.default_conf).relative_to(REPO)})" in shown, name
            assert "--set KEY=VALUE override a key of the config, e.g. --set " in shown, name


def test_a_command_line_mistake_is_one_line_with_exit_code_1(capsys):
    for argv in (["--bogus"], ["--input"]):
        with pytest.raises(SystemExit) as stopped:
            spark_job("tests.test_job:fine_work").main(argv)
        err = capsys.readouterr().err
        assert stopped.value.code == 1 and err.startswith("x.py: error: ") and err.count("\n") == 1, err


def test_job_files_are_thin_and_never_import_pyspark():
    for path in sorted((REPO / "jobs").glob("*.py")):
        tree = ast.parse(Path(path).read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith(("pyspark", "corpus_pipeline.spark"))], path.name
        assert "JOB = Job(" in path.read_text() and len(path.read_text().splitlines()) < 60, path.name


def test_local_masters_get_task_retries():
    from corpus_pipeline.spark.session import with_task_retries

    assert [with_task_retries(m) for m in ("local", "local[2]", "local[*]")] == ["local[1,4]", "local[2,4]",
                                                                                  "local[*,4]"]
    assert [with_task_retries(m) for m in ("local[2,1]", "spark://h:7077", "yarn", "k8s://h")] == [
        "local[2,1]", "spark://h:7077", "yarn", "k8s://h"]
