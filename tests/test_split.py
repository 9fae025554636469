"""One archive processed as several byte ranges (issue 34): over any cut of [0, size) into
ranges, the outcomes of `ingest.process_file(path, cfg, start, end)` concatenated in order
are exactly the whole file's, field by field, on every real archive, on damaged copies of
them, and on a file whose compressed bytes hold gzip members that are not its own."""
from __future__ import annotations

import gzip
import io
import random
import zlib

import pytest

from corpus_pipeline import fuzz, ingest, warc
from corpus_pipeline.config import IngestConfig

from .conftest import http_response, shared_file, warc_record

CFG = IngestConfig()
ARCHIVES = [
    "warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz",
    "warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz",  # one gzip stream: one range
    "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc",
    "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc.wet",
    "warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc",
    "warc/cc/CC-2010_copycat-small-sample-1262850551027_8.arc",
    "warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz",
    "warc/non_cc/wget-2024_dolma-sample-0000.warc.gz",
    "warc/non_cc/wayback-2010_cdx-toolkit-extract.warc.gz",
]
IA = "warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz"
CC_2020 = "warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz"


def whole(data: bytes) -> list[tuple]:
    return [o.as_tuple() for o in ingest.process_stream(io.BytesIO(data), "f.warc.gz", CFG)]


def by_ranges(data: bytes, cuts: list[int]) -> list[tuple]:
    """Outcomes of the ranges between consecutive cuts (0 and len(data) added), concatenated."""
    cuts = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    return [o.as_tuple() for start, end in zip(cuts, cuts[1:])
            for o in ingest.process_stream(io.BytesIO(data), "f.warc.gz", CFG, start, end)]


def member_starts(data: bytes) -> list[int]:
    """Stored offset of each gzip member of an intact multi-member file."""
    starts, at = [], 0
    while at < len(data):
        starts.append(at)
        d = zlib.decompressobj(31)
        d.decompress(data[at:])
        at = len(data) - len(d.unused_data)
    return starts


def split_sizes(size: int) -> tuple[int, ...]:
    """A few KB (cuts fall inside gzip members and records) and a medium size; 48 KB for the
    megabyte files, whose every range reads the file from its start."""
    return (3000, 7 * 1024, 64 * 1024) if size < 400_000 else (48 * 1024, 700 * 1024)


