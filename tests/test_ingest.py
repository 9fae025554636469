"""Per-record ingest: one test per reason code on tiny literal records, then exact counts on
the real archives in shared/data and on the bundled sample."""
from __future__ import annotations

import collections
import gzip
import io

import pytest

from corpus_pipeline import ingest
from corpus_pipeline.fuzz import mutate
from corpus_pipeline.config import IngestConfig
from corpus_pipeline.warc import RawRecord, iter_records

from .conftest import ENGLISH_PAGE, SAMPLE, gzip_members, response_record, shared_file, warc_record

CFG = IngestConfig()


def outcomes(data: bytes, cfg: IngestConfig = CFG):
    return list(ingest.process_stream(io.BytesIO(data), "test.warc", cfg))


def one(data: bytes, cfg: IngestConfig = CFG) -> ingest.Outcome:
    (outcome,) = outcomes(data, cfg)
    return outcome


def test_english_page_is_kept_with_its_fields():
    doc = one(response_record(ENGLISH_PAGE, url="http://harbour.example/history"))
    assert doc.reason is None
    assert doc.url == "http://harbour.example/history" and doc.crawl is None
    assert doc.text.startswith("The old harbour\nThe old harbour was built")
    assert "Home" not in doc.text  # navigation is not main content
    assert (doc.lang, doc.lang_score > 0.9) == ("en", True)
    assert doc.text_chars == len(doc.text) and doc.payload_bytes == len(ENGLISH_PAGE)
    assert len(doc.id) == 24 and doc.charset == "utf-8"


@pytest.mark.parametrize("record, reason", [
    (warc_record("request", b"GET / HTTP/1.1\r\n\r\n"), "not_response"),
    (warc_record("warcinfo", b"isPartOf: CC-MAIN-2099-01\r\n"), "not_response"),
    (response_record(b"\x89PNG\r\n", content_type="image/png"), "not_html"),
    (response_record(ENGLISH_PAGE, status="404 Not Found"), "http_status"),
    (response_record(ENGLISH_PAGE, status="301 Moved"), "http_status"),
    (warc_record("response", b"<html>no status line</html>", Content_Type="application/http"), "http_status"),
    (warc_record("response", b"txt", Content_Type="text/dns"), "not_html"),
    (response_record(b"\x00\x01\x02\x03binary" * 50), "decode_error"),
    (response_record(b"<html><body><script>var x = 1;</script></body></html>"), "empty_text"),
    (response_record(b"<html><body><p>Too short to be a document.</p></body></html>"), "too_short"),
    (response_record(ENGLISH_PAGE.replace(b"harbour", b"Hafen").replace(b"The old", b"Der alte")
                     .replace(b"was built in the eighteenth century to shelter fishing boats from the",
                              b"wurde im achtzehnten Jahrhundert gebaut, um die Fischerboote vor den")
                     .replace(b"winter storms that sweep in from the north sea every year",
                              b"Winterst\xc3\xbcrmen zu sch\xc3\xbctzen, die jedes Jahr von der Nordsee kommen")
                     .replace(b"Today the", b"Heute ist der").replace(b"is a quiet place where visitors walk along the "
                     b"stone piers, watch the boats come in, and read the history of the town on the boards near the "
                     b"lighthouse", b"ein ruhiger Ort, an dem Besucher auf den steinernen Molen spazieren, den Booten "
                     b"zusehen und die Geschichte der Stadt auf den Tafeln beim Leuchtturm lesen")), "language"),
    (warc_record("response", b"HTTP/1.1 200 OK\r\n", Content_Type="application/http", WARC_Truncated="length"),
     "truncated"),
])
def test_each_drop_reason(record, reason):
    outcome = one(record)
    assert outcome.reason == reason
    assert outcome.text is None


def test_oversize_and_damage_reasons_pass_through():
    for problem in ("oversize", "malformed", "unreadable", "truncated"):
        outcome = ingest.record_outcome(RawRecord(0, problem=problem), "f.warc", None, CFG)
        assert (outcome.reason, outcome.warc_type) == (problem, None)


def test_every_reason_code_is_exercised_somewhere():
    assert set(ingest.RECORD_REASONS) == {
        "unreadable", "malformed", "truncated", "oversize", "not_response", "not_html", "http_status",
        "decode_error", "too_complex", "empty_text", "too_short", "language"}


