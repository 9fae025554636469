"""Streaming reader for WARC, WET and ARC files that survives damage.

Consumes a binary file object (local file, or any fsspec / Hadoop-style stream) holding
WARC/1.x, WARC/0.17, WET or ARC v1 data, plain or gzip-compressed (one gzip member per
record, or a single gzip stream). Produces `RawRecord`s in file order.

Why our own reader: warcio and FastWARC stop at the first damaged byte, and warcio refuses
single-stream gzip. A corpus pipeline must account for every record, so this reader turns
every kind of damage into a record with a named problem and carries on:
- `unreadable`: the compressed data is corrupt; we resync at the next gzip member;
- `malformed`: the header is not WARC/ARC, or the declared length disagrees with the
  framing; we look for the next record header, inside the bad body first;
- `truncated`: the file ends in the middle of a record;
- `oversize`: the body exceeds `max_record_bytes`; it is skipped, never held in memory.
A damaged region that swallows several records counts as one record, since the number of
records it held is unknowable.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

GZIP_MAGIC = b"\x1f\x8b\x08"
RAW_CHUNK = 1 << 20
OUT_CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 16
WARC_SEPARATOR = b"\r\n\r\nWARC/"  # end of one record, start of the next
WARC_VERSION = re.compile(rb"^WARC/\d+\.\d+\r?\n?$")
ARC_HEADER = re.compile(rb"^(\S+) (\S+) (\d{14}) (\S*) (\d+)\r?\n?$")


class CorruptData(Exception):
    """The compressed stream cannot be decoded at this point."""


@dataclass(frozen=True)
class RawRecord:
    offset: int  # byte offset of the record in the uncompressed stream
    headers: dict = field(default_factory=dict)  # WARC header names lower-cased
    body: bytes | None = None  # None when not held (damaged or oversize)
    problem: str | None = None  # None, "unreadable", "malformed", "truncated", "oversize"
    length: int = 0  # declared body length

    @property
    def warc_type(self) -> str | None:
        return self.headers.get("warc-type")


class _Chunks:
    """Decompressed chunks of a plain or gzip file, with resync after corruption."""

    def __init__(self, raw):
        self._raw = raw
        self._pending = raw.read(RAW_CHUNK)
        self.gzip = self._pending.startswith(GZIP_MAGIC[:2])
        self._new_member()

    def _new_member(self):
        self._d = zlib.decompressobj(31) if self.gzip else None

    def next(self) -> bytes:
        """Next decompressed chunk; b"" at the end; CorruptData where the data is damaged."""
        if not self.gzip:
            out, self._pending = self._pending, b""
            return out or self._raw.read(RAW_CHUNK)
        while True:
            if not self._pending:
                self._pending = self._raw.read(RAW_CHUNK)
                if not self._pending:
                    return b""  # a member cut short reads as end of data: the parser sees truncation
            try:
                out = self._d.decompress(self._pending, OUT_CHUNK)
            except zlib.error as err:
                raise CorruptData(str(err)) from None
            if self._d.eof:
                self._pending = self._d.unused_data
                self._new_member()
            else:
                self._pending = self._d.unconsumed_tail
            if out:
                return out

    def resync(self):
        """Skip to the next gzip member header after the damage; plain files cannot resync."""
        if not self.gzip:
            self._pending = b""
            while self._raw.read(RAW_CHUNK):
                pass
            return
        data = self._pending[1:]
        while True:
            at = data.find(GZIP_MAGIC)
            if at >= 0:
                self._pending = data[at:]
                self._new_member()
                return
            more = self._raw.read(RAW_CHUNK)
            if not more:
                self._pending = b""
                self._new_member()
                return
            data = data[-2:] + more


class _Stream:
    """Line and block reads over decompressed chunks, with pushback and an offset.

    `_buf[_pos:]` is the unread data; reads advance `_pos` instead of re-slicing the
    buffer, so a megabyte chunk full of short header lines costs linear time.
    """

    def __init__(self, raw):
        self._chunks = _Chunks(raw)
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def _fill(self) -> bool:
        chunk = self._chunks.next()
        if not chunk:
            return False
        self._buf = self._buf[self._pos:] + chunk
        self._pos = 0
        return True

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def peek(self, n: int) -> bytes:
        while self._available() < n and self._fill():
            pass
        return self._buf[self._pos:self._pos + n]

    def readline(self, limit: int = MAX_HEADER_BYTES) -> bytes:
        while True:
            end = self._buf.find(b"\n", self._pos, self._pos + limit)
            if end >= 0:
                return self._take(end + 1 - self._pos)
            if self._available() >= limit or not self._fill():
                return self._take(min(self._available(), limit))

    def read(self, n: int) -> bytes:
        while self._available() < n and self._fill():
            pass
        return self._take(min(n, self._available()))

    def skip(self, n: int, stop: bytes | None = None) -> tuple[int, bool]:
        """Discard up to n bytes without holding them; returns (discarded, stopped).

        With `stop` (a record separator followed by a header start), stop early right after
        the separator: a lying length must not swallow the records that follow it.
        """
        done, tail = 0, b""
        while done < n:
            if not self._available() and not self._fill():
                break
            step = min(n - done, self._available())
            if stop:
                window = tail + self._buf[self._pos:self._pos + step]
                at = window.find(stop)
                if at >= 0:
                    keep = at + stop.index(b"WARC/") - len(tail)
                    if keep >= 0:
                        self._take(keep)
                    else:
                        self.pushback(tail[keep:])
                    return done + keep, True
                tail = window[-(len(stop) - 1):]
            self._take(step)
            done += step
        return done, False

    def skip_blank_lines(self):
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in b"\r\n":
                self._pos += 1
                self.offset += 1
            if self._available() or not self._fill():
                return

    def pushback(self, data: bytes):
        self._buf = data + self._buf[self._pos:]
        self._pos = 0
        self.offset -= len(data)

    def resync(self):
        self._buf, self._pos = b"", 0
        self._chunks.resync()

    def _take(self, n: int) -> bytes:
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        self.offset += n
        return out


def iter_records(raw, max_record_bytes: int):
    """Yield every record of a WARC/WET/ARC stream, damaged ones included, in file order."""
    stream = _Stream(raw)
    is_arc = stream.peek(11) == b"filedesc://"
    read_one = _read_arc_record if is_arc else _read_warc_record
    is_header = ARC_HEADER.match if is_arc else WARC_VERSION.match
    while True:
        start = stream.offset
        try:
            stream.skip_blank_lines()
            start = stream.offset
            if not stream.peek(1):
                return
            record = read_one(stream, max_record_bytes)
            if record.problem in (None, "oversize") and not _framing_ok(stream, is_header, record):
                # The declared length lies: the next header may sit inside what we took as body.
                if record.body:
                    stream.pushback(record.body)
                record = RawRecord(start, record.headers, None, "malformed", record.length)
            yield record
            if record.problem == "malformed":
                _scan_to_header(stream, is_header)
        except _DamageAfter as damage:
            yield damage.record
            yield RawRecord(stream.offset, problem="unreadable")
            stream.resync()
        except CorruptData:
            yield RawRecord(start, problem="unreadable")
            stream.resync()


def _read_warc_record(stream: _Stream, max_record_bytes: int) -> RawRecord:
    start = stream.offset
    if not WARC_VERSION.match(stream.readline()):
        return RawRecord(start, problem="malformed")
    headers, problem = _read_headers(stream)
    if problem:
        return RawRecord(start, headers, problem=problem)
    length = headers.get("content-length", "")
    if not length.isdigit():
        return RawRecord(start, headers, problem="malformed")
    length = int(length)
    return _read_body(stream, start, headers, length, max_record_bytes, stop=WARC_SEPARATOR)


def _read_arc_record(stream: _Stream, max_record_bytes: int) -> RawRecord:
    start = stream.offset
    match = ARC_HEADER.match(stream.readline())
    if not match:
        return RawRecord(start, problem="malformed")
    url, ip, date, mime, length = (g.decode("latin-1") for g in match.groups())
    headers = {
        "warc-type": _arc_type(url),
        "warc-target-uri": url,
        "warc-date": f"{date[:4]}-{date[4:6]}-{date[6:8]}T{date[8:10]}:{date[10:12]}:{date[12:]}Z",
        "content-type": "application/http; msgtype=response" if url.startswith("http") else mime,
        "arc-mime": mime,
    }
    return _read_body(stream, start, headers, int(length), max_record_bytes)


def _arc_type(url: str) -> str:
    if url.startswith("filedesc://"):
        return "warcinfo"
    return "response" if url.startswith(("http://", "https://")) else "resource"


def _read_headers(stream: _Stream) -> tuple[dict, str | None]:
    headers, total, last = {}, 0, None
    while True:
        line = stream.readline()
        total += len(line)
        if not line.endswith(b"\n"):
            return headers, "truncated" if len(line) < MAX_HEADER_BYTES else "malformed"
        if total > MAX_HEADER_BYTES:
            return headers, "malformed"
        if line in (b"\r\n", b"\n"):
            return headers, None
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last:
            headers[last] += " " + text.strip()
            continue
        name, _, value = text.partition(":")
        last = name.strip().lower()
        headers[last] = value.strip()


def _read_body(stream, start, headers, length, max_record_bytes, stop=None) -> RawRecord:
    if length > max_record_bytes:
        skipped, stopped = stream.skip(length, stop)
        problem = "malformed" if stopped else "oversize" if skipped == length else "truncated"
        return RawRecord(start, headers, None, problem, length)
    body = stream.read(length)
    if len(body) < length:
        return RawRecord(start, headers, None, "truncated", length)
    return RawRecord(start, headers, body, None, length)


def _framing_ok(stream: _Stream, is_header, record: RawRecord) -> bool:
    try:
        return _next_is_header(stream, is_header)
    except CorruptData:
        raise _DamageAfter(record) from None  # the record is whole; the damage starts after it


class _DamageAfter(Exception):
    def __init__(self, record: RawRecord):
        super().__init__("damage after a complete record")
        self.record = record


def _next_is_header(stream: _Stream, is_header) -> bool:
    """True when the record ended where its declared length says: a header or the end follows."""
    stream.skip_blank_lines()
    line = stream.readline()
    stream.pushback(line)
    return not line or bool(is_header(line))


def _scan_to_header(stream: _Stream, is_header):
    """Discard lines up to the next record header (or the end of the data)."""
    while True:
        line = stream.readline()
        if not line:
            return
        if is_header(line):
            stream.pushback(line)
            return
