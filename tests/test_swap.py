"""Folder swaps: the step that replaces a job's output (issue 35, class 8)."""
from __future__ import annotations

import contextlib
import errno
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_pipeline import pack, swap

needs_exchange = pytest.mark.skipif(swap._RENAMEAT2 is None, reason="renameat2 needs Linux with glibc 2.28+")


@needs_exchange
def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "which").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "which").write_text("b")
    assert swap.exchange(tmp_path / "a", tmp_path / "b")
    assert [(tmp_path / name / "which").read_text() for name in "ab"] == ["b", "a"]


@needs_exchange
def test_exchange_with_a_missing_folder_raises_and_changes_nothing(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(OSError) as raised:
        swap.exchange(tmp_path / "a", tmp_path / "missing")
    assert raised.value.errno == errno.ENOENT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@contextlib.contextmanager
def gaps_seen(path: Path):
    """Counts the times `path` is found missing while the block runs, polled by a process
    of its own on the other core (a thread would rarely run between two renames)."""
    stop = path.parent.parent / "stop-watching"
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(path), str(stop)], stdout=subprocess.PIPE, text=True)
    assert watcher.stdout.readline() == "polling\n"
    gaps: list[int] = []
    try:
        yield gaps
    finally:
        stop.write_text("")
        gaps.append(int(watcher.communicate(timeout=30)[0]))
        stop.unlink()


WATCHER = """
import os, sys
path, stop = sys.argv[1:]
print("polling", flush=True)
gaps = 0
while not os.path.exists(stop):
    gaps += not os.path.exists(path)
print(gaps)
"""


@needs_exchange
def test_replacing_a_pack_output_never_leaves_it_missing(tmp_path):
    """A reader polling the output's metadata while the output is replaced 40 times never
    finds it absent (with two renames it did, on 35 polls, when this test was written)."""
    out = tmp_path / "out"
    pack.pack_texts(["first"], out, seq_len=2, tail="pad")
    with gaps_seen(out / pack.METADATA) as gaps:
        for i in range(40):
            pack.pack_texts([f"text {i}"], out, seq_len=2, tail="pad")
    assert gaps == [0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_without_an_exchange_two_renames_still_replace_a_pack_output(tmp_path, monkeypatch):
    monkeypatch.setattr(swap, "exchange", lambda a, b: False)  # another OS, NFS
    pack.pack_texts(["one", "two"], tmp_path / "out", seq_len=2, tail="pad")
    meta = pack.pack_texts(["three"], tmp_path / "out", seq_len=2, tail="pad")
    assert meta["documents"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
