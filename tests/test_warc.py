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


# ------------------------------------------------ issue 35: damage in lengths and headers

NODE_WARC = "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc"
CC_ARC = "warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc"


def _set_warc_length(data: bytes, index: int, value: bytes) -> bytes:
    """The plain WARC with the index-th record's Content-Length value replaced."""
    start = read_all(data)[index].offset
    header_end = data.index(b"\r\n\r\n", start)
    at = data.index(b"Content-Length: ", start, header_end) + len(b"Content-Length: ")
    return data[:at] + value + data[data.index(b"\r\n", at):]


def _arc_header_line(data: bytes, index: int) -> tuple[int, int]:
    start = read_all(data)[index].offset
    return start, data.index(b"\n", start)


def _same_records(got, want, skip: set[int]):
    """Every record but the skipped ones read exactly as in the intact file."""
    kept = [(r.headers, r.body, r.problem) for i, r in enumerate(want) if i not in skip]
    return [(r.headers, r.body, r.problem) for i, r in enumerate(got) if i not in skip] == kept


@pytest.mark.parametrize("value", ["\u00b2".encode(), "1\u00b27".encode(), "\u0663\u0660".encode(),  # ², Arabic-Indic
                                   b"9" * 5000, b"12 34", b"0x40"])
def test_unicode_digit_length_is_malformed(value):
    """`"²".isdigit()` is True and `int("²")` raises: a length is ASCII digits or malformed
    (also a 5,000-digit one, which `int()` refuses), and the next records are read."""
    data = shared_file(NODE_WARC).read_bytes()
    intact = read_all(data)
    records = read_all(_set_warc_length(data, 4, value))
    assert len(records) == len(intact) == 13
    assert [i for i, r in enumerate(records) if r.problem] == [4] and records[4].problem == "malformed"
    assert _same_records(records, intact, {4})


def test_unicode_digit_arc_length_is_malformed():
    data = shared_file(CC_ARC).read_bytes()
    intact = read_all(data)
    start, end = _arc_header_line(data, 7)
    line = data[start:end].rsplit(b" ", 1)[0] + " 1\u00b2".encode()
    records = read_all(data[:start] + line + data[end:])
    assert len(records) == len(intact) == 117
    assert [i for i, r in enumerate(records) if r.problem] == [7] and records[7].problem == "malformed"
    assert _same_records(records, intact, {7})


def lf_warc(data: bytes) -> bytes:
    """A real WARC rewritten with LF line ends in its headers and separators (bodies and
    Content-Length kept), as some tools write them."""
    out = []
    for r in read_all(data):
        head = "WARC/1.0\n" + "".join(f"{k}: {v}\n" for k, v in r.headers.items()) + "\n"
        out.append(head.encode() + r.body + b"\n\n")
    return b"".join(out)


def test_lying_length_above_max_record_bytes_in_lf_warc_costs_one_record():
    data = lf_warc(gzip.decompress(shared_file("warc/non_cc/wayback-2010_cdx-toolkit-extract.warc.gz").read_bytes()))
    intact = read_all(data)
    assert len(intact) == 57 and all(r.problem is None for r in intact)
    old = f"content-length: {intact[5].length}\n".encode()
    start = intact[5].offset
    at = data.index(old, start)
    damaged = data[:at] + b"content-length: 999999999999\n" + data[at + len(old):]
    records = read_all(damaged)
    assert len(records) == 57
    assert [i for i, r in enumerate(records) if r.problem] == [5] and records[5].problem == "malformed"
    assert _same_records(records, intact, {5})


@pytest.mark.parametrize("name, count", [(CC_ARC, 117), ("warc/cc/CC-2010_copycat-small-sample-1262850551027_8.arc", 9)])
def test_lying_length_above_max_record_bytes_in_arc_costs_one_record(name, count):
    data = shared_file(name).read_bytes()
    intact = read_all(data)
    assert len(intact) == count
    victim = count // 2
    start, end = _arc_header_line(data, victim)
    line = data[start:end].rsplit(b" ", 1)[0] + b" 999999999999"
    records = read_all(data[:start] + line + data[end:])
    assert len(records) == count
    assert [i for i, r in enumerate(records) if r.problem] == [victim] and records[victim].problem == "malformed"
    assert _same_records(records, intact, {victim})


def test_lying_length_above_max_record_bytes_in_crlf_warc_costs_one_record():
    data = shared_file(NODE_WARC).read_bytes()
    intact = read_all(data)
    records = read_all(_set_warc_length(data, 4, b"999999999999"))
    assert [r.problem for r in records] == [None] * 4 + ["malformed"] + [None] * 8
    assert _same_records(records, intact, {4})


def _space_in_url(line: bytes) -> bytes:
    url, rest = line.split(b" ", 1)
    return url[:20] + b" " + url[20:] + b" " + rest


def _no_ip_field(line: bytes) -> bytes:
    fields = line.split(b" ")
    return b" ".join(fields[:1] + fields[2:])


@pytest.mark.parametrize("damage, next_problem", [(_space_in_url, None), (_no_ip_field, "malformed")])
def test_damaged_next_header_keeps_the_record_before_it(damage, next_problem):
    """As warcio's example-space-in-url.arc: record N+1's header line is damaged. Record N is
    whole and kept; N+1 is read (a space in the URL parses from the right) or malformed; the
    rest are read."""
    data = shared_file(CC_ARC).read_bytes()
    intact = read_all(data)
    start, end = _arc_header_line(data, 11)
    records = read_all(data[:start] + damage(data[start:end]) + data[end:])
    assert len(records) == 117
    assert records[10].problem is None and records[10].body == intact[10].body
    assert records[11].problem == next_problem
    assert _same_records(records, intact, {11})
    if next_problem is None:
        assert records[11].body == intact[11].body and b" " in records[11].headers["warc-target-uri"].encode()


@pytest.mark.parametrize("bad_version", [b"WARX/1.0", b"WARC/1.O", b"", b"\x00\x00\x00"])
def test_damaged_next_warc_header_keeps_the_record_before_it(bad_version):
    data = shared_file(NODE_WARC).read_bytes()
    intact = read_all(data)
    start = intact[5].offset
    records = read_all(data[:start] + bad_version + data[start + len(b"WARC/1.0"):])
    assert len(records) == 13
    assert [i for i, r in enumerate(records) if r.problem] == [5] and records[5].problem == "malformed"
    assert _same_records(records, intact, {5})


def test_corrupt_data_at_the_start_of_a_single_gzip_stream_is_counted():
    """Found by the mutation fuzz: a damaged byte early in a single-stream WET.gz raised out of
    the reader while it looked at the first bytes for the format; now it is `unreadable`."""
    data = bytearray(shared_file("warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz").read_bytes())
    data[2000] ^= 0xFF
    records = read_all(bytes(data))
    assert records and records[-1].problem == "unreadable"
    assert all(r.problem in (None, "unreadable") for r in records)


def test_an_arc_whose_filedesc_is_damaged_is_still_read_as_arc():
    data = shared_file(CC_ARC).read_bytes()
    intact = read_all(data)
    records = read_all(b"filedXsc" + data[8:])
    assert len(records) == 117 and _same_records(records, intact, {0})
