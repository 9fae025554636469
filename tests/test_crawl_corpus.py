"""The crawl-shaped corpus generator (bench/crawl_corpus.py), run as its CLI on a few MB of
real pages (CleanEval, L3S-GN1 and the shared WARC/ARC files, for a quick start): the same
bytes twice, Common Crawl's record shape, every record read by our reader, the shares it
was asked for, CC's 1 MiB truncation, and planted near-duplicates that dedup finds, with
nothing else found. No Spark."""
from __future__ import annotations

import base64
import hashlib
import json
import math
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest

from corpus_pipeline import config, dedup, ingest, warc
from corpus_pipeline.config import IngestConfig

from .conftest import REPO, SHARED_DATA, shared_file

SOURCES = "cleaneval,l3s-gn1,warc"
# Shares raised above the defaults so that a 4 MB corpus (about 290 captures) holds each kind.
SHARES = {"--non200-share": 0.03, "--non-html-share": 0.05, "--planted-share": 0.10, "--long-share": 0.03}
ARGS = ["--total-mb", "4", "--file-mb", "2", "--seed", "7", "--sources", SOURCES,
        *(str(x) for kv in SHARES.items() for x in kv)]


def generate(out: Path) -> Path:
    subprocess.run([sys.executable, str(REPO / "bench" / "crawl_corpus.py"), "--out", str(out),
                    "--data", str(SHARED_DATA), *ARGS], check=True, capture_output=True, cwd=REPO)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    for needed in ("web_html/cleaneval", "web_html/l3s-gn1", "warc/non_cc", "web_html/readability"):
        shared_file(needed)
    return generate(tmp_path_factory.mktemp("crawl") / "a")


@pytest.fixture(scope="module")
def manifest(corpus) -> dict:
    return json.loads((corpus / "MANIFEST.json").read_text())


@pytest.fixture(scope="module")
def records(corpus) -> list[tuple[str, warc.RawRecord]]:
    out = []
    for path in sorted(corpus.glob("crawl-*.warc.gz")):
        with path.open("rb") as raw:
            out.extend((path.name, record) for record in warc.iter_records(raw, 8 << 20))
    return out


@pytest.fixture(scope="module")
def responses(records) -> list[tuple[dict, int, dict, bytes]]:
    """(WARC headers, HTTP status, HTTP headers, payload) of every response."""
    return [(r.headers, *ingest.parse_http(r.body)) for _, r in records if r.warc_type == "response"]


@pytest.fixture(scope="module")
def origins(records) -> dict[str, str]:
    """{response record id: the origin its metadata record states}."""
    out = {}
    for _, r in records:
        if r.warc_type == "metadata":
            fields = dict(line.split(": ", 1) for line in r.body.decode("utf-8").splitlines() if ": " in line)
            out[r.headers["warc-concurrent-to"]] = fields["origin"]
    return out


@pytest.fixture(scope="module")
def outcomes(corpus) -> list[ingest.Outcome]:
    return [o for path in sorted(corpus.glob("crawl-*.warc.gz"))
            for o in ingest.process_file(str(path), IngestConfig())]


