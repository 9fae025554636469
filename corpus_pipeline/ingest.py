"""Ingest: WARC/WET/ARC records -> documents, each record kept or dropped with a reason.

Consumes files through `warc.iter_records`; produces one `Outcome` per record read (and one
per input file that cannot be read at all). GPT-3 Appendix A starts from Common Crawl
pages; this stage keeps HTTP 2xx HTML responses (and WET text conversions), decodes them,
extracts the main text and identifies the language. The per-record logic is pure: bytes
and a config in, an `Outcome` out. One large file can be processed as byte ranges in
separate tasks with exactly the whole file's outcomes (`split_ranges`, `process_file`'s
start/end; docs/splitting.md).
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, fields

import fsspec

from . import extract, hashing, inputs, langid, warc
from .config import IngestConfig

# Why a record is dropped, in the order the checks run. A kept record has reason None.
RECORD_REASONS = (
    "unreadable",  # compressed data is corrupt
    "malformed",  # not a WARC/ARC header, or the declared length does not match the framing
    "truncated",  # the file ends mid-record, or the crawler truncated the payload
    "oversize",  # body larger than ingest.max_record_bytes
    "not_response",  # warcinfo, request, metadata, resource, revisit records
    "not_html",  # a response that is not HTML (images, PDFs, robots.txt, DNS)
    "http_status",  # not a 2xx response, or no parsable HTTP status line
    "decode_error",  # binary payload, or a content encoding we cannot undo
    # HTML over ingest.max_html_chars or nested deeper than ingest.max_html_depth: skipped
    # before extraction, whose cost grows with elements x depth (deterministic, no timer)
    "too_complex",
    "empty_text",  # the extractor found no text
    "too_short",  # fewer than ingest.min_chars characters
    "language",  # not one of ingest.languages, or below ingest.min_lang_score
)
# Input files that yield no record at all; counted apart from records.
FILE_REASONS = ("file_missing", "file_unreadable", "file_empty")

HTML_TYPES = ("text/html", "application/xhtml+xml")
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)?\s+(\d{3})")
# ASCII hex only, at most 15 significant digits (a chunk under 1 PB): bytes patterns never
# match Unicode digits, and a size that long is damage, not a chunk.
_CHUNK_SIZE_LINE = re.compile(rb"0*([0-9a-fA-F]{1,15})[ \t]*(?:;[^\r\n]*)?\r?\n")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


@dataclass(frozen=True)
class Outcome:
    id: str
    source: str
    offset: int | None
    warc_type: str | None
    warc_record_id: str | None = None
    url: str | None = None
    crawl: str | None = None
    warc_date: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    payload_bytes: int | None = None
    text: str | None = None
    text_chars: int | None = None
    lang: str | None = None
    lang_score: float | None = None
    reason: str | None = None
    detail: str | None = None

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


OUTCOME_FIELDS = tuple(f.name for f in fields(Outcome))


class Drop(Exception):
    def __init__(self, reason: str, detail: str | None = None, **found):
        super().__init__(reason)
        self.reason, self.detail, self.found = reason, detail, found


def document_id(record: warc.RawRecord, source: str) -> str:
    """Stable id: a hash of the WARC-Record-ID, or of (file name, offset) where there is none."""
    key = record.headers.get("warc-record-id") or f"{source.rsplit('/', 1)[-1]}@{record.offset}"
    return short_hash(key)


def short_hash(key: str) -> str:
    """A 24-character hex id of the key (spark/shards.py imports it from here)."""
    return hashing.hex_id(key)


def process_file(path: str, cfg: IngestConfig, start: int = 0, end: int | None = None):
    """Every outcome of one input file, in file order. Never raises for bad data.

    With a byte range [start, end) of the stored file (end None: to its end), only the
    outcomes of the records whose gzip member starts in it (a plain file: the record itself),
    and the file's own outcome (missing, unreadable, empty) where the whole-file run would
    give it after them: over ranges that cut [0, size) in order, the outcomes concatenated
    are exactly the whole file's, field by field, damaged files included (see split_ranges).
    """
    source = inputs.printable(path)  # the name a non-UTF-8 file shows in every output
    span = _Span(start, end)
    try:
        with fsspec.open(path, "rb") as raw:
            yield from _range_outcomes(raw, source, cfg, span)
    except FileNotFoundError as err:
        if span.active:
            yield _file_outcome(source, "file_missing", inputs.printable(str(err)))
    except OSError as err:
        if span.active:
            yield _file_outcome(source, "file_unreadable", inputs.printable(f"{type(err).__name__}: {err}"))


SPLIT_PROBE_BYTES = 1 << 18  # a Common Crawl warcinfo member is under 1 KB compressed


def split_ranges(path: str, size_bytes: int, split_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) of the stored file, about `split_bytes` each, to process apart
    with process_file(path, cfg, start, end): [0, s), [s, 2s) ... [ks, size_bytes).

    Any cut is exact (see process_file); cutting pays where the records spread over the file:
    one gzip member per record (Common Crawl's .warc.gz, .wet.gz, .arc.gz) or a plain WARC/ARC.
    A single gzip stream holds every record in its first member, so it stays one range, as
    does anything else; telling them apart reads the file's first bytes only when it is
    larger than one range. `size_bytes` must be the file's size: the last range ends there.
    """
    if split_bytes <= 0 or size_bytes <= split_bytes or not _records_spread(path):
        return [(0, size_bytes)]
    starts = range(0, size_bytes, split_bytes)
    return [(at, min(at + split_bytes, size_bytes)) for at in starts]


