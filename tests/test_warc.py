"""The reader on real archives (record counts as warcio verified them in shared/data/README.md)
and on damage the tests make from those real files."""
from __future__ import annotations

import collections
import gzip
import io
import zlib

import pytest

from corpus_pipeline.warc import iter_records

from .conftest import gzip_members, shared_file, warc_record

LIMIT = 8 << 20


def read_all(data: bytes, limit: int = LIMIT):
    return list(iter_records(io.BytesIO(data), limit))


def types(records):
    return collections.Counter((r.warc_type, r.problem) for r in records)


@pytest.mark.parametrize("name, expected", [
    ("warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz",
     {"warcinfo": 1, "request": 17, "response": 16, "metadata": 16}),
    ("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc", {"warcinfo": 1, "request": 4, "response": 4, "metadata": 4}),
    ("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc.wet", {"warcinfo": 1, "conversion": 3}),
    # a single gzip stream (not one member per record), which warcio refuses
    ("warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz", {"warcinfo": 1, "conversion": 25}),
    ("warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz",
     {"warcinfo": 1, "response": 299, "request": 261, "metadata": 261}),
    ("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz",
     {"warcinfo": 1, "request": 22, "response": 22, "metadata": 1, "resource": 2}),
    ("warc/non_cc/wayback-2010_cdx-toolkit-extract.warc.gz", {"warcinfo": 1, "response": 56}),
    # ARC v1 from the 2008 Common Crawl: filedesc + 116 records (110 HTML, 6 PDF)
    ("warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc", {"warcinfo": 1, "response": 116}),
])
def test_real_archives_read_completely(name, expected):
    records = read_all(shared_file(name).read_bytes())
    assert collections.Counter(r.warc_type for r in records) == expected
    assert all(r.problem is None for r in records)
    assert all(len(r.body) == r.length for r in records)


def test_offsets_point_at_record_headers():
    data = shared_file("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc").read_bytes()
    records = read_all(data)
    assert [data[r.offset:r.offset + 9] for r in records] == [b"WARC/1.0\r"] * len(records)


def cc_members() -> list[bytes]:
    """The real CC-MAIN-2020-34 file split into its 50 gzip members (one per record)."""
    data = shared_file("warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz").read_bytes()
    members, rest = [], data
    while rest:
        d = zlib.decompressobj(31)
        d.decompress(rest)
        members.append(rest[:len(rest) - len(d.unused_data)])
        rest = d.unused_data
    assert len(members) == 50
    return members


def test_truncated_gzip_keeps_every_record_before_the_cut():
    members = cc_members()
    cut = b"".join(members[:30]) + members[30][: len(members[30]) // 2]
    records = read_all(cut)
    assert len(records) == 31
    assert all(r.problem is None for r in records[:30])
    assert records[30].problem == "truncated"


def test_corrupt_member_costs_one_record_and_reading_resumes():
    members = cc_members()
    victim = max(range(50), key=lambda i: len(members[i]))  # a large response member
    bad = bytearray(members[victim])
    middle = len(bad) // 2
    bad[middle:middle + 64] = bytes(64)
    records = read_all(b"".join(members[:victim]) + bytes(bad) + b"".join(members[victim + 1:]))
    assert len(records) == 50
    assert [i for i, r in enumerate(records) if r.problem] == [victim]
    assert records[victim].problem == "unreadable"
    intact = read_all(b"".join(members))
    assert [r.headers for i, r in enumerate(records) if i != victim] == \
        [r.headers for i, r in enumerate(intact) if i != victim]


def test_garbage_between_members_is_one_unreadable_region():
    members = cc_members()
    records = read_all(b"".join(members[:10]) + b"\x00garbage not gzip\xff" * 10 + b"".join(members[10:]))
    assert len(records) == 51
    assert types(records)[(None, "unreadable")] == 1


def _lie_about_length(data: bytes, index: int, delta: int) -> bytes:
    """Change the Content-Length of the index-th record of a plain WARC by delta."""
    records = read_all(data)
    start = records[index].offset
    header_end = data.index(b"\r\n\r\n", start)
    header = data[start:header_end]
    old = f"Content-Length: {records[index].length}".encode()
    new = f"Content-Length: {records[index].length + delta}".encode()
    assert old in header
    return data[:start] + header.replace(old, new) + data[header_end:]


@pytest.mark.parametrize("delta", [+300, -300, +5000])
def test_lying_content_length_costs_only_that_record(delta):
    data = shared_file("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc").read_bytes()
    intact = read_all(data)
    damaged = read_all(_lie_about_length(data, 4, delta))  # record 4 is a response
    assert len(damaged) == len(intact) == 13
    assert [r.problem for r in damaged] == [None] * 4 + ["malformed"] + [None] * 8
    assert [r.headers for r in damaged[5:]] == [r.headers for r in intact[5:]]


def test_lying_length_in_per_record_gzip():
    members = cc_members()
    plain = gzip.decompress(members[5])
    lied = plain.replace(b"Content-Length: ", b"Content-Length: 9", 1)  # ten times longer, or more
    records = read_all(b"".join(members[:5]) + gzip.compress(lied) + b"".join(members[6:]))
    assert len(records) == 50
    assert [i for i, r in enumerate(records) if r.problem] == [5]


def test_oversize_body_is_skipped_without_being_held():
    small, big = warc_record("response", b"x" * 100), warc_record("response", b"y" * 5000)
    records = read_all(gzip_members([small, big, small]), limit=1000)
    assert [(r.problem, r.body is None) for r in records] == [(None, False), ("oversize", True), (None, False)]


def test_200_megabyte_record_streams_in_bounded_memory():
    import tracemalloc

    huge = 200 << 20
    header = f"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: {huge}\r\n\r\n".encode()
    compressor = zlib.compressobj(9, 8, 31)
    parts = [gzip.compress(warc_record("response", b"before"), mtime=0)]
    member = [compressor.compress(header)]
    zeros = bytes(1 << 20)
    member += [compressor.compress(zeros) for _ in range(200)]
    member += [compressor.compress(b"\r\n\r\n"), compressor.flush()]
    parts += [b"".join(member), gzip.compress(warc_record("response", b"after"), mtime=0)]
    tracemalloc.start()
    records = read_all(b"".join(parts), limit=8 << 20)
    peak = tracemalloc.get_traced_memory()[1] - sum(len(p) for p in parts)
    tracemalloc.stop()
    assert [r.problem for r in records] == [None, "oversize", None]
    assert records[2].body == b"after"
    assert peak < 32 << 20, f"peak {peak >> 20} MiB while skipping a 200 MiB body"


def test_file_ending_inside_a_header_is_truncated():
    data = shared_file("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc").read_bytes()
    second = read_all(data)[1].offset
    records = read_all(data[: second + 40])
    assert [r.problem for r in records] == [None, "truncated"]


def test_not_an_archive_is_one_malformed_record():
    assert types(read_all(b"<html>this is not a WARC file</html>\n")) == {(None, "malformed"): 1}


def test_empty_input_has_no_records():
    assert read_all(b"") == []


@pytest.mark.parametrize("bad_length", ["", "-5", "12x"])
def test_missing_or_bad_content_length_is_malformed(bad_length):
    good = warc_record("response", b"payload")
    broken = good.replace(b"Content-Length: 7", f"Content-Length: {bad_length}".encode())
    records = read_all(broken + good)
    assert [r.problem for r in records] == ["malformed", None]
    assert records[1].body == b"payload"
