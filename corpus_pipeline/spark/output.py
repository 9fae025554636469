"""Atomic job output through Hadoop's FileSystem API (local, HDFS, S3A alike).

A job writes everything under `<output>.tmp-<run id>/` inside `with AtomicOutput(...) as out:`;
leaving the block swaps it into place (or removes it after an error), so
readers see either the previous complete output or the new complete one, never a mix.
A folder is only ever replaced when it holds a previous output (its marker file:
`stats.json` for a job's output, `manifest.json` for a model).

`RunLock` keeps a second run out of an output or a store while one is running
(`<path>.lock`, created only where none exists). Holding it, a run may take what killed
runs left beside the folder: it finishes a commit cut between its two renames and removes
their `.tmp-*` folders (`recover`).
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from .. import swap
from ..errors import UserError


class OutputError(UserError, RuntimeError):
    """The output folder cannot be used; the message is for the user."""


def hadoop_fs(spark, path: str):
    """(FileSystem, Path class) for `path`: a private instance, so that turning off local
    .crc side files touches no one else."""
    Path = spark._jvm.org.apache.hadoop.fs.Path
    fs = spark._jvm.org.apache.hadoop.fs.FileSystem.newInstance(Path(path).toUri(), spark._jsc.hadoopConfiguration())
    fs.setWriteChecksum(False)
    return fs, Path


def write_file(fs, Path, path: str, data: bytes):
    stream = fs.create(Path(path), True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def read_json(fs, Path, path: str) -> dict | None:
    """A JSON file's content, or None when it is absent or cut short (a store without atomic
    rename, such as S3, can leave a partial file: the caller redoes what it describes)."""
    if not fs.exists(Path(path)):
        return None
    stream = fs.open(Path(path))
    try:
        return json.loads(bytes(stream.readAllBytes()))
    except ValueError:
        return None
    finally:
        stream.close()


class AtomicOutput:
    def __init__(self, spark, final: str, marker: str = "stats.json"):
        self.final = final.rstrip("/")
        self.tmp = f"{self.final}.tmp-{uuid.uuid4().hex[:12]}"
        self._fs, self._Path = hadoop_fs(spark, self.final)
        if self._exists(self.final) and not self._exists(self.path(marker, self.final)):
            raise OutputError(f"output folder {self.final} exists and is not a corpus-pipeline output; "
                              "remove it or choose another --output")

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type, exc, tb):
        """Commit when the block succeeds; otherwise remove the temporary folder."""
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

    def path(self, name: str, root: str | None = None) -> str:
        return f"{root or self.tmp}/{name}"

    def write_text(self, name: str, text: str):
        self.write_bytes(name, text.encode("utf-8", "surrogateescape"))  # a non-UTF-8 path as its bytes

    def write_bytes(self, name: str, data: bytes):
        write_file(self._fs, self._Path, self.path(name), data)

    def commit(self):
        """Replace the previous output (if any) with this one: in one step on a local disk
        that can swap folders, else by two renames (moving the old one aside first)."""
        had_old = self._exists(self.final)
        if had_old and self._fs.getScheme() == "file" and swap.exchange(self._local_path(self.tmp),
                                                                        self._local_path(self.final)):
            self._fs.delete(self._Path(self.tmp), True)  # the previous output, swapped out
            return
        old = f"{self.final}.old-{uuid.uuid4().hex[:12]}"
        if had_old and not self._fs.rename(self._Path(self.final), self._Path(old)):
            raise OutputError(f"could not move the previous output {self.final} aside")
        if not self._fs.rename(self._Path(self.tmp), self._Path(self.final)):
            raise OutputError(f"could not rename {self.tmp} to {self.final}")
        if had_old:
            self._fs.delete(self._Path(old), True)

    def _local_path(self, path: str) -> str:
        return str(self._fs.makeQualified(self._Path(path)).toUri().getPath())

    def abort(self):
        self._fs.delete(self._Path(self.tmp), True)

    def _exists(self, path: str) -> bool:
        return self._fs.exists(self._Path(path))


class RunLock:
    """`with RunLock(spark, path):` one run at a time on `path` (an output or a store).

    The lock file names its owner (host, pid, start). A lock whose owner is gone (same host,
    no such process) is taken over; any other is refused in one line. Creating a file that
    must not exist is atomic on local disks and HDFS."""

    def __init__(self, spark, path: str):
        self.target = path.rstrip("/")
        self.path = f"{self.target}.lock"
        self._fs, self._Path = hadoop_fs(spark, self.path)

    def __enter__(self) -> "RunLock":
        if self._create():
            return self
        owner = read_json(self._fs, self._Path, self.path)
        if owner is not None and owner_alive(owner):
            raise OutputError(f"{self.target} is in use by another run (pid {owner.get('pid')} on "
                              f"{owner.get('host')} since {owner.get('started')}); "
                              f"if that run is gone, remove {self.path}")
        self._fs.delete(self._Path(self.path), False)  # its owner is gone
        if not self._create():
            raise OutputError(f"{self.target} is in use by another run (it took {self.path} just now)")
        return self

    def __exit__(self, exc_type, exc, tb):
        self._fs.delete(self._Path(self.path), False)
        return False

    def _create(self) -> bool:
        owner = {"host": socket.gethostname(), "pid": os.getpid(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._fs.mkdirs(self._Path(self.path).getParent())
        try:
            stream = self._fs.create(self._Path(self.path), False)
        except Exception as err:  # py4j's FileAlreadyExistsException: another run holds it
            if "AlreadyExists" in str(err) or self._fs.exists(self._Path(self.path)):
                return False
            raise
        try:
            stream.write(bytearray(json.dumps(owner).encode()))
        finally:
            stream.close()
        return True


def owner_alive(owner: dict) -> bool:
    """Whether a lock's owner may still run: always, unless it ran on this host and is gone."""
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def recover(spark, final: str, marker: str = "stats.json"):
    """Under the lock of `final`: what killed runs left beside it. A commit cut between its
    renames (no `final`, a `.old-*` and a complete `.tmp-*`) is finished, or else the old
    output put back; every other `.tmp-*` and `.old-*` folder is removed."""
    final = final.rstrip("/")
    fs, Path = hadoop_fs(spark, final)

    def siblings(kind: str) -> list[str]:
        return sorted(str(status.getPath()) for status in fs.globStatus(Path(f"{final}.{kind}-*")) or [])

    complete = [tmp for tmp in siblings("tmp") if fs.exists(Path(f"{tmp}/{marker}"))]
    if not fs.exists(Path(final)) and siblings("old"):
        fs.rename(Path(complete[-1] if complete else siblings("old")[-1]), Path(final))
    for stale in siblings("tmp") + siblings("old"):
        fs.delete(Path(stale), True)
