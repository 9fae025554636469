"""The filter job on a real Spark standalone cluster (master and worker on 127.0.0.1), and faults:
a killed executor JVM and a killed driver must not change the output.

Each test compares against the same job in local mode (the `spark` fixture). The cluster is
started here and stopped by process id; the job ships the library with --py-files, as the
README's cluster section says.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from corpus_pipeline import config
from corpus_pipeline.spark.filter import run_filter
from corpus_pipeline.spark.output import OutputError
from corpus_pipeline.spark.shards import MARKER

from .conftest import REPO, SAMPLE
from .test_filter_job import SAMPLE_FILES, filter_config, job_env
from .test_resume import output_rows

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[1]} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def spark_class(*args, log: Path) -> subprocess.Popen:
    # spark-class execs java, so the Popen pid is the JVM's.
    return subprocess.Popen([str(BIN / "spark-class"), *args], env=job_env(), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """spark://127.0.0.1:PORT with one worker of 2 cores; stopped by pid afterwards."""
    logs = tmp_path_factory.mktemp("cluster")
    port, worker_port = free_port(), free_port()
    master = spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                         "--webui-port", str(free_port()), log=logs / "master.log")
    processes = [master]
    try:
        wait_for_port(port, master)
        worker = spark_class("org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                             "--host", "127.0.0.1", "--port", str(worker_port), "--cores", "2", "--memory", "2g",
                             "--webui-port", str(free_port()), "--work-dir", str(logs / "work"),
                             log=logs / "worker.log")
        processes.append(worker)
        wait_for_port(worker_port, worker)
        time.sleep(2)  # the worker registers with the master after it listens
        yield f"spark://127.0.0.1:{port}", logs / "work"
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def library_zip(tmp_path_factory) -> Path:
    """The archive the README's cluster section builds for --py-files."""
    path = tmp_path_factory.mktemp("dist") / "corpus_pipeline.zip"
    subprocess.run([sys.executable, "-m", "zipfile", "-c", str(path), "corpus_pipeline"], cwd=REPO, check=True)
    with zipfile.ZipFile(path) as archive:
        assert "corpus_pipeline/spark/filter.py" in archive.namelist()
    return path


@pytest.fixture(scope="module")
def local_run(spark, tmp_path_factory):
    """The reference: the default job (shipped quality model, dedup) in local mode."""
    out = tmp_path_factory.mktemp("local") / "out"
    cfg = config.load(config.FilterConfig, REPO / "conf/filter.yaml",
                      [f"output={out}", f"quality.model={REPO / 'models/quality'}"])
    run_filter(spark, cfg, SAMPLE_FILES)
    return out


def submit(master: str, out: Path, *extra: str, library: Path | None = None) -> subprocess.Popen:
    args = [str(BIN / "spark-submit"), "--master", master, "--conf", f"spark.pyspark.python={sys.executable}",
            "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false"]
    if library:  # on the cluster: the README's profile, sized down to one 2-core worker
        args += ["--properties-file", "conf/cluster/standalone.conf", "--py-files", str(library)]
        for key, value in [("spark.executor.cores", "2"), ("spark.executor.memory", "1g"),
                           ("spark.driver.memory", "1g"), ("spark.sql.shuffle.partitions", "8"),
                           ("spark.pyspark.driver.python", sys.executable)]:
            args += ["--conf", f"{key}={value}"]
    args += ["jobs/filter.py", "--input", str(SAMPLE), "--output", str(out),
             "--set", f"quality.model={REPO / 'models/quality'}", *extra]
    return subprocess.Popen(args, cwd=REPO, env=job_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def finish(job: subprocess.Popen, timeout: float = 400) -> str:
    output = job.communicate(timeout=timeout)[0].decode(errors="replace")
    assert job.returncode == 0, output[-3000:]
    return output


def committed_shards(out: Path) -> int:
    store = out.parent / (out.name + ".shards")
    return len(list(store.glob(f"ingest/*/{MARKER}"))) if store.exists() else 0


def wait_until(condition, job: subprocess.Popen, timeout: float = 300):
    deadline = time.time() + timeout
    while not condition():
        assert job.poll() is None, "the job ended before the fault could be injected"
        assert time.time() < deadline, "timed out waiting to inject the fault"
        time.sleep(0.2)


def executor_pids() -> list[int]:
    """JVMs the standalone worker launched as executors (CoarseGrainedExecutorBackend)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"CoarseGrainedExecutorBackend" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_standalone_cluster_output_equals_local_mode(spark, cluster, library_zip, local_run, tmp_path):
    master, work = cluster
    out = tmp_path / "out"
    printed = finish(submit(master, out, library=library_zip))
    assert "311 records read" in printed
    assert len(list(work.glob("app-*"))) == 1  # the worker ran executors for it: not local mode
    assert output_rows(spark, out) == output_rows(spark, local_run)


def test_killed_executor_is_replaced_and_the_output_is_unchanged(spark, cluster, library_zip, local_run, tmp_path):
    master, work = cluster
    out = tmp_path / "out"
    job = submit(master, out, "--set", "files_per_commit=1", library=library_zip)
    wait_until(lambda: committed_shards(out) >= 1 and executor_pids(), job)
    victims = executor_pids()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    finish(job)
    assert committed_shards(out) == 6 and not set(victims) & set(executor_pids())
    assert len(list(work.glob("app-*/*"))) >= 2  # the worker launched a replacement executor
    assert output_rows(spark, out) == output_rows(spark, local_run)


def parent_pid(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def python_workers_of(job: subprocess.Popen) -> list[int]:
    """The Python processes that the job's JVM started (pyspark.daemon and the workers it
    forks), found by walking up /proc to the job's pid."""
    def under_job(pid: int) -> bool:
        while pid > 1:
            if pid == job.pid:
                return True
            pid = parent_pid(pid)
        return False

    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"pyspark.daemon" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return [pid for pid in found if parent_pid(pid) in found and under_job(pid)]  # forked workers only


