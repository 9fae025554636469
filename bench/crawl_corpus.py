"""python bench/crawl_corpus.py --out DIR [--total-mb 1024] [--file-mb 1024] [--seed 1] [--data ../shared/data]

A crawl-shaped corpus ASSEMBLED from the real pages of shared/data (see its README), NOT a
crawl: Common-Crawl-shaped WARC files for benchmarks at crawl scale (issue 34), where the
9 shared WARC files and 3,400 gold pages are far too few.

Produces DIR/crawl-00000.warc.gz, ... (about --file-mb MB = 10^6 bytes each, compressed; the
last may be smaller), DIR/MANIFEST.json (arguments, pool, per-file bytes and record counts,
status, MIME and kind shares) and DIR/planted_pairs.jsonl (one line per planted
near-duplicate). Same arguments and data, same bytes: every draw is a hash of (seed, key)
(`corpus_pipeline.hashing`), gzip headers carry mtime 0, and dates come from the seed.

Record shape, as in a Common Crawl `warc/` file (CC-MAIN-2020-34 in shared/data/warc/cc):
a `warcinfo` record first, then per capture `request`, `response`, `metadata` (in that
order), each record its own gzip member (so a file can be split at member boundaries),
WARC/1.0 headers with WARC-Record-ID, WARC-Date, WARC-Target-URI, WARC-Warcinfo-ID,
WARC-Concurrent-To, sha1 base32 WARC-Payload-Digest and WARC-Block-Digest, exact
Content-Length; payloads over 1 MiB are cut to 1 MiB and marked `WARC-Truncated: length`
(CC's rule for WARC files since 2013; the HTTP header gives the stored Content-Length and the
original size in X-Crawler-Content-Length). The metadata record holds fetchTimeMs,
charset-detected and, unlike CC's, `origin:` (the real file, the skeleton page, or the page
a planted copy copies). URLs, dates, IPs (198.18.0.0/15) and fetch times are made up.

Captures (each drawn from a hash of (seed, capture number); defaults are options). The
shares are those of CC-MAIN-2019-47's `warc` subset, counted over its URL index by Common
Crawl (github.com/commoncrawl/cc-notebooks, "Truncated Records in WARC Files (November
2019)", captures by detected MIME type): HTML 2,558M (text/html 2,003M, xhtml 556M), PDF
12.2M, RSS/Atom/XML 8.4M, JPEG 3.9M, text/plain 2.1M, calendar 1.0M, JSON 0.6M.
- non-200 responses, 1% (`--non200-share`): CC moves redirects, 404s and other non-200
  fetches to its `crawldiagnostics/` subset (1.79 TiB beside 67.79 TiB of WARC in
  CC-MAIN-2018-34), so the main `warc/` files hold 200s; 1% keeps ingest's http_status
  path busy at scale. Bodies and statuses are the real non-200 responses of the shared
  WARC/ARC files (404, 301, 302, 406).
- non-HTML 200 responses, 1.2% (`--non-html-share`; the types above but HTML are 1.1% of
  those captures, plus a long tail), split pdf 44%, xml 31%, image 14%, text/plain 8%,
  json 3% as above. Payloads are the real ones of the shared crawls (PDFs of the 2008 CC
  ARC; images, XML and text of the 2008 Heritrix WARC) and, for JSON, Mozilla
  Readability's real metadata files. All are sent with their own Content-Type; CC's
  xhtml share is a detected type, and HTML here is all served as text/html.
- HTML 200 responses, the rest. Of those, 10% (`--planted-share`) are planted
  near-duplicates (GPT-3, Appendix A: fuzzy dedup removed about 10% of the data); the others
  are fresh pages.
- A fresh page is a real page, verbatim, with probability 10% (`--real-share`) while the
  real pool lasts (about 4,400 pages: every web_html set, the HTML responses of the shared
  WARC/ARC files; exact duplicates dropped; so it lasts about 0.9 GB), else an assembled
  page. With probability 0.7% (`--long-share`) an assembled page is long (1.25 MiB and
  more, so it is cut at 1 MiB): 0.69% of CC-MAIN-2019-47's HTML captures were truncated for
  length (13.9M of 2,003M text/html; 0.57% of xhtml).

Assembled page (how, exactly): a skeleton, a real page whose prose text nodes (>= 8 words
and 60 characters, outside script/style) hold at least 70% of its visible text, keeps all
of its markup, scripts, navigation and other short text; each prose node is replaced by
new text of about its length (x0.7-1.3, escaped), made of whole sentences drawn, at
random, from the running sentence streams of 3 donor pages of the skeleton's language
(fastText lid.176 on the pages' prose; donors must be in a bucket of >= 50 pages), each
stream starting at a random sentence; every prose node gets at least 2 sentences, from at
least 2 donors' streams, so no paragraph repeats across pages (the repeated-lines stage
would take it). Title and h1-h6 text become a run of words of one donor sentence. The page
is UTF-8 (meta charsets rewritten). For 70% of assembled pages (`--cc-text-share`) the
donors are documents of dolma's Common Crawl extract (CC-MAIN-2019-30, cc_text/; those of
the skeleton's language with 5 sentences or more: 227 en, 71 es) instead of real pages:
the gold sets are curated articles, which the quality classifier scores like WebText
(median 0.92 under the 0.5.0 model, of which the Pareto rule kept about half), while raw CC text scores low; with 0.7 the
default filter job keeps a share of the documents it ingests closer to a crawl's (see
docs/crawl-corpus.md). Real text in new combinations: two assembled pages
share a skeleton's template lines at most, and their shingle Jaccard stays far below the
dedup threshold (the test checks that dedup finds nothing else than the planted pairs).

Planted near-duplicate: fresh page k' (uniform over the earlier fresh pages) re-rendered
with a few words edited (a share of 0.2-1% of the prose words, at least one, each dropped
or replaced by a pool word, `corpus_pipeline.planted.edit_words`) and a date line added
after <body>, at another URL of the same host; both record ids and pipeline document ids
are in planted_pairs.jsonl.
"""
from __future__ import annotations