def test_wrong_charset_header_falls_back_to_the_real_encoding():
    page = ENGLISH_PAGE.replace(b"quiet place", "quiet café place".encode("cp1252"))
    doc = one(response_record(page, content_type="text/html; charset=utf-8"))
    assert doc.reason is None and "café" in doc.text and doc.charset != "utf-8"


def test_declared_cyrillic_charset_is_used():
    body = ("<html><body><p>" + "Привет, это страница на русском языке о старой гавани и её истории. " * 5
            + "</p></body></html>").encode("cp1251")
    doc = one(response_record(body, content_type="text/html; charset=windows-1251"),
              IngestConfig(languages=("ru",)))
    assert doc.reason is None and doc.text.startswith("Привет") and doc.charset == "cp1251"


def test_chunked_and_gzip_payloads_are_decoded():
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (ENGLISH_PAGE[:100], ENGLISH_PAGE[100:])) + b"0\r\n\r\n"
    doc = one(response_record(chunked, extra="Transfer-Encoding: chunked\r\n"))
    assert doc.reason is None and doc.payload_bytes == len(chunked)
    doc = one(response_record(gzip.compress(ENGLISH_PAGE), extra="Content-Encoding: gzip\r\n"))
    assert doc.reason is None and doc.text.startswith("The old harbour")
    # Common Crawl keeps the header but stores the payload decoded: do not decode twice.
    doc = one(response_record(ENGLISH_PAGE, extra="Content-Encoding: gzip\r\n"))
    assert doc.reason is None


def test_crawl_name_comes_from_warcinfo():
    data = gzip_members([warc_record("warcinfo", b"isPartOf: CC-MAIN-2099-01\r\n"), response_record(ENGLISH_PAGE)])
    assert [o.crawl for o in outcomes(data)] == ["CC-MAIN-2099-01"] * 2


def test_ids_are_stable_and_distinct():
    data = gzip_members([response_record(ENGLISH_PAGE, url=f"http://e.example/{i}") for i in range(3)])
    first, second = outcomes(data), outcomes(data)
    assert [o.id for o in first] == [o.id for o in second]
    assert len({o.id for o in first}) == 3


def test_missing_and_empty_files_are_counted(tmp_path):
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert [o.reason for o in ingest.process_file(str(empty), CFG)] == ["file_empty"]
    assert [o.reason for o in ingest.process_file(str(tmp_path / "gone.warc.gz"), CFG)] == ["file_missing"]


# Exact outcomes on real data (Common Crawl unless the name says otherwise), default config.
# The block classifier (extractor "blocks") drops navigation and link lists, so pages that
# are mostly menus (portal front pages, site maps, photo pages) fall under min_chars as
# `too_short`. Pages whose kept text is short are more often judged `language` on it.
REAL_COUNTS = {
    "warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz":
        {"not_response": 34, "language": 7, "too_short": 8, None: 1},
    "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc": {"not_response": 9, "truncated": 2, "not_html": 1, "too_short": 1},
    "warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc.wet": {"not_response": 1, None: 3},
    "warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz": {"not_response": 1, "language": 2, None: 23},
    "warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc":
        {"not_response": 1, "not_html": 6, "http_status": 11, "empty_text": 6, "too_short": 20, "language": 14,
         None: 59},
    "warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz":
        {"not_response": 523, "not_html": 158, "http_status": 47, "empty_text": 1, "too_short": 13, "language": 1,
        None: 79},
    "warc/non_cc/wget-2024_dolma-sample-0000.warc.gz": {"not_response": 26, None: 22},
    "warc/non_cc/wayback-2010_cdx-toolkit-extract.warc.gz":
        {"not_response": 1, "language": 18, "too_short": 26, "empty_text": 1, None: 11},
}


@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_exact_outcomes_on_real_archives(name):
    found = collections.Counter(o.reason for o in ingest.process_file(str(shared_file(name)), CFG))
    assert dict(found) == REAL_COUNTS[name]


