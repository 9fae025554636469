"""Swap two folders in one step, where the operating system can.

A job's output is replaced by its new version when the run ends. Moving the old folder
aside and then the new one in leaves a moment with no output at all, which a reader (a
notebook, the next stage of a scheduled pipeline) can hit. Linux's renameat2 with
RENAME_EXCHANGE swaps two names atomically on local file systems (ext4, xfs, btrfs,
tmpfs): readers see the old folder or the new one, never neither. Elsewhere (another OS,
NFS, HDFS, object stores) `exchange` says it could not, and the caller falls back to two
renames, which the next run finishes if a crash cuts them (`spark/output.recover`).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = getattr(libc, "renameat2", None)  # glibc 2.28 and later
    if function is not None:
        function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    return function


_RENAMEAT2 = _renameat2()


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap the folders at local paths `a` and `b` atomically; False, changing nothing,
    where the system or the file system has no such operation."""
    if _RENAMEAT2 is None:
        return False
    done = _RENAMEAT2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if done == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # not on this file system
        return False
    raise OSError(error, os.strerror(error), os.fsdecode(a))