import argparse
import base64
import codecs
import gzip
import hashlib
import html
import json
import random
import re
import resource
import sys
import tarfile
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import corpus_pipeline
from corpus_pipeline import extract, goldsets, hashing, ingest, langid, planted, warc

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
MB = 10**6
TRUNCATE_BYTES = 1 << 20  # Common Crawl's payload limit
GZIP_LEVEL = 6  # zlib's default, what CC's Java writer uses: a realistic cost to decompress
WHAT = "ASSEMBLED from real pages in shared/data, not a crawl (bench/crawl_corpus.py)"

NON_HTML_MIX = {"pdf": 0.44, "xml": 0.31, "image": 0.14, "text": 0.08, "json": 0.03}  # see the docstring
HTML_SETS = ("cleaneval", "cleanportaleval", "scrapinghub", "htmltotext", "dragnet", "l3s-gn1",
             "trafilatura", "readability", "wcxb-dev", "dclm", "warc")
DONORS = 3  # donor pages whose sentences fill one assembled page
MIN_BUCKET = 50  # a language needs this many donor pages to have assembled pages
MIN_PROSE_SHARE = 0.7  # a skeleton's prose nodes hold at least this share of its visible text
MIN_PROSE_CHARS = 500
MAX_SKELETON_BYTES = 800_000  # larger pages stay real-only (a normal assembled page < 1 MiB)
PLANT_EDIT_RANGE = (0.002, 0.01)  # share of a variant's prose words dropped or replaced
VOCAB_PAGES = 2000
READABILITY_MIN_BYTES = 5000  # under this, Readability's pages are hand-made test cases

# One scan finds the slots: markup whose inside is not text is matched (and skipped) whole;
# a title/h1-h6 text, and a text run of 60+ characters between tags, are slots.
_SLOTS = re.compile(r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<textarea\b.*?</textarea\s*>"
                    r"|<(?:title|h[1-6])\b[^>]*>(?P<head>[^<]{10,})(?=<)"
                    r"|(?<=>)(?P<text>[^<]{60,})(?=<)", re.S | re.I)
_NOT_TEXT = re.compile(r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")
_SPACE = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"(<meta\b[^>]*?charset\s*=\s*[\"']?)[\w.:-]+", re.I)
_BODY_OPEN = re.compile(rb"<body\b[^>]*>", re.I)
_CLEANEVAL_HEAD = re.compile(rb'^\s*<text id="([^"]*)"[^>]*?(?:encoding="([^"]*)")?[^>]*>')
_SLUG = re.compile(r"[^a-z0-9]+")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


# ---------------------------------------------------------------- the real material

@dataclass
class RealPage:
    name: str  # "<set>/<file>"
    url: str | None
    body: bytes  # the payload as found
    charset: str | None  # declared by its HTTP header or data set, if any


@dataclass
class Payload:  # a real non-HTML or non-200 response body
    name: str
    url: str | None
    status: int
    mime: str  # Content-Type header value
    body: bytes
    location: str | None = None


def usable_charset(name: str | None) -> str | None:
    """The name as given where Python knows the encoding, else None."""
    if not name or name.lower() in ("unset", "none"):
        return None
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def charset_of(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def cleaneval_pages(folder: Path, set_name: str):
    """Every input page (with gold or not), without the <text> wrapper CleanEval added; its
    URL and encoding from that wrapper."""
    for path in sorted((folder / "input").glob("*.html")):
        with path.open("rb") as handle:
            head = _CLEANEVAL_HEAD.match(handle.read(4096))
        url = head.group(1).decode("latin-1") if head else None
        charset = usable_charset(head.group(2).decode("latin-1")) if head and head.group(2) else None
        yield RealPage(f"{set_name}/{path.parent.parent.name}/{path.name}", url, goldsets.cleaneval_html(path), charset)


def tar_members(path: Path, wanted) -> dict[str, bytes]:
    """{member name: bytes} of the regular members whose name `wanted` accepts."""
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive if m.isfile() and wanted(m.name)}


