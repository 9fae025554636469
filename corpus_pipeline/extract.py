"""HTML bytes -> Unicode -> main text.

Consumes an HTML payload (bytes or str) and its declared charset; produces the page's main
text with one block per line (paragraph structure kept for later stages and readers).

Decoding order, first strict success wins: valid UTF-8 (a wrong header rarely survives a
strict UTF-8 check, and UTF-8 is what most of the web is), the HTTP charset, the
`<meta charset>`, uchardet's guess; then windows-1252 with replacement, as browsers do.
Parsing (`parse_html`) closes a `<title>` that would otherwise hold the whole page.

Extraction (`method`):
- "blocks" (default): Resiliparse's main-content mode without comment sections (with them
  on forum and Q&A pages, whose posts and answers they hold), split into blocks, and a small logistic regression that drops the navigation, link lists and footers
  it keeps (`corpus_pipeline.boilerplate`). On 2,417 gold pages, each scored by a model that
  never saw its dataset, it beats trafilatura at a fraction of its cost; the current figures
  are in bench/README.md "Extraction accuracy and cost".
- "resiliparse": Resiliparse's main-content mode alone (the previous default).
- "trafilatura": for comparison; about 15x slower.

Bounded cost: Resiliparse's main-content pass costs (elements x nesting depth), so a page
nested 8,000 deep takes over a second and 100,000 deep takes minutes, in C code that no
signal can interrupt. Pages over `max_html_chars`, nested deeper than `max_depth`, or whose
tags build more than MAX_ELEMENTS_PER_TAG elements each, are refused with `ExtractCapped`
before extraction. A page with DEPTH_SCAN_MIN_TAGS tags or more is measured from its tags
before it is parsed (`nesting.nesting_depth`: stray end tags cannot hide its depth, and
parsing a deep one costs depth x end tags); a smaller one, cheap to parse whatever it
holds, is measured on its parsed tree, in C. Every check is deterministic (same page, same
decision on any machine), unlike a wall-clock limit.
"""
from __future__ import annotations

import codecs
import re

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree

from . import boilerplate
from .nesting import ELEMENTS_PER_TAG, ExtractCapped, nesting_depth

BINARY_SNIFF_BYTES = 4096
MAX_CONTROL_RATIO = 0.01
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_BLANK_RUNS = re.compile(r"\n{2,}")
_SPACE_RUNS = re.compile(r"[^\S\n]+")  # any whitespace but newline, no-break spaces included


EXTRACTORS = ("blocks", "resiliparse", "trafilatura")
MAX_HTML_CHARS = 4_000_000  # CC payloads stop at 1 MiB; above 4 M characters is not a web page
MAX_DEPTH = 512  # browsers stop nesting at 512 (WebKit's maximumHTMLParserDOMTreeDepth)
# Pages with fewer tags parse in bounded time whatever they hold (under 0.3 s: a parse costs at
# most tags x depth), so they are parsed and measured in C (~0.4 ms); the 2% of pages above are
# measured from their tags first (~10 ms each), since the parse itself can be what costs.
DEPTH_SCAN_MIN_TAGS = 4000
# Real pages build under 3 elements per tag (3,132 gold and WARC pages); crafted ones build
# thousands, re-opening misnested formatting elements (`<p><b id=1>...<b id=500>x</p><p>x`
# x 1,700: 19 KB, 850,000 elements, 2 s of parse and selector work, more to extract).
MAX_ELEMENTS_PER_TAG = 8
_TITLE_START = re.compile(r"<title\b[^>]*>", re.IGNORECASE)


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


def extract_main_text(html: bytes | str, url: str | None = None, method: str = "blocks",
                      max_html_chars: int = MAX_HTML_CHARS, max_depth: int = MAX_DEPTH,
                      block_model: boilerplate.BlockModel | None = None) -> str:
    """Main text of a page, one block per line. Bytes are decoded with their declared or
    detected charset. `url` is used by extractors that want it. `block_model` replaces the
    shipped block classifier (method "blocks"). Raises ExtractCapped."""
    if isinstance(html, bytes):
        html = decode_html(html)[0]
    check_bounds(html, max_html_chars, max_depth)
    tree = parse_html(html)
    check_tree_bounds(tree, html, max_depth)
    if method == "trafilatura":
        return _extract_trafilatura(html, url)
    if method == "resiliparse":
        return resiliparse_main_text(tree)
    if method == "blocks":
        return boilerplate.main_text(tree, block_model, boilerplate.looks_like_forum(html))
    raise ValueError(f"unknown extraction method {method!r}; one of {', '.join(EXTRACTORS)}")


def parse_html(html: str) -> HTMLTree:
    """The page's DOM. A `<title>` that is never closed (a head cut short by the crawl, a
    misspelt `</titlevalue="true">`) makes the rest of the page its text, as in a browser,
    which leaves nothing to extract: 7 of the 497 L3S-GN1 news pages. Such a title is closed
    at its first tag and the page parsed again. Costs one check on other pages."""
    tree = HTMLTree.parse(html)
    body = tree.body
    if body is None or body.first_child is not None or "<" not in (tree.title or ""):
        return tree
    start = _TITLE_START.search(html)
    end = html.find("<", start.end()) if start else -1
    return HTMLTree.parse(f"{html[:end]}</title>{html[end:]}") if end > 0 else tree


def resiliparse_main_text(tree, comments: bool = True) -> str:
    """Resiliparse's main-content mode alone, comment sections kept unless `comments` is False."""
    text = extract_plain_text(tree, preserve_formatting=True, main_content=True, list_bullets=False,
                              alt_texts=False, comments=comments)
    return tidy_text(text)


def check_bounds(html: str, max_chars: int, max_depth: int):
    """Raise ExtractCapped for a page too large, or (with DEPTH_SCAN_MIN_TAGS tags or more)
    nested too deep, to parse and extract in bounded time. Reads the text only."""
    if len(html) > max_chars:
        raise ExtractCapped(f"{len(html)} characters of HTML > {max_chars}")
    if html.count("<") >= DEPTH_SCAN_MIN_TAGS and nesting_depth(html, max_depth) > max_depth:
        raise ExtractCapped(f"tags nested deeper than {max_depth}")


def check_tree_bounds(tree: HTMLTree, html: str, max_depth: int):
    """Raise ExtractCapped for a parsed page nested deeper than `max_depth`, or with more than
    MAX_ELEMENTS_PER_TAG elements per tag; both counted by Resiliparse's selector engine."""
    tags = html.count("<")
    if tags < DEPTH_SCAN_MIN_TAGS and tags * ELEMENTS_PER_TAG <= max_depth:
        return  # too few tags to nest that deep (a tag opens at most ELEMENTS_PER_TAG elements)
    elements = len(tree.document.query_selector_all("*"))
    if elements > MAX_ELEMENTS_PER_TAG * (tags + 16):
        raise ExtractCapped(f"{elements} elements from {tags} tags")
    if tree.document.query_selector(":root" + " > *" * max_depth) is not None:
        raise ExtractCapped(f"tags nested deeper than {max_depth}")


def _extract_trafilatura(html: str, url: str | None) -> str:
    import trafilatura  # optional: 15x slower, imported only when asked for

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True)
    return tidy_text(text or "")


def tidy_text(text: str) -> str:
    """One space between words, no blank lines: blocks separated by a single line break."""
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n", "\n".join(lines)).strip()