def test_the_same_arguments_give_the_same_bytes(corpus, tmp_path):
    again = generate(tmp_path / "b")
    names = sorted(p.name for p in corpus.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert len([n for n in names if n.endswith(".warc.gz")]) == 2
    for name in names:
        assert (corpus / name).read_bytes() == (again / name).read_bytes(), name


def test_the_manifest_and_warcinfo_say_assembled_not_a_crawl(manifest, records):
    assert "ASSEMBLED from real pages" in manifest["what"] and "not a crawl" in manifest["what"]
    warcinfos = [r for _, r in records if r.warc_type == "warcinfo"]
    assert len(warcinfos) == len(manifest["files"]) == 2
    assert all(b"not a crawl" in r.body and b"isPartOf: assembled-crawl-seed-7" in r.body for r in warcinfos)
    assert manifest["arguments"]["sources"] == SOURCES.split(",") and manifest["seed"] == 7


def test_records_come_in_common_crawls_order_each_its_own_gzip_member(corpus, manifest, records):
    for f in manifest["files"]:
        data = (corpus / f["name"]).read_bytes()
        assert len(data) == f["bytes"]
        assert gzip_members(data) == sum(f["records"].values())
        types = [r.warc_type for name, r in records if name == f["name"]]
        assert types[0] == "warcinfo" and "warcinfo" not in types[1:]
        assert types[1:] == ["request", "response", "metadata"] * (len(types) // 3)
    assert manifest["records"]["response"] == manifest["captures"] == len(records) // 3


def gzip_members(data: bytes) -> int:
    count, pos = 0, 0
    while pos < len(data):
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[pos:])
        assert inflater.eof
        pos, count = len(data) - len(inflater.unused_data), count + 1
    return count


def test_warc_headers_are_complete_and_digests_right(records):
    by_id = {r.headers["warc-record-id"]: r for _, r in records}
    for _, r in records:
        h = r.headers
        assert int(h["content-length"]) == len(r.body) and h["warc-date"].endswith("Z")
        if r.warc_type == "warcinfo":
            continue
        assert by_id[h["warc-warcinfo-id"]].warc_type == "warcinfo" and h["warc-target-uri"].startswith("http")
        if r.warc_type == "response":
            assert h["content-type"] == "application/http; msgtype=response"
            assert by_id[h["warc-concurrent-to"]].warc_type == "request"
            _, _, payload = ingest.parse_http(r.body)
            assert h["warc-payload-digest"] == sha1_b32(payload) and h["warc-block-digest"] == sha1_b32(r.body)
        if r.warc_type == "metadata":
            assert by_id[h["warc-concurrent-to"]].warc_type == "response"
    uris = [r.headers["warc-target-uri"] for _, r in records if r.warc_type == "response"]
    assert len(set(uris)) == len(uris)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def test_our_reader_accounts_for_every_record(outcomes, manifest):
    assert len(outcomes) == sum(manifest["records"].values())
    reasons = Counter(o.reason for o in outcomes)
    assert not set(reasons) & {"unreadable", "malformed", *ingest.FILE_REASONS}
    assert reasons["not_response"] == sum(manifest["records"].values()) - manifest["captures"]
    assert reasons["truncated"] == manifest["truncated"] and reasons[None] > manifest["captures"] // 2


def tolerance(share: float, n: int) -> float:
    """4 binomial standard deviations of a share over n draws, plus one draw: each capture's
    kind is an independent draw from a hash, so a miss is a 1-in-15,000 event."""
    return 4 * math.sqrt(share * (1 - share) / n) + 1 / n


def test_status_mime_and_planted_shares_are_what_was_asked(responses, manifest):
    n = len(responses)
    non200 = sum(status != 200 for _, status, _, _ in responses)
    assert abs(non200 / n - SHARES["--non200-share"]) <= tolerance(SHARES["--non200-share"], n)
    ok = [(http, body) for _, status, http, body in responses if status == 200]
    non_html = sum(not ingest.is_html(http.get("content-type", ""), body) for http, body in ok)
    asked = SHARES["--non-html-share"] / (1 - SHARES["--non200-share"])  # a share of all captures
    assert abs(non_html / len(ok) - asked) <= tolerance(asked, len(ok))
    html = len(ok) - non_html
    planted = SHARES["--planted-share"]
    assert abs(manifest["planted_pairs"] / html - planted) <= tolerance(planted, html)
    statuses = Counter(str(status) for _, status, _, _ in responses)
    mimes = Counter(http["content-type"].split(";")[0].strip().lower() for _, _, http, _ in responses)
    assert {k: v["count"] for k, v in manifest["http_status"].items()} == statuses
    assert {k: v["count"] for k, v in manifest["mime"].items()} == mimes


def test_payloads_over_1_mib_are_cut_to_1_mib_and_marked(responses, manifest):
    truncated = [(h, http, body) for h, _, http, body in responses if h.get("warc-truncated")]
    assert len(truncated) == manifest["truncated"] >= 2
    for h, http, body in truncated:
        assert h["warc-truncated"] == "length" and len(body) == 1 << 20
        assert int(http["content-length"]) == 1 << 20 < int(http["x-crawler-content-length"])
    assert all(len(body) < 1 << 20 for h, _, _, body in responses if not h.get("warc-truncated"))


def test_every_capture_states_its_origin_and_made_pages_are_utf8(responses, origins, manifest):
    """Real payloads keep their own headers (5 pages of the shared WARCs say utf-8 over cp1252
    bytes); the pages the generator makes say UTF-8 and are."""
    kinds = Counter(origins[h["warc-record-id"]].split(" ")[0].rstrip(":") for h, _, _, _ in responses)
    assert kinds["real"] == sum(manifest["kinds"][k]["count"] for k in ("real", "non200", "non_html"))
    assert kinds["assembled"] == manifest["kinds"]["assembled"]["count"] + manifest["kinds"]["long"]["count"]
    assert kinds["planted"] == manifest["kinds"]["planted"]["count"] == manifest["planted_pairs"]
    made = [(h, http, body) for h, _, http, body in responses if not origins[h["warc-record-id"]].startswith("real")]
    for h, http, body in made:
        assert http["content-type"] == "text/html; charset=UTF-8"
        body.decode("utf-8", "strict" if not h.get("warc-truncated") else "ignore")


def test_dedup_finds_the_planted_pairs_and_nothing_else(corpus, manifest, outcomes):
    """Assembled pages share real sentences but are no near-duplicates of each other: on the
    documents ingest keeps, the job's dedup rule (bands, Jaccard >= 0.8) removes only planted
    copies or their originals, and finds every pair whose two pages ingest kept."""
    pairs = [json.loads(line) for line in (corpus / "planted_pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == manifest["planted_pairs"] > 10
    kept = {o.id: o.text for o in outcomes if o.reason is None}
    ids = sorted(kept)
    keepers = dict(zip(ids, dedup.near_duplicate_keepers([kept[i] for i in ids], config.DedupConfig(), ids=ids)))
    in_pairs = {p[f"{side}_doc_id"] for p in pairs for side in ("original", "duplicate")}
    assert {i for i, k in keepers.items() if k != i} <= in_pairs
    both = [p for p in pairs if p["original_doc_id"] in kept and p["duplicate_doc_id"] in kept]
    assert len(both) >= 0.8 * len(pairs)
    assert all(keepers[p["original_doc_id"]] == keepers[p["duplicate_doc_id"]] for p in both)
    assert all(p["word_edits"] >= 1 and p["original_url"] != p["duplicate_url"] for p in pairs)