def html_set(root: Path, name: str):
    """RealPages of one data set of shared/data, in name order."""
    web = root / "web_html"
    if name == "cleaneval":
        for part in ("cleaneval-dev", "cleaneval-final"):
            yield from cleaneval_pages(web / "cleaneval" / part, "cleaneval")
    elif name == "cleanportaleval":
        yield from cleaneval_pages(web / "cleanportaleval", "cleanportaleval")
    elif name == "scrapinghub":
        truth = json.loads((web / "scrapinghub-aeb/ground-truth.json").read_text(encoding="utf-8"))
        for page_id, entry in sorted(truth.items()):
            body = gzip.decompress((web / f"scrapinghub-aeb/html/{page_id}.html.gz").read_bytes())
            yield RealPage(f"scrapinghub/{page_id}", entry.get("url"), body, None)
    elif name == "htmltotext":
        for path in sorted((web / "htmltotext-benchmark/benchmarkdata").glob("*/html/*.html")):
            yield RealPage(f"htmltotext/{path.parent.parent.name}/{path.name}", None, path.read_bytes(), None)
    elif name == "dragnet":
        files = tar_members(web / "dragnet/dragnet_data.tar.xz", lambda n: "/input/" in n)
        for member in sorted(files):
            yield RealPage(f"dragnet/{member.rsplit('/', 1)[1]}", None, files[member], None)
    elif name == "l3s-gn1":
        folder = next((web / "l3s-gn1").glob("L3S-GN1-*"))
        urls = dict(line.split("\t", 1) for line in
                    (folder / "url-mapping.txt").read_text(encoding="utf-8").splitlines() if "\t" in line)
        for path in sorted((folder / "original").glob("*.html")):
            url = urls.get(f"<urn:uuid:{path.stem}>")
            yield RealPage(f"l3s-gn1/{path.name}", url and url.strip(), path.read_bytes(), "utf-8")
    elif name == "trafilatura":
        folder = web / "trafilatura-eval"
        urls = {entry["file"]: url for url, entry in
                json.loads((folder / "tests/evaldata.json").read_text(encoding="utf-8")).items()}
        files = tar_members(folder / "trafilatura-tests-html.tar.xz", lambda n: n.startswith("tests/"))
        for member in sorted(files):
            base = member.rsplit("/", 1)[1]
            yield RealPage(f"trafilatura/{member}", urls.get(base), files[member], None)
    elif name == "readability":
        for path in sorted((web / "readability/test-pages").glob("*/source.html")):
            if path.stat().st_size >= READABILITY_MIN_BYTES:
                yield RealPage(f"readability/{path.parent.name}", None, path.read_bytes(), None)
    elif name == "wcxb-dev":
        for path in sorted((web / "wcxb-dev/html").glob("*.html.gz")):
            truth = web / "wcxb-dev/ground-truth" / (path.name.removesuffix(".html.gz") + ".json")
            url = json.loads(truth.read_text(encoding="utf-8")).get("url") if truth.is_file() else None
            yield RealPage(f"wcxb-dev/{path.name}", url, gzip.decompress(path.read_bytes()), "utf-8")
    elif name == "dclm":
        for path in sorted((web / "dclm-enricher-html").rglob("*.html")):
            yield RealPage(f"dclm/{path.name}", None, path.read_bytes(), None)
    elif name == "warc":
        for response in crawl_responses(root):
            if response.status == 200 and ingest.is_html(response.mime, response.body):
                charset = usable_charset(charset_of(response.mime))
                yield RealPage(response.name, response.url, response.body, charset)
    else:
        raise ValueError(f"unknown source {name!r}: one of {', '.join(HTML_SETS)}")


def crawl_responses(root: Path):
    """Payloads of every HTTP response in the shared WARC/ARC files (transfer coding undone)."""
    for path in sorted(p for p in (root / "warc").glob("*/*") if p.is_file()):
        with path.open("rb") as raw:
            for record in warc.iter_records(raw, 8 * MB):
                if record.warc_type != "response" or not record.body or record.problem:
                    continue
                try:
                    status, http, body = ingest.parse_http(record.body)
                    body = ingest.undo_transfer_coding(body, http, 8 * MB, {})
                except ingest.Drop:
                    continue
                url = record.headers.get("warc-target-uri", "").strip("<>") or None
                yield Payload(f"warc/{path.name}@{record.offset}", url, status,
                              http.get("content-type", ""), body, http.get("location"))


def non_html_category(mime: str) -> str | None:
    mime = mime.split(";")[0].strip().lower()
    if mime == "application/pdf":
        return "pdf"
    if mime.startswith("image/"):
        return "image"
    if "xml" in mime and "html" not in mime:
        return "xml"
    if mime == "text/plain":
        return "text"
    if "json" in mime:
        return "json"
    return None


def other_payloads(root: Path) -> tuple[dict[str, list[Payload]], list[Payload]]:
    """({category: real non-HTML 200 payloads}, real non-200 responses)."""
    by_category, non200 = {c: [] for c in NON_HTML_MIX}, []
    for response in crawl_responses(root):
        if response.status != 200:
            if response.body:
                non200.append(response)
        elif (category := non_html_category(response.mime)) and response.body:
            by_category[category].append(response)
    for path in sorted((root / "web_html/readability/test-pages").glob("*/expected-metadata.json")):
        by_category["json"].append(Payload(f"readability/{path.parent.name}.json", None, 200,
                                           "application/json", path.read_bytes()))
    return by_category, non200


def real_pages(root: Path, sources, seed: int) -> list[RealPage]:
    """Every page of the sources, exact duplicates (same bytes) once, in seeded order."""
    pages, seen = [], set()
    for name in sources:
        for page in html_set(root, name):
            digest = hashlib.sha1(page.body).digest()
            if digest not in seen and page.body.strip():
                seen.add(digest)
                pages.append(page)
    return sorted(pages, key=lambda p: hashing.uint64(seed, "page", p.name))


# ---------------------------------------------------------------- skeletons and sentences

@dataclass
class Skeleton:
    page: int  # index of its RealPage
    fixed: list[bytes]  # markup between the slots, UTF-8; one more than slots
    raw: list[str]  # the slots' original text, as in the HTML
    headings: list[bool]  # slot is a title/h1-h6 text
    lengths: list[int]  # characters of each slot's text, entities decoded, spaces collapsed
    lang: str
    eligible: bool  # may be the skeleton of assembled pages


def segments(page_html: str) -> tuple[list[str], list[str], list[bool], int, int]:
    """(fixed markup pieces, slot texts as in the HTML, heading flags, prose chars, visible
    chars): a slot is a prose text node (>= 8 words and 60 characters) or a title/heading."""
    fixed, raw, headings = [], [], []
    piece_start, prose = 0, 0
    for match in _SLOTS.finditer(page_html):
        name = match.lastgroup
        if name is None:
            continue
        words = match.group(name).split()
        if not words or name == "text" and (len(words) < 8 or len(" ".join(words)) < 60):
            continue
        start, end = match.span(name)
        fixed.append(page_html[piece_start:start])
        raw.append(page_html[start:end])
        headings.append(name == "head")
        piece_start = end
        prose += len(" ".join(words)) if name == "text" else 0
    fixed.append(page_html[piece_start:])
    visible = len(" ".join(_NOT_TEXT.sub(" ", page_html).split()))
    return fixed, raw, headings, prose, visible


def plain(text: str) -> str:
    return _SPACE.sub(" ", html.unescape(text)).strip()


