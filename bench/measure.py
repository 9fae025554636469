"""What a benchmark run costs: CPU seconds and peak memory of a whole process tree.

Shared by bench/dedup_bench.py and bench/scale_bench.py (import it as `measure` from a
script in bench/). Consumes a process id (the root of a run: a spark-submit launcher, a
Python child); produces, sampled from /proc every `interval` seconds:
- per process, its kind (jvm, python_worker = a pyspark daemon or worker, python_driver = a
  Python process whose parent is not Python, python_child = one forked or spawned by Python,
  other) and its peak RSS (VmHWM, the kernel's own high-water mark, so sampling only misses
  what a process gained after its last sample);
- the tree's CPU ticks (utime + stime of the live processes: a process that exits between
  two samples loses its last interval) and, where given, a cumulative CPU clock that does
  not lose them (a cgroup's cpuacct.usage), as a time series for splitting a run by phase.

`Cgroup` makes a cgroup v1 pair (cpuacct + memory) for one run: every process the run
starts is accounted, exited ones included, which /proc sampling cannot do. Needs root and
cgroup v1 mounted at /sys/fs/cgroup; `Cgroup.create` returns None where that fails, and the
caller falls back to RUSAGE_CHILDREN (which counts only processes their parents waited for).
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------- /proc

def proc_parents() -> dict[int, int]:
    """{pid: parent pid} of every live process, from /proc/*/stat."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def proc_tree(root: int, parents: dict[int, int] | None = None) -> list[int]:
    """root and all its descendants, from /proc/*/stat parent ids."""
    children = {}
    for pid, ppid in (parents if parents is not None else proc_parents()).items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def command_kind(cmd: str) -> str:
    """jvm, python_worker (pyspark's daemon and workers), python or other, from a command line."""
    program = os.path.basename(cmd.split(" ")[0])
    if program == "java":
        return "jvm"
    if "pyspark.daemon" in cmd or "pyspark.worker" in cmd:
        return "python_worker"
    return "python" if program.startswith("python") else "other"


def proc_memory(pid: int) -> tuple[str, int, int, int] | None:
    """(kind, VmHWM kB, VmRSS kB, CPU ticks) of a live process; kind as `command_kind`."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if "VmHWM" not in status:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return command_kind(cmd), int(status["VmHWM"].split()[0]), int(status["VmRSS"].split()[0]), ticks


def machine_busy_ticks() -> int:
    """CPU ticks all processes spent, from the first line of /proc/stat (idle and iowait left out)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal


class MemoryWatch:
    """Peaks over a process tree, sampled every `interval` seconds, and its CPU time between
    two marks (with the machine's, to show what other processes took meanwhile).

    root_kind names the root process whatever its command (dedup_bench: "driver"); None
    classifies it like the others. cpu_clock, when given, is read at every sample into
    `series` as (time.time(), CPU seconds); without it the series holds the live tree's ticks."""

    def __init__(self, root: int, interval: float = 0.5, root_kind: str | None = "driver", cpu_clock=None):
        self.root, self.interval, self.root_kind, self.cpu_clock = root, interval, root_kind, cpu_clock
        self.hwm = {}  # pid -> (kind, max VmHWM seen)
        self.ticks = {}  # pid -> latest utime + stime
        self.max_total_rss = 0
        self.marks = []  # (tree ticks, machine busy ticks)
        self.series = []  # (time.time(), cumulative CPU seconds of the tree)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self):
        with self.lock:
            total = 0
            parents = proc_parents()
            seen = {}
            for pid in proc_tree(self.root, parents):
                mem = proc_memory(pid)
                if mem is None:
                    continue
                kind = self.kind(pid, mem[0], seen.get(parents.get(pid)))
                seen[pid] = mem[0]
                self.hwm[pid] = (kind, max(mem[1], self.hwm.get(pid, (kind, 0))[1]))
                self.ticks[pid] = mem[3]
                total += mem[2]
            self.max_total_rss = max(self.max_total_rss, total)
            now = time.time()
            cpu = self.cpu_clock() if self.cpu_clock else sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")
            self.series.append((now, cpu))

    def kind(self, pid: int, kind: str, parent_kind: str | None) -> str:
        if pid == self.root and self.root_kind:
            return self.root_kind
        if kind == "python":  # the driver of a Spark job or a benchmark child; or a process it forked
            return "python_child" if parent_kind in ("python", "python_worker") else "python_driver"
        return kind

    def mark(self):
        self.sample()
        with self.lock:
            self.marks.append((sum(self.ticks.values()), machine_busy_ticks()))

    def cpu(self) -> dict:
        """CPU seconds of the tree and of everything else between the first two marks."""
        if len(self.marks) < 2:
            return {}
        (tree0, busy0), (tree1, busy1) = self.marks[:2]
        hz = os.sysconf("SC_CLK_TCK")
        return dict(cpu_s=(tree1 - tree0) / hz, other_cpu_s=max(0, (busy1 - busy0) - (tree1 - tree0)) / hz)

    def finish(self):
        self.stop.set()
        self.thread.join()

    def hwm_by_kind(self) -> dict[str, int]:
        """{kind: the largest VmHWM (kB) of a process of that kind}."""
        by_kind = {}
        for kind, hwm in self.hwm.values():
            by_kind[kind] = max(by_kind.get(kind, 0), hwm)
        return by_kind

    def peaks(self) -> dict:
        self.finish()
        by_kind = self.hwm_by_kind()
        return dict(driver_hwm_kb=by_kind.get("driver", 0), jvm_hwm_kb=by_kind.get("jvm", 0),
                    worker_hwm_kb=by_kind.get("python_worker", 0), tree_rss_kb=self.max_total_rss,
                    processes=len(self.hwm), **self.cpu())


def cpu_between(series: list[tuple[float, float]], start: float, end: float) -> float:
    """CPU seconds spent between two times, from a cumulative series (linear in between samples)."""
    return max(0.0, cpu_at(series, end) - cpu_at(series, start))


def cpu_at(series: list[tuple[float, float]], when: float) -> float:
    if not series:
        return 0.0
    if when <= series[0][0]:
        return series[0][1]
    for (t0, c0), (t1, c1) in zip(series, series[1:]):
        if t0 <= when <= t1:
            return c0 + (c1 - c0) * ((when - t0) / (t1 - t0) if t1 > t0 else 1.0)
    return series[-1][1]


# ---------------------------------------------------------------- cgroups

class Cgroup:
    """A cgroup v1 pair (cpuacct + memory) that one run's processes join before they exec."""

    CONTROLLERS = ("cpuacct", "memory")

    def __init__(self, name: str):
        self.dirs = {c: CGROUP_ROOT / c / name for c in self.CONTROLLERS}

    @classmethod
    def create(cls, name: str) -> "Cgroup | None":
        """A fresh cgroup pair, or None where cgroup v1 cannot be used (not root, not mounted)."""
        group = cls(name)
        try:
            for path in group.dirs.values():
                if path.exists():
                    path.rmdir()
                path.mkdir()
            group.cpu_s()
        except OSError:
            group.remove()
            return None
        return group

    def wrap(self, cmd: list[str]) -> list[str]:
        """cmd run by a shell that first moves itself into both cgroups, then execs it."""
        joins = "; ".join(f'echo $$ > "{d}/cgroup.procs"' for d in self.dirs.values())
        return ["sh", "-c", f'{joins}; exec "$@"', "sh", *cmd]

    def cpu_s(self) -> float:
        return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9

    def memory_peak_bytes(self) -> int:
        """Peak of the group's charged memory: RSS and page cache (files the run wrote or read)."""
        return int((self.dirs["memory"] / "memory.max_usage_in_bytes").read_text())

    def pids(self) -> list[int]:
        path = self.dirs["cpuacct"] / "cgroup.procs"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def remove(self, wait_s: float = 10.0):
        """Remove the pair once its processes are gone; kills what the run left behind after wait_s."""
        deadline = time.time() + wait_s
        while self.pids() and time.time() < deadline:
            time.sleep(0.2)
        for pid in self.pids():  # left over by the run this group was made for
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.2)
        for path in self.dirs.values():
            try:
                path.rmdir()
            except OSError:
                pass


