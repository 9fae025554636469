"""A progress line in the driver log while a long job runs.

Consumes the driver's SparkContext (its UI address and `statusTracker()`) and the counts the
job reports as it commits input files; produces, every `every_s` seconds, one line such as

    progress: ingest: files 412/1,000 (41.2%), 1,234,567 records, 1,234 records/s; stage 37: 5/8 tasks

where `ingest` is the step the job says it is in (`now`: tag, select, dedup, ...). Files
and records are what the job has committed (each batch of input files is written and
counted before it is reported), so the rate is honest about finished work: it never counts
a task that is later retried, and it runs up to the last commit. Stage task counts come
from the status tracker and show the work in between. The line goes to stderr, where
spark-submit's driver log is.

Lines come every `FIRST_EVERY_S` seconds in the first minute, so that even a short job says
what it does, then every `every_s` seconds, so that a long one does not flood its log.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Callable

from ..stats import counted

FIRST_EVERY_S = 10.0
FIRST_MINUTE_S = 60.0


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
        self.step = "ingest"

    def now(self, step: str):
        """The job moved on to `step` (e.g. dedup): the next lines name it."""
        with self._lock:
            self.step = step

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
            step = self.step
        done = files + reused
        share = f" ({100 * done / self.total_files:.1f}%)" if self.total_files else ""
        # Up to the last commit: the rate of finished work, which does not decay while the
        # job does something else (dedup, writing) after the last file.
        rate = records / seconds if records and seconds > 0 else 0.0
        parts = [f"files {done:,}/{self.total_files:,}{share}", counted(records, "record"), f"{rate:,.0f} records/s"]
        reused_note = f" ({reused:,} reused)" if reused else ""
        return f"progress: {step}: {parts[0]}{reused_note}, {parts[1]}, {parts[2]}{self.stages()}"

    def stages(self) -> str:
        return running_stages(self._tracker)


def running_stages(tracker) -> str:
    """The running stages' task counts, e.g. '; stage 37: 5/8 tasks'."""
    infos = [tracker.getStageInfo(s) for s in sorted(tracker.getActiveStageIds())]
    return "".join(f"; stage {i.stageId}: {i.numCompletedTasks}/{i.numTasks} tasks" for i in infos if i)


def next_wait(elapsed_s: float, every_s: float) -> float:
    """Seconds to the next progress line: FIRST_EVERY_S in the first minute, then `every_s`."""
    return min(FIRST_EVERY_S, every_s) if elapsed_s < FIRST_MINUTE_S else every_s


def every_so_often(stop: threading.Event, every_s: float, emit_line: Callable[[float], None]):
    """Call `emit_line(seconds so far)` at `next_wait` intervals until `stop` is set."""
    started = time.monotonic()
    while not stop.wait(next_wait(time.monotonic() - started, every_s)):
        emit_line(time.monotonic() - started)


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

    # A daemon thread: a job that dies must not be kept alive by its progress line.
    thread = threading.Thread(target=every_so_often, args=(stop, every_s, lambda _: emit(reporter.line())),
                              name="corpus-pipeline-progress", daemon=True)
    thread.start()
    try:
        yield reporter
    finally:
        stop.set()
        thread.join()
        emit(reporter.line())


@contextlib.contextmanager
def stage_heartbeat(spark, every_s: float = 30.0, emit: Callable[[str], None] = to_stderr):
    """For jobs without files to count: the Spark UI address, then the time so far and the
    running stages' task counts (as `progress_reporter`), so that a long job is never silent."""
    tracker, stop = spark.sparkContext.statusTracker(), threading.Event()
    emit(ui_line(spark))

    def beat(seconds: float):
        emit(f"progress: {seconds:,.0f} s{running_stages(tracker)}")

    thread = threading.Thread(target=every_so_often, args=(stop, every_s, beat), name="corpus-pipeline-heartbeat",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