def sentences_of(texts: list[str]) -> list[str]:
    """Sentences of 20-600 characters of the prose texts, in order."""
    out = []
    for text in texts:
        out.extend(s for s in _SENTENCE_END.split(plain(text)) if 20 <= len(s) <= 600)
    return out


def utf8_markup(piece: str) -> bytes:
    """Markup as UTF-8, its meta charset declarations saying so."""
    return _META_CHARSET.sub(rb"\1utf-8", piece.encode("utf-8", "surrogatepass"))


def decoded(page: RealPage) -> str | None:
    try:
        return extract.decode_html(page.body, page.charset)[0]
    except extract.DecodeError:
        return None


def skeleton_of(index: int, page: RealPage, page_html: str, whole: bool = False) -> Skeleton:
    """The page's slots and whether it may be a skeleton; its markup only where it may (or
    `whole`: a planted copy of the real page itself, which also keeps the slots' own text)."""
    fixed, raw, headings, prose, visible = segments(page_html)
    eligible = (len(page.body) <= MAX_SKELETON_BYTES and prose >= MIN_PROSE_CHARS
                and prose >= MIN_PROSE_SHARE * visible and headings.count(False) >= 3)
    markup = [utf8_markup(p) for p in fixed] if eligible or whole else []
    return Skeleton(index, markup, raw, headings, [len(plain(r)) for r in raw], "", eligible)


def prose_of(skeleton: Skeleton) -> list[str]:
    return [r for r, h in zip(skeleton.raw, skeleton.headings) if not h]


@dataclass
class Pool:
    pages: list[RealPage]
    skeletons: list[Skeleton]  # eligible ones
    sentences: dict[int, list[str]]  # page index -> its prose sentences (donor pages only)
    donors: dict[str, list[int]]  # language -> donor page indexes
    cc_donors: dict[str, list[int]]  # language -> keys (negative) of Common Crawl text donors
    vocab: list[str]
    by_category: dict[str, list[Payload]]
    non200: list[Payload]
    hosts: list[str]
    stats: dict = field(default_factory=dict)


def build_pool(root: Path, sources, seed: int) -> Pool:
    pages = real_pages(root, sources, seed)
    skeletons, sentences, langs = [], {}, {}
    for i, page in enumerate(pages):
        page_html = decoded(page)
        if page_html is None:
            continue
        skeleton = skeleton_of(i, page, page_html)
        own = sentences_of(prose_of(skeleton))
        if len(own) < 5:
            continue
        skeleton.lang = langs[i] = langid.identify(" ".join(own[:20]), 1000)[0]
        sentences[i] = own
        if skeleton.eligible:
            skeleton.raw = []  # assembled pages replace every slot
            skeletons.append(skeleton)
    donors: dict[str, list[int]] = {}
    for i, lang in langs.items():
        donors.setdefault(lang, []).append(i)
    donors = {lang: ids for lang, ids in donors.items() if len(ids) >= MIN_BUCKET}
    skeletons = [s for s in skeletons if s.lang in donors]
    sentences = {i: s for i, s in sentences.items() if langs[i] in donors}
    vocab = sorted({w for i in sorted(sentences)[:VOCAB_PAGES] for s in sentences[i] for w in s.split()})
    cc_donors = add_cc_text(root, sentences)
    by_category, non200 = other_payloads(root)
    hosts = sorted({urlsplit(p.url).netloc for p in pages if p.url and urlsplit(p.url).netloc})
    missing = [c for c, items in by_category.items() if not items]
    if missing or not non200 or not skeletons:
        raise SystemExit(f"shared data at {root} lacks material: categories {missing}, "
                         f"non-200 {len(non200)}, skeletons {len(skeletons)}")
    stats = {"real_html_pages": len(pages), "skeletons": len(skeletons),
             "skeletons_by_language": dict(sorted(Counter(s.lang for s in skeletons).items())),
             "donor_pages_by_language": {lang: len(ids) for lang, ids in sorted(donors.items())},
             "cc_text_donors_by_language": {lang: len(ids) for lang, ids in sorted(cc_donors.items())},
             "donor_sentences": sum(len(s) for s in sentences.values()),
             "non_html_payloads": {c: len(items) for c, items in by_category.items()},
             "non200_payloads": dict(sorted(Counter(str(p.status) for p in non200).items())),
             "fingerprint": pool_fingerprint(pages, by_category, non200)}
    return Pool(pages, skeletons, sentences, donors, cc_donors, vocab, by_category, non200, hosts, stats)