def run_tree(cmd: list[str], name: str, log_path: Path, env: dict | None = None, cwd: Path | None = None,
             interval: float = 0.25) -> dict:
    """Run cmd to its end as one measured process tree: CPU seconds (cgroup, else rusage of
    children), wall seconds, peak RSS per process kind, the cgroup's memory peak and the
    CPU series (for phase splits). Output goes to log_path."""
    import resource

    group = Cgroup.create(f"bench_{name}_{os.getpid()}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(group.wrap(cmd) if group else cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True)
        watch = MemoryWatch(proc.pid, interval, root_kind=None, cpu_clock=group.cpu_s if group else None)
        watch.series.insert(0, (started, 0.0))  # a fresh group (or tree) has spent nothing yet
        rc = proc.wait()
    ended = time.time()
    watch.sample()
    watch.finish()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = dict(name=name, cmd=cmd, rc=rc, started=started, ended=ended, wall_s=ended - started,
                  rusage_cpu_s=rusage_cpu, hwm_kb=watch.hwm_by_kind(), tree_rss_kb=watch.max_total_rss,
                  processes=len(watch.hwm), series=watch.series, log=str(log_path))
    if group:
        result.update(cpu_s=group.cpu_s(), cpu_source="cgroup cpuacct.usage",
                      cgroup_memory_peak_bytes=group.memory_peak_bytes())
        group.remove()
    else:
        result.update(cpu_s=rusage_cpu, cpu_source="RUSAGE_CHILDREN (no cgroup v1: processes not waited for "
                                                   "by their parents are missed)")
    return result
