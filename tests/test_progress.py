"""The progress line: Spark UI address, periodic lines with stage tasks, committed files and records."""
from __future__ import annotations

import re
import threading

from corpus_pipeline import config, ingest, inputs
from corpus_pipeline.spark.progress import FIRST_EVERY_S, next_wait, progress_reporter, stage_heartbeat
from corpus_pipeline.stats import counted

from .conftest import SAMPLE

SAMPLE_FILES = inputs.expand([str(SAMPLE)])


def ingest_after(flag: str, path: str) -> int:
    """Ingest one file once `flag` exists: the stage stays active until the test has seen it."""
    import os
    import time

    for _ in range(1200):  # at most a minute, so that a broken test cannot hang the suite
        if os.path.exists(flag):
            break
        time.sleep(0.05)
    return sum(1 for _ in ingest.process_file(path, config.IngestConfig()))


def test_progress_lines_show_stage_tasks_then_committed_files_and_records(spark, tmp_path):
    lines: list[str] = []
    seen_stage = threading.Event()

    def emit(line: str):
        lines.append(line)
        if re.search(r"stage \d+: \d+/6 tasks", line):
            seen_stage.set()

    flag = str(tmp_path / "go")
    with progress_reporter(spark, total_files=len(SAMPLE_FILES), every_s=0.2, emit=emit) as progress:
        job_result = []
        job = threading.Thread(target=lambda: job_result.append(spark.sparkContext.parallelize(
            SAMPLE_FILES, len(SAMPLE_FILES)).map(lambda p: ingest_after(flag, p)).collect()))
        job.start()
        saw_stage = seen_stage.wait(60)
        (tmp_path / "go").write_text("")
        job.join()
        progress.files_done(len(SAMPLE_FILES), sum(job_result[0]))
    assert saw_stage, lines
    assert lines[0] == "Spark UI: off (spark.ui.enabled=false)"  # the test session has no UI
    assert all(line.startswith("progress: ingest: files ") for line in lines[1:])
    assert any(line.startswith("progress: ingest: files 0/6 (0.0%), 0 records, 0 records/s; stage ") for line in lines)
    # The last line comes when the block ends: every file and the sample's 311 records, at a real rate.
    last = re.fullmatch(r"progress: ingest: files 6/6 \(100\.0%\), 311 records, ([\d,]+) records/s", lines[-1])
    assert last and int(last.group(1).replace(",", "")) > 0, lines[-1]


def test_reused_files_count_as_done_but_not_in_the_rate(spark):
    lines: list[str] = []
    with progress_reporter(spark, total_files=4, every_s=3600, emit=lines.append) as progress:
        progress.files_reused(3)
        progress.files_done(0, 1)
        progress.now("dedup")
    assert lines[-1].startswith("progress: dedup: files 3/4 (75.0%) (3 reused), 1 record, ")


def test_a_job_without_files_says_where_it_is_every_few_seconds(spark):
    lines: list[str] = []
    seen = threading.Event()

    def emit(line: str):
        lines.append(line)
        if line.startswith("progress: "):
            seen.set()

    with stage_heartbeat(spark, every_s=0.2, emit=emit):
        assert seen.wait(10)
    assert lines[0] == "Spark UI: off (spark.ui.enabled=false)"
    assert re.fullmatch(r"progress: \d+ s", lines[1]), lines


def test_lines_come_often_in_the_first_minute_then_every_interval():
    assert [next_wait(t, 30) for t in (0, 59, 60, 3600)] == [FIRST_EVERY_S, FIRST_EVERY_S, 30, 30]
    assert next_wait(0, 0.2) == 0.2  # a shorter interval wins from the start
    assert [counted(n, "record") for n in (0, 1, 2, 1234)] == ["0 records", "1 record", "2 records", "1,234 records"]