def add_cc_text(root: Path, sentences: dict[int, list[str]]) -> dict[str, list[int]]:
    """Adds the documents of dolma's Common Crawl extract (CC-MAIN-2019-30, shared/data/cc_text)
    to `sentences` under keys -1, -2, ...; returns {language: their keys} for languages with
    MIN_BUCKET documents of 5 sentences or more."""
    path = next((root / "cc_text").glob("dolma_CC-MAIN-*.jsonl.gz"))
    by_lang: dict[str, list[int]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            own = sentences_of(json.loads(line)["text"].split("\n"))
            if len(own) >= 5:
                key = -(n + 1)
                sentences[key] = own
                by_lang.setdefault(langid.identify(" ".join(own[:20]), 1000)[0], []).append(key)
    return {lang: keys for lang, keys in by_lang.items() if len(keys) >= MIN_BUCKET}


def pool_fingerprint(pages, by_category, non200) -> str:
    digest = hashlib.sha256()
    for item in [*pages, *(p for items in by_category.values() for p in items), *non200]:
        digest.update(item.name.encode() + hashlib.sha1(item.body).digest())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- pages

class Streams:
    """Running sentence streams of a page's donors, each from a random start."""

    def __init__(self, pool: Pool, donor_ids: list[int], rng: random.Random):
        self.lists = [pool.sentences[i] for i in donor_ids]
        self.next_at = [rng.randrange(len(s)) for s in self.lists]

    def take(self, donor: int) -> str:
        items = self.lists[donor]
        sentence = items[self.next_at[donor] % len(items)]
        self.next_at[donor] += 1
        return sentence


def prose_text(target: int, streams: Streams, rng: random.Random) -> str:
    """Whole sentences until about `target` characters; at least 2, from 2 donors."""
    first = rng.randrange(len(streams.lists))
    parts = [streams.take(first), streams.take((first + 1 + rng.randrange(len(streams.lists) - 1))
                                               % len(streams.lists))]
    size = sum(map(len, parts))
    while size < target:
        parts.append(streams.take(rng.randrange(len(streams.lists))))
        size += len(parts[-1]) + 1
    return " ".join(parts)


def heading_text(target: int, streams: Streams, rng: random.Random) -> str:
    """A run of words of one donor sentence, about `target` characters."""
    words = streams.take(rng.randrange(len(streams.lists))).split()
    start = rng.randrange(max(1, len(words) - 3))
    out = []
    for word in words[start:]:
        out.append(word)
        if sum(map(len, out)) + len(out) >= target:
            break
    return " ".join(out)


def assembled_texts(pool: Pool, skeleton: Skeleton, rng: random.Random, scale: float = 1.0,
                    cc_text: bool = False) -> list[str]:
    """New text for each slot, from the sentences of 3 donors of the skeleton's language:
    other real pages, or (cc_text) documents of dolma's Common Crawl extract."""
    candidates = pool.cc_donors[skeleton.lang] if cc_text else pool.donors[skeleton.lang]
    bucket = [i for i in rng.sample(candidates, DONORS + 1) if i != skeleton.page][:DONORS]
    streams = Streams(pool, bucket, rng)
    texts = []
    for length, heading in zip(skeleton.lengths, skeleton.headings):
        target = round(length * rng.uniform(0.7, 1.3))
        texts.append(heading_text(target, streams, rng) if heading else prose_text(round(target * scale), streams, rng))
    return texts


def render(skeleton: Skeleton, texts: list[str | None]) -> bytes:
    """The skeleton's markup with each slot's text (None: the slot's own text, as it was)."""
    parts = [skeleton.fixed[0]]
    for i, (text, markup) in enumerate(zip(texts, skeleton.fixed[1:])):
        slot = skeleton.raw[i] if text is None else html.escape(text, quote=False)
        parts.append(slot.encode("utf-8", "surrogatepass"))
        parts.append(markup)
    return b"".join(parts)


def long_scale(skeleton: Skeleton) -> float:
    """How much to stretch a skeleton's prose so that the page passes 1 MiB (by 25%)."""
    fixed = sum(map(len, skeleton.fixed))
    prose = sum(n for n, h in zip(skeleton.lengths, skeleton.headings) if not h)
    return max(1.0, (1.25 * TRUNCATE_BYTES - fixed) / (0.7 * prose))


# ---------------------------------------------------------------- WARC records

def record_id(seed: int, *parts) -> str:
    return f"<urn:uuid:{uuid.UUID(bytes=hashing.digest(hashing.key(seed, *parts), 16), version=4)}>"


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_date(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def record_bytes(warc_type: str, headers: list[tuple[str, str]], block: bytes) -> bytes:
    """One WARC/1.0 record: version, WARC-Type, the headers, Content-Length, block, CRLF CRLF."""
    lines = [f"WARC/1.0\r\nWARC-Type: {warc_type}\r\n"]
    for name, value in headers:
        lines.append(f"{name}: {value}\r\n")
        if name == "WARC-Record-ID":  # CC's order: Type, Date, Record-ID, Content-Length, ...
            lines.append(f"Content-Length: {len(block)}\r\n")
    return "".join(lines).encode("utf-8") + b"\r\n" + block + b"\r\n\r\n"


class WarcFile:
    """One .warc.gz being written: a gzip member per record, counted as it goes."""

    def __init__(self, path: Path):
        self.path, self.handle = path, path.open("wb")
        self.bytes, self.records = 0, Counter()

    def write(self, warc_type: str, headers: list[tuple[str, str]], block: bytes) -> None:
        member = zlib.compress(record_bytes(warc_type, headers, block), GZIP_LEVEL, wbits=31)
        self.handle.write(member)
        self.bytes += len(member)
        self.records[warc_type] += 1

    def close(self) -> dict:
        self.handle.close()
        return {"name": self.path.name, "bytes": self.bytes, "records": dict(sorted(self.records.items()))}


# ---------------------------------------------------------------- captures

@dataclass(frozen=True)
class Fresh:
    kind: str  # real, assembled, long
    index: int  # its RealPage (real) or its fresh number (assembled, long)
    url: str
    capture: int


@dataclass
class Capture:
    url: str
    status: int
    mime: str  # Content-Type header value
    body: bytes  # the full payload; cut to 1 MiB when written
    kind: str  # real, assembled, long, planted, non_html:<category>, non200
    origin: str  # where it comes from, said in its metadata record
    location: str | None = None


class Generator:
    """Captures in order, from (seed, capture number); fresh pages are remembered only by
    how to make them again (a planted copy re-renders its original)."""

    def __init__(self, pool: Pool, args):
        self.pool, self.args, self.seed = pool, args, args.seed
        self.fresh: list[Fresh] = []  # fresh page k, to be made again for a planted copy
        self.copyable: list[int] = []  # fresh pages a planted copy may copy: all but the long ones
        self.real_used = 0
        self.pairs: list[dict] = []

    def draw(self, *parts) -> float:
        return hashing.unit_float(self.seed, *parts)

    def rng(self, *parts) -> random.Random:
        return random.Random(hashing.uint64(self.seed, *parts))

    def capture(self, c: int) -> Capture:
        u = self.draw("capture", c)
        if u < self.args.non200_share:
            return self.non200(c)
        if u < self.args.non200_share + self.args.non_html_share:
            return self.non_html(c)
        if self.copyable and self.draw("planted", c) < self.args.planted_share:
            return self.planted(c)
        return self.fresh_page(c)

    def non200(self, c: int) -> Capture:
        item = self.pool.non200[hashing.uint64(self.seed, "non200", c) % len(self.pool.non200)]
        location = item.location
        return Capture(self.unique_url(item.url, c), item.status, item.mime, item.body, "non200",
                       f"real {item.name}", location)

    def non_html(self, c: int) -> Capture:
        u, category = self.draw("category", c), None
        for category, share in NON_HTML_MIX.items():
            u -= share
            if u < 0:
                break
        items = self.pool.by_category[category]
        item = items[hashing.uint64(self.seed, "payload", c) % len(items)]
        return Capture(self.unique_url(item.url, c), 200, item.mime, item.body, f"non_html:{category}",
                       f"real {item.name}")

    def unique_url(self, url: str | None, c: int) -> str:
        """A real payload's URL (or a pool host's) made unique to this capture."""
        if not url or not url.startswith("http"):
            url = f"http://{self.host(c)}/files/{c:x}"
        return f"{url}{'&' if '?' in url else '?'}n={c:x}"

    def host(self, *parts) -> str:
        return self.pool.hosts[hashing.uint64(self.seed, "host", *parts) % len(self.pool.hosts)]

    def fresh_page(self, c: int) -> Capture:
        k = len(self.fresh)
        if self.real_used < len(self.pool.pages) and self.draw("real", k) < self.args.real_share:
            index, self.real_used = self.real_used, self.real_used + 1
            page = self.pool.pages[index]
            url = page.url if page.url and page.url.startswith("http") else self.made_url(k, page.name)
            capture = Capture(url, 200, html_type(page.charset, page.body), page.body, "real", f"real {page.name}")
        else:
            index = k
            kind = "long" if self.draw("long", k) < self.args.long_share else "assembled"
            skeleton, texts, cc_text = self.assembled(k, kind)
            url = self.made_url(k, texts[0] if texts else "page", self.pool.pages[skeleton.page].url)
            donors = "real Common Crawl text (dolma CC-MAIN-2019-30)" if cc_text else "other real pages"
            origin = f"assembled: the markup of {self.pool.pages[skeleton.page].name}, sentences of {donors}"
            capture = Capture(url, 200, "text/html; charset=UTF-8", render(skeleton, texts), kind, origin)
        self.fresh.append(Fresh(capture.kind, index, capture.url, c))
        if capture.kind != "long":  # a copy of a truncated page would be dropped with it
            self.copyable.append(k)
        return capture

    def assembled(self, k: int, kind: str) -> tuple[Skeleton, list[str], bool]:
        """(skeleton, slot texts, text from Common Crawl) of assembled page k."""
        rng = self.rng("assembled", k)
        skeleton = self.pool.skeletons[rng.randrange(len(self.pool.skeletons))]
        scale = long_scale(skeleton) if kind == "long" else 1.0
        cc_text = skeleton.lang in self.pool.cc_donors and self.draw("cc-text", k) < self.args.cc_text_share
        return skeleton, assembled_texts(self.pool, skeleton, rng, scale, cc_text), cc_text

    def made_url(self, k: int, words: str, like: str | None = None) -> str:
        parts = urlsplit(like) if like and like.startswith("http") else None
        host = parts.netloc if parts and parts.netloc else self.host("page", k)
        slug = _SLUG.sub("-", words.lower()).strip("-")[:60] or "page"
        return f"{parts.scheme if parts else 'http'}://{host}/{2000 + k % 24}/{slug}-{k:x}.html"

    def planted(self, c: int) -> Capture:
        rng = self.rng("planted", c)
        k = self.copyable[rng.randrange(len(self.copyable))]
        fresh = self.fresh[k]
        if fresh.kind == "real":
            page = self.pool.pages[fresh.index]
            page_html = decoded(page) or page.body.decode("utf-8", "replace")
            skeleton = skeleton_of(fresh.index, page, page_html, whole=True)
            texts = [None] * len(skeleton.raw)
        else:
            skeleton, texts, _ = self.assembled(k, fresh.kind)
        texts, edits = edited(skeleton, texts, planted.rng_for(f"crawl-plant:{c}", self.seed), self.pool.vocab)
        body = with_date_line(render(skeleton, texts), rng)
        url = variant_url(fresh.url, c, rng)
        self.pairs.append({"fresh": k, "original_kind": fresh.kind, "original_capture": fresh.capture,
                           "original_url": fresh.url, "duplicate_capture": c, "duplicate_url": url,
                           "word_edits": edits})
        return Capture(url, 200, "text/html; charset=UTF-8", body, "planted",
                       f"planted: a near-duplicate of {fresh.url}")


def html_type(charset: str | None, body: bytes) -> str:
    """A real page's Content-Type: its declared charset, UTF-8 when it decodes so, else none."""
    if charset is None:
        try:
            body.decode("utf-8")
            charset = "UTF-8"
        except UnicodeDecodeError:
            return "text/html"
    return f"text/html; charset={charset}"


def edited(skeleton: Skeleton, texts: list[str | None], np_rng, vocab: list[str]):
    """(slot texts with a few prose words dropped or replaced, how many edits): a share of
    PLANT_EDIT_RANGE of the prose words, at least one; slots left alone stay None."""
    prose = [i for i, h in enumerate(skeleton.headings) if not h]
    lines = [plain(skeleton.raw[i]) if texts[i] is None else texts[i] for i in prose]
    words = sum(len(line.split()) for line in lines)
    edits = min(words, max(1, round(np_rng.uniform(*PLANT_EDIT_RANGE) * words)))
    new_lines = planted.edit_words("\n".join(lines), edits, np_rng, vocab).split("\n")
    out = list(texts)
    for i, old, new in zip(prose, lines, new_lines):
        if new != old or texts[i] is not None:
            out[i] = new
    return out, edits


def with_date_line(body: bytes, rng: random.Random) -> bytes:
    when = datetime(2015, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))
    line = f"<p class=\"updated\">{when:%Y-%m-%d %H:%M}</p>".encode()
    match = _BODY_OPEN.search(body)
    return body[:match.end()] + line + body[match.end():] if match else line + body


def variant_url(url: str, c: int, rng: random.Random) -> str:
    """Another URL of the same page on the same host: a print, mobile or tracking version."""
    parts = urlsplit(url)
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"{url}{'&' if parts.query else '?'}utm_source=feed&n={c:x}"
    if pattern == 1:
        return f"{parts.scheme}://{parts.netloc}/amp{parts.path or '/'}?n={c:x}"
    return f"{parts.scheme}://{parts.netloc}/print/{c:x}{parts.path or '/'}"


# ---------------------------------------------------------------- writing

class CorpusWriter:
    def __init__(self, args, pool: Pool):
        self.args, self.pool, self.seed = args, pool, args.seed
        self.start = (datetime(2020, 1, 1, tzinfo=timezone.utc)
                      + timedelta(seconds=hashing.uint64(args.seed, "start") % (5 * 365 * 86400)))
        self.files: list[dict] = []
        self.current: WarcFile | None = None
        self.warcinfo_id = ""
        self.status, self.mime, self.kinds = Counter(), Counter(), Counter()
        self.truncated = 0

    def when(self, c: int) -> datetime:
        return self.start + timedelta(seconds=2 * c + hashing.uint64(self.seed, "second", c) % 2)

    def open_file(self, c: int) -> None:
        if self.current:
            self.files.append(self.current.close())
        name = f"crawl-{len(self.files):05d}.warc.gz"
        self.current = WarcFile(Path(self.args.out) / name)
        self.warcinfo_id = record_id(self.seed, "warcinfo", name)
        fields = (f"isPartOf: assembled-crawl-seed-{self.seed}\r\npublisher: corpus-pipeline bench/crawl_corpus.py\r\n"
                  f"description: {WHAT}\r\noperator: none\r\nsoftware: corpus-pipeline "
                  f"{corpus_pipeline.__version__}\r\nformat: WARC File Format 1.0\r\n"
                  f"conformsTo: http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf\r\n")
        self.current.write("warcinfo", [("WARC-Date", warc_date(self.when(c))), ("WARC-Record-ID", self.warcinfo_id),
                                        ("Content-Type", "application/warc-fields"), ("WARC-Filename", name)],
                           fields.encode())

    def write_capture(self, c: int, capture: Capture) -> str:
        """The capture's request, response and metadata records; the response's record id."""
        when, parts = self.when(c), urlsplit(capture.url)
        date = warc_date(when)
        ip = ip_of(parts.netloc)
        request_id, response_id = record_id(self.seed, c, "request"), record_id(self.seed, c, "response")
        common = [("WARC-Warcinfo-ID", self.warcinfo_id)]
        request = (f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
                   "User-Agent: corpus-pipeline-assembled/1.0 (not a crawl)\r\n"
                   "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
                   "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: br,gzip\r\n"
                   f"Host: {parts.netloc}\r\nConnection: Keep-Alive\r\n\r\n").encode("utf-8")
        self.current.write("request", [("WARC-Date", date), ("WARC-Record-ID", request_id),
                                       ("Content-Type", "application/http; msgtype=request"), *common,
                                       ("WARC-IP-Address", ip), ("WARC-Target-URI", capture.url)], request)
        payload, truncated = capture.body[:TRUNCATE_BYTES], len(capture.body) > TRUNCATE_BYTES
        block = http_head(capture, when, len(payload), truncated) + payload
        headers = [("WARC-Date", date), ("WARC-Record-ID", response_id),
                   ("Content-Type", "application/http; msgtype=response"), *common,
                   ("WARC-Concurrent-To", request_id), ("WARC-IP-Address", ip), ("WARC-Target-URI", capture.url),
                   ("WARC-Payload-Digest", sha1_b32(payload)), ("WARC-Block-Digest", sha1_b32(block)),
                   ("WARC-Identified-Payload-Type", capture.mime.split(";")[0].strip())]
        if truncated:
            headers.append(("WARC-Truncated", "length"))
            self.truncated += 1
        self.current.write("response", headers, block)
        meta = f"fetchTimeMs: {50 + hashing.uint64(self.seed, 'fetch', c) % 2000}\r\norigin: {capture.origin}\r\n"
        if charset_of(capture.mime):
            meta += f"charset-detected: {charset_of(capture.mime).upper()}\r\n"
        self.current.write("metadata", [("WARC-Date", date), ("WARC-Record-ID", record_id(self.seed, c, "metadata")),
                                         ("Content-Type", "application/warc-fields"), *common,
                                         ("WARC-Concurrent-To", response_id), ("WARC-Target-URI", capture.url)],
                           meta.encode())
        self.status[capture.status] += 1
        self.mime[capture.mime.split(";")[0].strip().lower()] += 1
        self.kinds[capture.kind.split(":")[0]] += 1
        return response_id

    def run(self, generator: Generator) -> None:
        """Captures until the files hold --total-mb; a new file once one holds --file-mb."""
        target, per_file = self.args.total_mb * MB, self.args.file_mb * MB
        c, closed = 0, 0
        fresh_ids: list[tuple[str, str]] = []  # (response record id, file) of each fresh page
        while closed + (self.current.bytes if self.current else 0) < target:
            if self.current is None or self.current.bytes >= per_file:
                closed += self.current.bytes if self.current else 0
                self.open_file(c)
            capture = generator.capture(c)
            where = (self.write_capture(c, capture), self.current.path.name)
            if capture.kind == "planted":
                pair = generator.pairs[-1]
                original = fresh_ids[pair.pop("fresh")]
                pair.update(original_record_id=original[0], original_file=original[1],
                            original_doc_id=ingest.short_hash(original[0]), duplicate_record_id=where[0],
                            duplicate_file=where[1], duplicate_doc_id=ingest.short_hash(where[0]))
            elif capture.kind in FRESH_KINDS:
                fresh_ids.append(where)
            c += 1
        self.files.append(self.current.close())
        self.captures = c


FRESH_KINDS = ("real", "assembled", "long")


def http_head(capture: Capture, when: datetime, length: int, truncated: bool) -> bytes:
    reason = HTTP_REASONS.get(capture.status, "")
    lines = [f"HTTP/1.1 {capture.status} {reason}".rstrip(), f"Date: {http_date(when - timedelta(seconds=1))}"]
    if capture.location:
        lines.append(f"Location: {capture.location}")
    lines.append(f"Content-Type: {capture.mime}" if capture.mime else "Content-Type: application/octet-stream")
    if truncated:
        lines.append(f"X-Crawler-Content-Length: {len(capture.body)}")
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


HTTP_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 403: "Forbidden",
                404: "Not Found", 406: "Not Acceptable", 410: "Gone", 500: "Internal Server Error"}