def _records_spread(path: str) -> bool:
    try:
        with fsspec.open(path, "rb") as raw:
            head = raw.read(SPLIT_PROBE_BYTES)
    except OSError:
        return False  # the one range reports it
    return records_spread(head)


def records_spread(head: bytes) -> bool:
    """Whether a file opening with `head` holds its records apart: gzip whose first member
    ends inside `head` with another member after it, or a plain WARC or ARC."""
    if not head.startswith(warc.GZIP_MAGIC):
        return head.startswith((b"WARC/", b"filedesc://"))
    member = zlib.decompressobj(31)
    try:
        while not member.eof and head:
            member.decompress(head, 1 << 20)  # outputs are thrown away; only where it ends counts
            head = member.unconsumed_tail
    except zlib.error:
        return False
    return member.eof and member.unused_data.startswith(warc.GZIP_MAGIC)


class _Span:
    """A byte range of a stored file, and whether the reader is inside it: from the first
    record it owns (from the file's start for the first range) until the first record past it.
    What the whole-file run yields for the file itself then comes from exactly one range."""

    def __init__(self, start: int = 0, end: int | None = None):
        self.start, self.end = start, end
        self.active = start == 0

    def past(self, record: warc.RawRecord) -> bool:
        """True from the first record after the range: its reader stops there."""
        return self.end is not None and record.member_offset >= self.end

    def owns(self, record: warc.RawRecord) -> bool:
        """Whether the range yields this record (one not past it)."""
        self.active = self.active or record.member_offset >= self.start
        return self.active


def process_stream(raw, source: str, cfg: IngestConfig, start: int = 0, end: int | None = None):
    """Outcomes of one open file read from its start (of the byte range [start, end) of it,
    as process_file), in file order."""
    yield from _range_outcomes(raw, source, cfg, _Span(start, end))


def _range_outcomes(raw, source: str, cfg: IngestConfig, span: _Span):
    """Every range reads the file from its start: a record's offset counts the uncompressed
    bytes before it, and its crawl comes from the last warcinfo record before it, so the
    records before the range are read (not extracted) to give them exactly."""
    crawl, count = None, 0
    for record in warc.iter_records(raw, cfg.max_record_bytes):
        if span.past(record):
            return
        if record.warc_type == "warcinfo" and record.body:
            crawl = _crawl_name(record.body) or crawl
        count += 1
        if span.owns(record):
            yield record_outcome(record, source, crawl, cfg)
    if count == 0 and span.active:
        yield _file_outcome(source, "file_empty", "no records")