@pytest.mark.parametrize("name", ARCHIVES)
def test_ranges_give_exactly_the_whole_file_outcomes(name):
    path = shared_file(name)
    size = path.stat().st_size
    expected = [o.as_tuple() for o in ingest.process_file(str(path), CFG)]
    for split in split_sizes(size):
        ranges = ingest.split_ranges(str(path), size, split)
        got = [o.as_tuple() for start, end in ranges for o in ingest.process_file(str(path), CFG, start, end)]
        assert got == expected, (name, split)
        assert ranges[0][0] == 0 and ranges[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        if name.endswith(".wet.gz"):
            assert ranges == [(0, size)]
        elif size > 2 * split:
            assert len(ranges) == -(-size // split)


def test_ranges_really_divide_the_records():
    """Each range of a multi-member file holds the records of its own members, no more."""
    path = shared_file(IA)
    size = path.stat().st_size
    counts = [sum(1 for _ in ingest.process_file(str(path), CFG, start, end))
              for start, end in ingest.split_ranges(str(path), size, size // 4 + 1)]
    assert len(counts) == 4 and sum(counts) == 822 and max(counts) < 822 // 2


def test_what_is_not_split():
    single_stream = shared_file("warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz")
    assert ingest.split_ranges(str(single_stream), single_stream.stat().st_size, 1000) == [(0, 111338)]
    dolma = shared_file("cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz")
    assert len(ingest.split_ranges(str(dolma), dolma.stat().st_size, 1000)) == 1  # gzip, not WARC
    assert ingest.split_ranges("/nonexistent.warc.gz", 5000, 1000) == [(0, 5000)]
    assert ingest.split_ranges("/nonexistent.warc.gz", 500, 1000) == [(0, 500)]  # small: never opened
    assert ingest.records_spread(shared_file(CC_2020).read_bytes()[:4096])
    assert ingest.records_spread(b"WARC/1.0\r\n") and ingest.records_spread(b"filedesc://x")
    assert not ingest.records_spread(b"<html>") and not ingest.records_spread(gzip.compress(b"x" * 10))


def test_file_outcomes_come_from_one_range(tmp_path):
    missing = str(tmp_path / "gone.warc.gz")
    assert [o.reason for o in ingest.process_file(missing, CFG, 0, 10)] == ["file_missing"]
    assert list(ingest.process_file(missing, CFG, 10, 20)) == []
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert [o.reason for s, e in ingest.split_ranges(str(empty), 0, 10)
            for o in ingest.process_file(str(empty), CFG, s, e)] == ["file_empty"]
    junk = b"no archive here\n" * 100
    assert by_ranges(junk, list(range(0, len(junk), 300))) == whole(junk)


def test_concatenated_archives_keep_offsets_and_crawl():
    """gzip members concatenate validly: two real files in one, cut every 5 KB; the second
    file's records keep their offsets past the first and the crawl of its own warcinfo."""
    first = shared_file(CC_2020).read_bytes()
    data = first + shared_file("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz").read_bytes()
    expected = whole(data)
    assert by_ranges(data, list(range(0, len(data), 5000))) == expected
    # The wget file's warcinfo names no crawl, so the CC one carries on, as in the whole run.
    second = [o for o in ingest.process_stream(io.BytesIO(data), "f.warc.gz", CFG, len(first))]
    assert second[0].warc_type == "warcinfo" and second[0].offset == len(gzip.decompress(first))
    assert {o.crawl for o in second} == {"CC-MAIN-2020-34"} and len(second) == 48


def _damaged_ia() -> tuple[bytes, list[int]]:
    data = shared_file(IA).read_bytes()
    return data, member_starts(data)


def test_flipped_bytes_mid_file_give_the_whole_file_outcomes():
    data, starts = _damaged_ia()
    member = starts[400]
    for at in (member + 20, member + (starts[401] - member) // 2):  # the deflate header, the middle
        damaged = data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1:]
        expected = whole(damaged)
        assert any(row[-2] in ("unreadable", "malformed", "truncated") for row in expected)
        cuts = [member - 1, member, member + 1, at, at + 1, starts[401], starts[402] + 7]
        assert by_ranges(damaged, cuts + list(range(0, len(data), 96 * 1024))) == expected


def test_truncated_copy_gives_the_whole_file_outcomes():
    data, starts = _damaged_ia()
    cut = starts[600] + (starts[601] - starts[600]) // 2
    damaged = data[:cut]
    expected = whole(damaged)
    assert expected[-1][-2] == "truncated"
    assert by_ranges(damaged, [starts[600], starts[600] + 1, cut - 1] + list(range(0, cut, 96 * 1024))) == expected


def test_short_fuzz_of_ranges():
    """Seeded damage to two real archives (gzip members, plain ARC); random cuts. The reader
    does not look for member starts of its own in a range, so damage anywhere, even one that
    makes the reader resync into the middle of a member, cannot make the ranges disagree."""
    rng = random.Random("issue-34 ranges")
    originals = [shared_file(CC_2020).read_bytes(), shared_file("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc").read_bytes()]
    for trial in range(30):
        damaged, lo, hi = fuzz.mutate(originals[trial % 2], rng)
        cuts = [rng.randrange(len(damaged) + 1) for _ in range(rng.randrange(1, 12))] + [lo, hi]
        assert by_ranges(damaged, cuts) == whole(damaged), (trial, lo, hi, cuts)


def _archive_in_a_record() -> tuple[bytes, int, int]:
    """Real CC members around a response whose payload is a real .warc.gz: deflate stores
    that payload verbatim, so the outer member's compressed bytes hold whole gzip members
    that inflate to WARC records. Returns (file, outer member start, its end)."""
    cc = shared_file(CC_2020).read_bytes()
    starts = member_starts(cc) + [len(cc)]
    inner = shared_file("warc/non_cc/wget-2024_dolma-sample-0000.warc.gz").read_bytes()
    record = warc_record("response", http_response(inner, content_type="application/warc"),
                         WARC_Target_URI="http://example.com/crawl.warc.gz",
                         Content_Type="application/http; msgtype=response")
    outer = gzip.compress(record, mtime=0)
    return cc[:starts[5]] + outer + cc[starts[5]:], starts[5], starts[5] + len(outer)


def test_gzip_members_inside_a_member_are_not_taken_for_its_boundaries():
    data, lo, hi = _archive_in_a_record()
    decoys = [at for at in range(lo + 1, hi) if data.startswith(warc.GZIP_MAGIC, at)]
    fooling = [at for at in decoys if _inflates_to_a_record(data[at:hi])]
    assert len(fooling) >= 3  # a sync on "a complete member that holds a WARC record" takes these
    expected = whole(data)
    assert len(expected) == 51  # the 50 real records and the one response, nothing from inside it
    assert by_ranges(data, fooling + [at + 1 for at in fooling] + list(range(0, len(data), 3000))) == expected
    # Damage in the outer member's deflate data makes the whole-file reader resync into the
    # stored members; the ranges repeat exactly that.
    damaged = data[:lo + 30] + bytes([data[lo + 30] ^ 0xFF]) + data[lo + 31:]
    assert len(whole(damaged)) > 51
    assert by_ranges(damaged, fooling + list(range(0, len(data), 3000))) == whole(damaged)


def _inflates_to_a_record(data: bytes) -> bool:
    member = zlib.decompressobj(31)
    try:
        return member.decompress(data).startswith(b"WARC/") and member.eof
    except zlib.error:
        return False


class _Counting(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_bytes = 0

    def read(self, n=-1):
        out = super().read(n)
        self.read_bytes += len(out)
        return out


def test_a_range_stops_reading_soon_after_its_end():
    data, starts = _damaged_ia()
    end = 200_000
    after = next(at for at in starts if at >= end)  # the first member past the range
    past_it = starts[starts.index(after) + 2]  # the reader reads that record and peeks at the next
    raw = _Counting(data)
    found = list(ingest.process_stream(raw, "f.warc.gz", CFG, 0, end))
    assert found and raw.read_bytes <= -(-past_it // warc.RAW_CHUNK) * warc.RAW_CHUNK < len(data)