def ip_of(host: str) -> str:
    """An address in 198.18.0.0/15, the block reserved for benchmarks (RFC 2544)."""
    n = hashing.uint64("ip", host) % (1 << 17)
    return f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"


# ---------------------------------------------------------------- manifest and command line

def shares(counter: Counter) -> dict:
    total = sum(counter.values())
    return {str(k): {"count": n, "share": round(n / total, 5)} for k, n in sorted(counter.items(), key=str)}


def manifest(args, pool: Pool, writer: CorpusWriter, pairs: list[dict]) -> dict:
    records = Counter()
    for f in writer.files:
        records.update(f["records"])
    return {
        "what": WHAT,
        "note": ("Each page is a real page of shared/data, or a real page's markup with its prose replaced by "
                 "sentences of other real pages (see bench/crawl_corpus.py and docs/crawl-corpus.md); "
                 "URLs, dates, IPs and HTTP headers are made up from the seed."),
        "generator": "bench/crawl_corpus.py", "version": corpus_pipeline.__version__,
        "seed": args.seed,
        "arguments": {k: v for k, v in sorted(vars(args).items()) if k != "out"},
        "pool": pool.stats,
        "files": writer.files,
        "bytes": sum(f["bytes"] for f in writer.files),
        "captures": writer.captures,
        "records": dict(sorted(records.items())),
        "http_status": shares(writer.status),
        "mime": shares(writer.mime),
        "kinds": shares(writer.kinds),
        "truncated": writer.truncated,
        "planted_pairs": len(pairs),
        "planted_pairs_file": "planted_pairs.jsonl",
    }


