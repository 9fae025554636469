"""Streaming reader for WARC, WET and ARC files that survives damage.

Consumes a binary file object (local file, or any fsspec / Hadoop-style stream) holding
WARC/1.x, WARC/0.17, WET or ARC v1 data, plain or gzip-compressed (one gzip member per
record, or a single gzip stream). Produces `RawRecord`s in file order.

Why our own reader: warcio and FastWARC stop at the first damaged byte, and warcio refuses
single-stream gzip. A corpus pipeline must account for every record, so this reader turns
every kind of damage into a record with a named problem and carries on:
- `unreadable`: the compressed data is corrupt; we resync at the next gzip member;
- `malformed`: the header is not WARC/ARC, its length is not plain ASCII digits, or the
  declared length disagrees with the framing; we look for the next record header (WARC with
  CRLF or LF line ends, ARC v1 lines), inside the bad body first, so a lying length costs
  that record only, even one far above `max_record_bytes`;
- `truncated`: the file ends in the middle of a record;
- `oversize`: the body exceeds `max_record_bytes`; it is skipped, never held in memory.
A damaged region that swallows several records counts as one record, since the number of
records it held is unknowable. A record followed by a damaged header is kept whole when its
own framing is right: the damage is counted on the next record, not on this one.

Each record also says where it starts in the file as stored (`member_offset`: the compressed
offset of the gzip member holding its first byte), which never decreases along the file: a
file read whole can be cut into byte ranges of the stored file that own disjoint records
(ingest.process_file's start/end).
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field, replace

GZIP_MAGIC = b"\x1f\x8b\x08"
RAW_CHUNK = 1 << 20
OUT_CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 16
_LOOKAHEAD = 8192  # bytes after a record that show whether a damaged header follows
_STOP_OVERLAP = 4096  # longest next-record start a skip must see whole (an ARC line)
MAX_LENGTH_DIGITS = 18  # 1 EB; more digits is not a length (int() refuses over 4,300 digits)
WARC_VERSION = re.compile(rb"^WARC/[0-9]+\.[0-9]+\r?\n?$")
# URL IP date mime length. The URL may hold spaces (warcio's example-space-in-url.arc): the
# four fields after it are found from the right, the 14-digit date anchoring them.
ARC_HEADER = re.compile(rb"^(\S+(?: \S+)*?) (\S+) ([0-9]{14}) (\S*) ([0-9]{1,%d})\r?\n?$" % MAX_LENGTH_DIGITS)
# The start of the next record, anywhere in a stream: what a skipped body is searched for.
# WARC: a blank line (CRLF or LF), then the version line; ARC v1: a newline, then a header line.
WARC_NEXT = re.compile(rb"\n\r?\n(WARC/[0-9]+\.[0-9]+\r?\n)")
ARC_NEXT = re.compile(rb"\n(\S+(?: \S+)*? \S+ [0-9]{14} \S* [0-9]{1,%d}\r?\n)" % MAX_LENGTH_DIGITS)
# A header whose first line is damaged, seen in the lines that follow a record: WARC named
# fields before the first blank line; an ARC line that starts with a URL scheme and holds a
# 14-digit date or ends in a length. The record before it is then whole, not lying about its length.
_WARC_FIELDS = re.compile(rb"^(?:WARC-Type|WARC-Record-ID|WARC-Date|Content-Length):", re.I | re.M)
_ARC_DAMAGED = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*:\S*(?:.* [0-9]{14}(?: .*)?| .* [0-9]+)\r?\n$")
_ASCII_LENGTH = re.compile(r"0*([0-9]{1,%d})" % MAX_LENGTH_DIGITS)


class CorruptData(Exception):
    """The compressed stream cannot be decoded at this point."""


@dataclass(frozen=True)
class RawRecord:
    offset: int  # byte offset of the record in the uncompressed stream
    headers: dict = field(default_factory=dict)  # WARC header names lower-cased
    body: bytes | None = None  # None when not held (damaged or oversize)
    problem: str | None = None  # None, "unreadable", "malformed", "truncated", "oversize"
    length: int = 0  # declared body length
    # Where the record starts in the file as stored: the offset of the gzip member holding its
    # first byte (the member being decoded, for damage met before any byte); a plain file's
    # record offset. Not an output: it only decides which byte range of a split file owns it.
    member_offset: int = 0

    @property
    def warc_type(self) -> str | None:
        return self.headers.get("warc-type")


class _Chunks:
    """Decompressed chunks of a plain or gzip file, with resync after corruption."""

    def __init__(self, raw):
        self._raw = raw
        self._pending = raw.read(RAW_CHUNK)
        self._read_bytes = len(self._pending)  # raw bytes read so far: `_pending` is their tail
        self.gzip = self._pending.startswith(GZIP_MAGIC[:2])
        self.chunk_member = 0  # stored offset of the member that produced the last chunk
        self._new_member()

    def _new_member(self):
        self._d = zlib.decompressobj(31) if self.gzip else None
        self.member = self._read_bytes - len(self._pending)  # stored offset of the member being decoded

    def _read_raw(self) -> bytes:
        data = self._raw.read(RAW_CHUNK)
        self._read_bytes += len(data)
        return data

    def next(self) -> bytes:
        """Next decompressed chunk; b"" at the end; CorruptData where the data is damaged."""
        if not self.gzip:
            out, self._pending = self._pending, b""
            out = out or self._read_raw()
            self.chunk_member = self._read_bytes - len(out)
            return out
        while True:
            if not self._pending:
                self._pending = self._read_raw()
                if not self._pending:
                    return b""  # a member cut short reads as end of data: the parser sees truncation
            try:
                out = self._d.decompress(self._pending, OUT_CHUNK)
            except zlib.error as err:
                raise CorruptData(str(err)) from None
            self.chunk_member = self.member
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
            while self._read_raw():
                pass
            return
        data = self._pending[1:]
        while True:
            at = data.find(GZIP_MAGIC)
            if at >= 0:
                self._pending = data[at:]
                self._new_member()
                return
            more = self._read_raw()
            if not more:
                self._pending = b""
                self._new_member()
                return
            data = data[-2:] + more


class _Stream:
    """Line and block reads over decompressed chunks, with pushback and an offset.

    `_buf[_pos:]` is the unread data; reads advance `_pos` instead of re-slicing the
    buffer, so a megabyte chunk full of short header lines costs linear time.
    `_marks` holds (stream offset, stored member offset) where each buffered gzip chunk
    begins, from the chunk holding the current record's start on.
    """

    def __init__(self, raw):
        self._chunks = _Chunks(raw)
        self._buf = b""
        self._pos = 0
        self.offset = 0
        self._marks = []

    def _fill(self) -> bool:
        chunk = self._chunks.next()
        if not chunk:
            return False
        self._marks.append((self.offset + self._available(), self._chunks.chunk_member))
        self._buf = self._buf[self._pos:] + chunk
        self._pos = 0
        return True

    def member_at(self, offset: int) -> int:
        """Stored offset of the gzip member that produced the byte at stream `offset` (read or
        buffered, at or after the last `forget_before`); a plain file's offset itself."""
        if not self._chunks.gzip:
            return offset
        for start, member in reversed(self._marks):
            if start <= offset:
                return member
        return self._chunks.member

    def decoding_member(self) -> int:
        """Stored offset of the member being decoded: where damage met past the buffer lies."""
        return self._chunks.member if self._chunks.gzip else self.offset

    def forget_before(self, offset: int):
        """Drop the marks of chunks wholly before `offset`: reads never go back past a record start."""
        keep = next((i for i in range(len(self._marks) - 1, -1, -1) if self._marks[i][0] <= offset), 0)
        del self._marks[:keep]

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def peek(self, n: int) -> bytes:
        while self._available() < n and self._fill():
            pass
        return self._buf[self._pos:self._pos + n]

    def buffered(self) -> bytes:
        return self._buf[self._pos:]

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

    def skip(self, n: int, stop: re.Pattern | None = None) -> tuple[int, bool]:
        """Discard up to n bytes without holding them; returns (discarded, stopped).

        With `stop` (a pattern whose group 1 is the start of the next record), stop early at
        that start: a lying length must not swallow the records that follow it.
        """
        done, tail = 0, b""
        while done < n:
            if not self._available() and not self._fill():
                break
            step = min(n - done, self._available())
            if stop:
                window = tail + self._buf[self._pos:self._pos + step]
                found = stop.search(window)
                if found:
                    keep = found.start(1) - len(tail)
                    if keep >= 0:
                        self._take(keep)
                    else:
                        self.pushback(tail[keep:])
                    return done + keep, True
                tail = window[-_STOP_OVERLAP:]  # a header cut by the window end is found next time
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
        self._marks = [m for m in self._marks if m[0] < self.offset]  # the dropped chunks' marks go
        self._chunks.resync()

    def _take(self, n: int) -> bytes:
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        self.offset += n
        return out


