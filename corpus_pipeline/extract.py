"""HTML bytes -> Unicode -> main text.

Consumes an HTML payload (bytes or str) and its declared charset; produces the page's main
text with one block per line (paragraph structure kept for later stages and readers).

Decoding order, first strict success wins: valid UTF-8 (a wrong header rarely survives a
strict UTF-8 check, and UTF-8 is what most of the web is), the HTTP charset, the
`<meta charset>`, uchardet's guess; then windows-1252 with replacement, as browsers do.

Extraction: Resiliparse's main-content mode (GPT-3 does not name its extractor). It is
the fastest of the extractors we measured; see README "Ingest benchmark". trafilatura is
available as `method="trafilatura"` for comparison.
"""
from __future__ import annotations

import codecs
import re

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree

BINARY_SNIFF_BYTES = 4096
MAX_CONTROL_RATIO = 0.01
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_BLANK_RUNS = re.compile(r"\n{2,}")
_SPACE_RUNS = re.compile(r"[^\S\n]+")  # any whitespace but newline, no-break spaces included


class DecodeError(ValueError):
    """The payload is not text (binary data, or no charset can read it)."""


def looks_binary(data: bytes) -> bool:
    head = data[:BINARY_SNIFF_BYTES]
    return b"\x00" in head or len(_CONTROL.findall(head)) > MAX_CONTROL_RATIO * max(len(head), 1)


def decode_html(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Return (text, charset used). Raises DecodeError for binary payloads."""
    if looks_binary(data):
        raise DecodeError("binary payload")
    for charset in _candidate_charsets(data, declared):
        try:
            return data.decode(charset), charset
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("cp1252", "replace"), "cp1252-replace"


def _candidate_charsets(data: bytes, declared: str | None):
    yield "utf-8"
    if declared:
        yield _normalise_charset(declared)
    yield _normalise_charset(detect_encoding(data, from_html_meta=True))
    yield "cp1252"


def _normalise_charset(name: str) -> str:
    name = name.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return name
    # Browsers read latin-1 labels as windows-1252 (WHATWG encoding spec).
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def extract_main_text(html: bytes | str, url: str | None = None, method: str = "resiliparse") -> str:
    """Main text of a page, one block per line. `url` is used by extractors that want it."""
    if isinstance(html, bytes):
        html = decode_html(html)[0]
    if method == "trafilatura":
        return _extract_trafilatura(html, url)
    tree = HTMLTree.parse(html)
    text = extract_plain_text(
        tree, preserve_formatting=True, main_content=True, list_bullets=False, alt_texts=False
    )
    return tidy_text(text)


def _extract_trafilatura(html: str, url: str | None) -> str:
    import trafilatura  # optional: 15x slower, imported only when asked for

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True)
    return tidy_text(text or "")


def tidy_text(text: str) -> str:
    """One space between words, no blank lines: blocks separated by a single line break."""
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n", "\n".join(lines)).strip()