def _file_outcome(path: str, reason: str, detail: str) -> Outcome:
    return Outcome(id=short_hash(path), source=path,
                   offset=None, warc_type=None, reason=reason, detail=detail[:500])


def _crawl_name(body: bytes) -> str | None:
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "ispartof" and value.strip():
            return value.strip()
    if body.startswith(b"1 ") and b"CommonCrawl" in body:  # ARC v1 filedesc of Common Crawl
        return "CC-ARC"
    return None


def record_outcome(record: warc.RawRecord, source: str, crawl: str | None, cfg: IngestConfig) -> Outcome:
    """Kept document or dropped record, for one record. Pure: no I/O, no counters."""
    h = record.headers
    base = dict(id=document_id(record, source), source=source, offset=record.offset,
                warc_type=record.warc_type, warc_record_id=h.get("warc-record-id"),
                url=_target_uri(h), crawl=crawl, warc_date=h.get("warc-date"))
    try:
        found = _document_fields(record, cfg)
    except Drop as drop:
        return Outcome(**base, **drop.found, reason=drop.reason, detail=drop.detail)
    return Outcome(**base, **found)


def _target_uri(headers: dict) -> str | None:
    uri = headers.get("warc-target-uri")
    return uri.strip("<>") if uri else None  # wget writes <uri>, as a WARC 1.0 draft did


def _document_fields(record: warc.RawRecord, cfg: IngestConfig) -> dict:
    if record.problem:
        raise Drop(record.problem)
    if record.warc_type == "conversion":  # WET: text already extracted by Common Crawl
        text = extract.tidy_text(record.body.decode("utf-8", "replace"))
        return _text_fields(text, cfg, payload_bytes=len(record.body), charset="utf-8")
    if record.warc_type != "response":
        raise Drop("not_response", record.warc_type)
    h = record.headers
    if h.get("warc-truncated") and not cfg.keep_truncated:
        raise Drop("truncated", h["warc-truncated"])
    if not h.get("content-type", "").startswith("application/http"):
        raise Drop("not_html", h.get("content-type") or "no content type")
    status, http, body = parse_http(record.body)
    content_type = http.get("content-type", "")
    found = dict(http_status=status, content_type=content_type[:200] or None, payload_bytes=len(body))
    if not 200 <= status < 300:
        raise Drop("http_status", str(status), **found)
    if not is_html(content_type, body):
        raise Drop("not_html", content_type or "no content type", **found)
    body = undo_transfer_coding(body, http, cfg.max_record_bytes, found)
    return html_fields(body, cfg, _declared_charset(content_type), _target_uri(h), **found)


def html_fields(body: bytes, cfg: IngestConfig, declared_charset: str | None = None, url: str | None = None,
                **found) -> dict:
    """What ingest keeps of an HTML payload: decoded, main text extracted, then the text
    checks (length, language); raises Drop otherwise. Also reads saved pages
    (references.load_html_page)."""
    try:
        html, charset = extract.decode_html(body, declared_charset)
    except extract.DecodeError as err:
        raise Drop("decode_error", str(err), **found) from None
    try:
        text = extract.extract_main_text(html, url, cfg.extractor,
                                         max_html_chars=cfg.max_html_chars, max_depth=cfg.max_html_depth)
    except extract.ExtractCapped as err:
        raise Drop("too_complex", str(err), **found) from None
    return _text_fields(text, cfg, **found, charset=charset)