def cpu_ticks(pid: int) -> int:
    try:
        return sum(map(int, (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[11:13]))
    except (OSError, ValueError):
        return -1


def busy_python_workers(job: subprocess.Popen) -> list[int]:
    """The job's Python workers that are running a task now: their CPU time grows."""
    before = {pid: cpu_ticks(pid) for pid in python_workers_of(job)}
    time.sleep(0.3)
    return [pid for pid, ticks in before.items() if 0 <= ticks < cpu_ticks(pid)]


def test_killed_python_worker_in_local_mode_is_retried(spark, local_run, tmp_path):
    """spark-submit --master local[2] gets task retries (local[2,4]): a worker killed in the
    middle of a task costs a retry, not the run (with local[2] as Spark reads it, it would)."""
    out = tmp_path / "out"
    job = submit("local[2]", out, "--set", "files_per_commit=1")
    victims = []

    def killed_a_busy_worker() -> bool:
        victims.extend(busy_python_workers(job))
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        return bool(victims)

    wait_until(killed_a_busy_worker, job)
    finish(job)
    assert committed_shards(out) == 6
    assert output_rows(spark, out) == output_rows(spark, local_run)


def test_killed_driver_resumes_to_the_uninterrupted_output(spark, local_run, tmp_path):
    out = tmp_path / "out"
    job = submit("local[2]", out, "--set", "files_per_commit=1")
    wait_until(lambda: committed_shards(out) >= 2, job)
    os.killpg(job.pid, signal.SIGKILL)  # the driver JVM and its Python process, mid-run
    job.wait(timeout=30)
    done = committed_shards(out)
    assert 2 <= done < 6 and not out.exists()
    finish(submit("local[2]", out, "--set", "files_per_commit=1"))
    assert output_rows(spark, out) == output_rows(spark, local_run)
    stats = (out / "run.json").read_text()
    assert stats.count('"status": "reused"') == done


def test_a_second_run_while_one_runs_is_refused_and_the_first_is_unharmed(spark, local_run, tmp_path):
    """Two runs at once on one output: the second (this test's own Spark session, a process
    of its own) is refused in one line while the first holds the lock, and touches nothing
    of it (no cleanup of its staging); the first finishes with the uninterrupted output."""
    out = tmp_path / "out"
    job = submit("local[2]", out, "--set", "files_per_commit=1")
    wait_until(lambda: committed_shards(out) >= 1, job)
    with pytest.raises(OutputError, match=f"^{re.escape(str(out))} is in use by another run \\(pid "):
        run_filter(spark, filter_config(out), SAMPLE_FILES)
    finish(job)
    assert output_rows(spark, out) == output_rows(spark, local_run)