def iter_records(raw, max_record_bytes: int):
    """Yield every record of a WARC/WET/ARC stream, damaged ones included, in file order,
    each with the stored offset of the gzip member where it starts (never decreasing)."""
    stream = _Stream(raw)
    fmt = _detect_format(stream)
    while True:
        start, member = stream.offset, None
        try:
            stream.skip_blank_lines()
            start = stream.offset
            if not stream.peek(1):
                return
            stream.forget_before(start)
            member = stream.member_at(start)
            record = fmt.read_one(stream, max_record_bytes)
            if record.problem in (None, "oversize") and not _framing_ok(stream, fmt, record):
                # The declared length lies: the next header may sit inside what we took as body.
                if record.body:
                    stream.pushback(record.body)
                record = RawRecord(start, record.headers, None, "malformed", record.length)
            yield replace(record, member_offset=member)
            if record.problem == "malformed":
                _scan_to_header(stream, fmt.is_header)
        except _DamageAfter as damage:
            yield replace(damage.record, member_offset=member)
            yield RawRecord(stream.offset, problem="unreadable", member_offset=stream.decoding_member())
            stream.resync()
        except CorruptData:
            where = stream.decoding_member() if member is None else member
            yield RawRecord(start, problem="unreadable", member_offset=where)
            stream.resync()


