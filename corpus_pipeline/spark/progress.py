"""A progress line in the driver log while a long job runs.

Consumes the driver's SparkContext (its UI address and `statusTracker()`) and the counts the
job reports as it commits input files; produces, every `every_s` seconds, one line such as

    progress: files 412/1,000 (41.2%), 1,234,567 records, 1,234 records/s; stage 37: 5/8 tasks

Files and records are what the job has committed (each batch of input files is written and
counted before it is reported), so the rate is honest about finished work: it never counts
a task that is later retried, and it runs up to the last commit. Stage task counts come
from the status tracker and show the work in between. The line goes to stderr, where
spark-submit's driver log is.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Callable


def to_stderr(line: str):
    print(line, file=sys.stderr, flush=True)


class ProgressReporter:
    """Counts committed files and records; `line()` says where the job stands."""

    def __init__(self, spark, total_files: int, emit: Callable[[str], None] = to_stderr):
        self._tracker = spark.sparkContext.statusTracker()
        self.total_files = total_files
        self.emit = emit
        self.started = self.last_commit = time.monotonic()
        self._lock = threading.Lock()
        self.files = self.records = 0
        self.reused_files = 0

    def files_done(self, files: int, records: int):
        """The job committed `files` input files holding `records` records."""
        with self._lock:
            self.files += files
            self.records += records
            self.last_commit = time.monotonic()

    def files_reused(self, files: int):
        """Files a previous run already committed: done, but not work of this run's rate."""
        with self._lock:
            self.reused_files += files

    def line(self) -> str:
        with self._lock:
            files, records, reused, seconds = self.files, self.records, self.reused_files, self.last_commit - self.started
        done = files + reused
        share = f" ({100 * done / self.total_files:.1f}%)" if self.total_files else ""
        # Up to the last commit: the rate of finished work, which does not decay while the
        # job does something else (dedup, writing) after the last file.
        rate = records / seconds if records else 0.0
        parts = [f"files {done:,}/{self.total_files:,}{share}", f"{records:,} records", f"{rate:,.0f} records/s"]
        reused_note = f" ({reused:,} reused)" if reused else ""
        return f"progress: {parts[0]}{reused_note}, {parts[1]}, {parts[2]}{self.stages()}"

    def stages(self) -> str:
        return running_stages(self._tracker)


def running_stages(tracker) -> str:
    """The running stages' task counts, e.g. '; stage 37: 5/8 tasks'."""
    infos = [tracker.getStageInfo(s) for s in sorted(tracker.getActiveStageIds())]
    return "".join(f"; stage {i.stageId}: {i.numCompletedTasks}/{i.numTasks} tasks" for i in infos if i)


def ui_line(spark) -> str:
    url = spark.sparkContext.uiWebUrl
    return f"Spark UI: {url}" if url else "Spark UI: off (spark.ui.enabled=false)"


@contextlib.contextmanager
def progress_reporter(spark, total_files: int, every_s: float = 30.0, emit: Callable[[str], None] = to_stderr):
    """Print the Spark UI address, then a progress line every `every_s` seconds until the
    block ends, and a last line when it does. The job calls `files_done` as it commits."""
    reporter = ProgressReporter(spark, total_files, emit)
    emit(ui_line(spark))
    stop = threading.Event()

    def report():
        while not stop.wait(every_s):
            emit(reporter.line())

    # A daemon thread: a job that dies must not be kept alive by its progress line.
    thread = threading.Thread(target=report, name="corpus-pipeline-progress", daemon=True)
    thread.start()
    try:
        yield reporter
    finally:
        stop.set()
        thread.join()
        emit(reporter.line())


@contextlib.contextmanager
def stage_heartbeat(spark, every_s: float = 30.0, emit: Callable[[str], None] = to_stderr):
    """For jobs without files to count: every `every_s` seconds, the time so far and the
    running stages' task counts, so that a long job is never silent."""
    tracker, started, stop = spark.sparkContext.statusTracker(), time.monotonic(), threading.Event()

    def beat():
        while not stop.wait(every_s):
            emit(f"progress: {time.monotonic() - started:,.0f} s{running_stages(tracker)}")

    thread = threading.Thread(target=beat, name="corpus-pipeline-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