def write_outputs(out: Path, args, pool: Pool, writer: CorpusWriter, pairs: list[dict]) -> dict:
    with (out / "planted_pairs.jsonl").open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair, sort_keys=True) + "\n")
    summary = manifest(args, pool, writer, pairs)
    (out / "MANIFEST.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return summary


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the .warc.gz files and MANIFEST.json")
    parser.add_argument("--total-mb", type=float, default=1024, help="compressed size of the corpus (MB = 10^6 bytes)")
    parser.add_argument("--file-mb", type=float, default=1024, help="compressed size of one file, at most 1024")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder")
    parser.add_argument("--sources", default=",".join(HTML_SETS),
                        help="real HTML page sets to draw from (fewer: a faster start)")
    parser.add_argument("--non200-share", type=share, default=0.01, help="captures with a non-200 status")
    parser.add_argument("--non-html-share", type=share, default=0.012, help="captures that are 200s but not HTML")
    parser.add_argument("--planted-share", type=share, default=0.10,
                        help="HTML 200 captures that are planted near-duplicates")
    parser.add_argument("--real-share", type=share, default=0.10, help="fresh pages that are real pages verbatim")
    parser.add_argument("--long-share", type=share, default=0.007, help="assembled pages over 1 MiB (truncated)")
    parser.add_argument("--cc-text-share", type=share, default=0.7,
                        help="assembled pages whose sentences come from real Common Crawl text, not gold pages")
    args = parser.parse_args(argv)
    if not 0 < args.file_mb <= 1024 or args.total_mb <= 0:
        parser.error("--file-mb must be in (0, 1024] and --total-mb positive")
    if args.non200_share + args.non_html_share > 1:
        parser.error("--non200-share plus --non-html-share exceed 1")
    if not (Path(args.data) / "web_html").is_dir():
        parser.error(f"no shared data at {args.data} (needs its web_html/ and warc/ folders)")
    args.sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = set(args.sources) - set(HTML_SETS)
    if unknown:
        parser.error(f"unknown sources {sorted(unknown)}: choose from {', '.join(HTML_SETS)}")
    return args


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("crawl-*.warc.gz"):  # a smaller rerun must not leave files of a larger one
        old.unlink()
    pool = build_pool(Path(args.data), args.sources, args.seed)
    pool_cpu = cpu_seconds()
    writer = CorpusWriter(args, pool)
    generator = Generator(pool, args)
    writer.run(generator)
    summary = write_outputs(out, args, pool, writer, generator.pairs)
    cpu = cpu_seconds()
    gb = summary["bytes"] / 1e9
    print(f"{WHAT}\n  {len(summary['files'])} files, {summary['bytes'] / MB:,.1f} MB, "
          f"{summary['captures']:,} captures, "
          f"{summary['planted_pairs']:,} planted pairs, {summary['truncated']:,} truncated -> {out}\n"
          f"  CPU {cpu:.1f} s (pool {pool_cpu:.1f} s, writing {cpu - pool_cpu:.1f} s = "
          f"{(cpu - pool_cpu) / gb if gb else 0:.0f} s per GB); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