def _detect_format(stream: _Stream) -> "_Format":
    """ARC when the data opens with an ARC filedesc, or (its first bytes damaged) shows an ARC
    header line before any WARC version line; WARC otherwise."""
    try:
        head = stream.peek(MAX_HEADER_BYTES)
    except CorruptData:  # decide on what was read before the damage; the loop counts it
        head = stream.buffered()
    if head.startswith(b"filedesc://"):
        return ARC
    if head.startswith(b"WARC/"):
        return WARC
    arc, warc = ARC_NEXT.search(b"\n" + head), WARC_NEXT.search(b"\n\n" + head)
    return ARC if arc and (not warc or arc.start() < warc.start()) else WARC


def parse_length(text: str | bytes) -> int | None:
    """A declared length, or None where it is not plain ASCII digits: `str.isdigit()` also
    accepts digits such as "\u00b2", which `int()` then refuses."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    match = _ASCII_LENGTH.fullmatch(text)
    return int(match.group(1)) if match else None


def _read_warc_record(stream: _Stream, max_record_bytes: int) -> RawRecord:
    start = stream.offset
    if not WARC_VERSION.match(stream.readline()):
        return RawRecord(start, problem="malformed")
    headers, problem = _read_headers(stream)
    if problem:
        return RawRecord(start, headers, problem=problem)
    length = parse_length(headers.get("content-length", ""))
    if length is None:
        return RawRecord(start, headers, problem="malformed")
    return _read_body(stream, start, headers, length, max_record_bytes, WARC_NEXT)


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
    return _read_body(stream, start, headers, parse_length(length), max_record_bytes, ARC_NEXT)


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


def _read_body(stream, start, headers, length, max_record_bytes, next_start) -> RawRecord:
    if length > max_record_bytes:
        skipped, stopped = stream.skip(length, next_start)
        problem = "malformed" if stopped else "oversize" if skipped == length else "truncated"
        return RawRecord(start, headers, None, problem, length)
    body = stream.read(length)
    if len(body) < length:
        return RawRecord(start, headers, None, "truncated", length)
    return RawRecord(start, headers, body, None, length)


def _framing_ok(stream: _Stream, fmt: "_Format", record: RawRecord) -> bool:
    """True when the record ended where its declared length says: the end of the data or a
    header follows, or a damaged header right after the format's separator (the damage is
    the next record's; this one's body holds no record start, so its length did not lie)."""
    try:
        line = _peek_next_line(stream)
        if not line.strip(b"\r\n") or fmt.is_header(line.lstrip(b"\r\n")):
            return True
        ahead = stream.peek(len(line) + _LOOKAHEAD)
    except CorruptData:
        raise _DamageAfter(record) from None  # the record is whole; the damage starts after it
    return (ahead.startswith(fmt.separators) and fmt.damaged_header(ahead.lstrip(b"\r\n"))
            and not fmt.next_start.search(b"\n" + (record.body or b"")))


def _peek_next_line(stream: _Stream) -> bytes:
    """The blank lines and the first other line that follow, left unread."""
    size = 256
    while True:
        ahead = stream.peek(size)
        text_at = len(ahead) - len(ahead.lstrip(b"\r\n"))
        end = ahead.find(b"\n", text_at)
        if end >= 0 or len(ahead) < size or size > MAX_HEADER_BYTES:
            return ahead[:end + 1] if end >= 0 else ahead
        size *= 2


class _DamageAfter(Exception):
    def __init__(self, record: RawRecord):
        super().__init__("damage after a complete record")
        self.record = record


def _damaged_warc_header(data: bytes) -> bool:
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    return bool(_WARC_FIELDS.search(head))


def _damaged_arc_header(data: bytes) -> bool:
    return bool(_ARC_DAMAGED.match(data[:data.find(b"\n") + 1]))


@dataclass(frozen=True)
class _Format:
    read_one: object  # (stream, max_record_bytes) -> RawRecord
    is_header: object  # a line that starts a record
    next_start: re.Pattern  # a record start anywhere in data; group 1 begins the header
    separators: tuple  # what follows a body whose length is right
    damaged_header: object  # the data after a record starts with a header, though a damaged one


WARC = _Format(_read_warc_record, WARC_VERSION.match, WARC_NEXT, (b"\r\n\r\n", b"\n\n"), _damaged_warc_header)
ARC = _Format(_read_arc_record, ARC_HEADER.match, ARC_NEXT, (b"\n",), _damaged_arc_header)


def _scan_to_header(stream: _Stream, is_header):
    """Discard lines up to the next record header (or the end of the data)."""
    while True:
        line = stream.readline()
        if not line:
            return
        if is_header(line):
            stream.pushback(line)
            return