def test_bundled_sample_is_the_documented_real_data():
    names = sorted(p.name for p in SAMPLE.iterdir() if p.suffix != ".md")
    for name in names:
        shared = next((s for s in REAL_COUNTS if s.endswith(name)), None)
        assert shared, f"{name} in data/sample has no documented origin"
        if (original := shared_file(shared)).exists():
            assert (SAMPLE / name).read_bytes() == original.read_bytes()


def test_trafilatura_extractor_can_be_chosen():
    doc = one(response_record(ENGLISH_PAGE), IngestConfig(extractor="trafilatura"))
    assert doc.reason is None and "The old harbour was built" in doc.text and "Home" not in doc.text


def _outcome_summary(outcomes_: list) -> list[tuple]:
    return [(o.warc_type, o.url, o.reason, o.text) for o in outcomes_]


def test_unicode_digit_length_is_one_malformed_outcome(tmp_path):
    """Issue 35: a Content-Length of "1\u00b2" passed `isdigit()` and made `int()` raise, which
    failed the task (and every resume). Now it is one counted `malformed` record."""
    original = shared_file("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc")
    data = original.read_bytes()
    at = data.index(b"Content-Length: ", data.index(b"WARC-Type: response")) + len(b"Content-Length: ")
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(data[:at] + "1\u00b2".encode() + data[data.index(b"\r\n", at):])
    intact = list(ingest.process_file(str(original), CFG))
    found = list(ingest.process_file(str(damaged), CFG))
    assert len(found) == len(intact) == 13
    bad = [i for i, o in enumerate(found) if o.reason == "malformed"]
    assert len(bad) == 1
    assert _outcome_summary(found[:bad[0]] + found[bad[0] + 1:]) == \
        _outcome_summary(intact[:bad[0]] + intact[bad[0] + 1:])


# ------------------------------------------------ issue 35: nothing a file contains stops a run

def _regions(data: bytes, gzip_members_: bool) -> list[tuple[int, int]]:
    """Byte range of each record (a gzip member per record, or plain records) in the file."""
    if gzip_members_:
        import zlib

        ranges, at = [], 0
        while at < len(data):
            d = zlib.decompressobj(31)
            d.decompress(data[at:])
            end = len(data) - len(d.unused_data)
            ranges.append((at, end))
            at = end
        return ranges
    starts = [r.offset for r in iter_records(io.BytesIO(data), CFG.max_record_bytes)]
    return list(zip(starts, starts[1:] + [len(data)]))


FUZZ_FILES = [  # (file, first records kept, one gzip member per record)
    ("warc/cc/CC-MAIN-2014-35_node-warc-fixture.warc", None, False),
    ("warc/cc/CC-2008_copycat-small-sample-1213893279526_0.arc", 12, False),
    ("warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz", None, True),
    ("warc/cc/CC-MAIN-2016-50_harwell-filter_test_1.warc.wet.gz", None, None),  # one gzip stream
]


@pytest.mark.parametrize("name, keep, members", FUZZ_FILES)
def test_mutation_fuzz_never_raises_and_keeps_untouched_records(name, keep, members):
    """50 seeded damages of each real file (flip, insert, delete, cut, duplicate bytes, or the
    file recompressed as one gzip stream or decompressed, which touches no record): ingest
    never raises, and every record at least one record away from the damage comes out exactly
    as from the intact file (a single gzip stream hides what follows damage, so there only the
    first property holds). Speed is measured in bench/, never asserted here."""
    import random

    data = shared_file(name).read_bytes()
    if keep:
        data = data[:_regions(data, False)[keep][0]]
    regions = _regions(data, bool(members)) if members is not None else []
    intact = [(o.warc_type, o.url, o.reason, o.text) for o in outcomes(data)]
    assert len(intact) == len(regions) or members is None
    rng = random.Random(f"issue-35 {name}")
    for trial in range(50):
        damaged, lo, hi = mutate(data, rng)
        found = outcomes(damaged)
        assert found, (trial, lo, hi)
        touched = [i for i, (start, end) in enumerate(regions) if start <= hi and lo <= end]
        near = {j for i in touched for j in (i - 1, i, i + 1)}
        expected = collections.Counter(s for i, s in enumerate(intact) if regions and i not in near)
        got = collections.Counter((o.warc_type, o.url, o.reason, o.text) for o in found)
        assert not expected - got, (trial, lo, hi, expected - got)