def _text_fields(text: str, cfg: IngestConfig, **found) -> dict:
    found.update(text_chars=len(text))
    if not text:
        raise Drop("empty_text", **found)
    if len(text) < cfg.min_chars:
        raise Drop("too_short", f"{len(text)} chars", **found)
    lang, score = langid.identify(text, cfg.lid_max_chars)
    found.update(lang=lang, lang_score=score)
    if not cfg.keeps_language(lang, score):
        raise Drop("language", f"{lang} {score}", **found)
    return dict(found, text=text)


def parse_http(block: bytes) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of an HTTP response; Drop if unparsable."""
    match = _STATUS_LINE.match(block)
    if not match:
        raise Drop("http_status", "no HTTP status line")
    end, sep_len = _header_end(block)
    headers = {}
    for line in block[:end].decode("latin-1").splitlines()[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(match.group(1)), headers, block[end + sep_len:]


def _header_end(block: bytes) -> tuple[int, int]:
    ends = [(block.find(sep), len(sep)) for sep in (b"\r\n\r\n", b"\n\n")]
    ends = [e for e in ends if e[0] >= 0]
    return min(ends) if ends else (len(block), 0)


def is_html(content_type: str, body: bytes) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()  # no declared type: sniff, as browsers do
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def undo_transfer_coding(body: bytes, http: dict, limit: int, found: dict) -> bytes:
    """Undo chunking and gzip/deflate, but only where the bytes show them.

    Common Crawl stores payloads already decoded (and often keeps the original headers),
    so a header alone is no proof the body is still encoded.
    """
    if "chunked" in http.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    encoding = http.get("content-encoding", "").lower()
    if encoding in ("gzip", "x-gzip", "deflate") and _looks_compressed(body):
        decoder = zlib.decompressobj(47 if body[:2] == b"\x1f\x8b" else 15)
        try:
            out = decoder.decompress(body, limit + 1)
        except zlib.error:
            raise Drop("decode_error", f"bad {encoding} content encoding", **found) from None
        if len(out) > limit:
            raise Drop("oversize", "decompressed payload", **found)
        return out
    if encoding in ("br", "zstd") and not body.lstrip()[:1] == b"<":
        raise Drop("decode_error", f"content encoding {encoding}", **found)
    return body


def _looks_compressed(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b" or body[:1] == b"\x78"  # gzip magic, or a zlib header


def _dechunk(body: bytes) -> bytes:
    """Chunked transfer coding undone; the body unchanged where it is not really chunked."""
    out, pos = [], 0
    while pos < len(body):
        match = _CHUNK_SIZE_LINE.match(body, pos)
        if not match:
            return b"".join(out) if out else body
        size, pos = int(match.group(1), 16), match.end()
        if size == 0:
            return b"".join(out)
        out.append(body[pos:pos + size])
        pos += size
        if body[pos:pos + 2] == b"\r\n":
            pos += 2
        elif body[pos:pos + 1] == b"\n":
            pos += 1
    return b"".join(out)


def _declared_charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


# What a file that holds no readable record is, from its first bytes (as file(1) says it).
_MAGIC = ((b"\xff\xd8\xff", "JPEG image data"), (b"\x89PNG", "PNG image data"), (b"GIF8", "GIF image data"),
          (b"%PDF", "PDF document"), (b"PK\x03\x04", "ZIP archive"), (b"\x1f\x8b", "gzip data without a record"),
          (b"\x28\xb5\x2f\xfd", "zstd data"), (b"BZh", "bzip2 data"))
UNREADABLE_REASONS = ("malformed", "unreadable") + FILE_REASONS  # no record could be read at all


def describe_file(path: str) -> str:
    """What `path` holds, for a message about input where nothing was readable."""
    try:
        with fsspec.open(path, "rb") as raw:
            head = raw.read(512)
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"unreadable ({type(err).__name__})"
    if not head:
        return "empty file"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    text = head.lstrip()
    if text[:1] == b"<":
        return "HTML or XML text"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head[:256]):
        return "text without a WARC/ARC header"
    return "binary data"
