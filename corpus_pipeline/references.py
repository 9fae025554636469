"""Reference corpora for the quality classifier: local files -> `RefDoc`s of clean text.

GPT-3 Appendix A trains its quality classifier with high-quality reference text as the
positives (WebText, Wikipedia and a web books corpus) and unfiltered Common Crawl as the
negatives. This module reads those corpora in the formats we have them in:

- JSON lines, plain or gzip (WebText, dolma and DCLM Common Crawl text);
- MediaWiki XML exports, plain or bz2 (raw Wikipedia wikitext);
- the tokenized WikiText-2 release;
- Project Gutenberg e-texts (books), cut into passages of similar length;
- the OSCAR 2019 dummy archives of huggingface/datasets (Common Crawl WET text);
- saved web pages (.html, .html.gz), as text the ingest stage keeps from them.

Every loader yields `RefDoc(id, source, text)`. `text` is clean text with paragraphs
separated by one "\\n", whatever the source, so that formatting cannot tell the classifier
which side a document came from. `id` is a 96-bit BLAKE2b hash of "source:key", where the
key names the document within its file (line number, page id, passage index...): it is
stable across runs, but two files loaded under the same `source` name share key spaces,
so give each file its own source name. Pure Python, no Spark: the classifier stage turns
these iterators into DataFrames.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import mwparserfromhell
from mwparserfromhell.nodes import Comment, Tag, Template, Wikilink

from . import hashing, inputs

__all__ = ["RefDoc", "doc_id", "load_jsonl", "load_labelled_jsonl", "load_mediawiki_xml",
           "load_wikitext_tokens", "detokenize_wikitext", "load_gutenberg", "strip_gutenberg",
           "passages", "load_oscar_dummy", "load_html_page", "LOADERS"]


@dataclass(frozen=True)
class RefDoc:
    id: str  # blake2b(f"{source}:{key}", digest_size=12), see doc_id
    source: str  # the caller's name for the corpus, e.g. "webtext", "wikipedia", "books"
    text: str  # clean text, paragraphs separated by "\n"


def doc_id(source: str, key: object) -> str:
    return hashing.hex_id(source, key)


def make_doc(source: str, key: object, text: str) -> RefDoc:
    return RefDoc(doc_id(source, key), source, text)


def normalize_paragraphs(text: str) -> str:
    """Strip each line and drop blank ones: one "\\n" between paragraphs in every corpus."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def open_maybe_compressed(path: str | Path) -> io.BufferedIOBase:
    """Gzip or bz2 by magic bytes, not by file name (CC dumps are often renamed)."""
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"BZh":
        return bz2.open(path, "rb")
    return open(path, "rb")


# ---------------------------------------------------------------- JSON lines


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(1-based line number, record) for each non-blank line."""
    with open_maybe_compressed(path) as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, json.loads(line)


def load_jsonl(path: str, source: str, text_field: str = "text") -> Iterator[RefDoc]:
    """One doc per line with a non-empty `text_field`; key = line number."""
    for number, record in iter_json_lines(path):
        text = normalize_paragraphs(record.get(text_field) or "")
        if text:
            yield make_doc(source, number, text)


def load_labelled_jsonl(path: str, source: str = "dclm_human_quality", text_field: str = "text",
                        label_field: str = "label") -> Iterator[tuple[RefDoc, int]]:
    """(doc, label) pairs from DCLM's human-quality files ({"text", "label": 0 or 1})."""
    for number, record in iter_json_lines(path):
        text = normalize_paragraphs(record.get(text_field) or "")
        if text:
            yield make_doc(source, number, text), int(record[label_field])


# ---------------------------------------------------------------- MediaWiki XML

# Appendix sections: link lists and citations, not prose. Everything from the first
# level-2 heading with one of these titles is dropped (the Manual of Style puts them last).
END_SECTIONS = frozenset({"references", "external links", "see also", "further reading", "notes",
                          "footnotes", "bibliography", "sources", "citations", "works cited",
                          "notes and references", "references and notes", "external sources"})
# Tags whose contents are not running text.
DROP_TAGS = frozenset({"ref", "references", "table", "gallery", "math", "timeline", "imagemap",
                       "score", "syntaxhighlight", "source", "graph", "templatedata", "noinclude"})
# Link prefixes that are media or categories, not words in the sentence.
DROP_LINK_PREFIXES = frozenset({"file", "image", "media", "category"})
MIN_WIKI_CHARS = 200
_REDIRECT = re.compile(r"\s*#redirect", re.I)
_INTERLANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:")  # [[de:Anarchismus]]; [[:de:X|X]] is inline
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
# Refs and comments never nest, so a regex removes them before parsing: it halves the
# parse time (mwparserfromhell's tokenizer is the cost of this loader).
_REFS_AND_COMMENTS = re.compile(r"<ref(?:\s[^>]*?)?/>|<ref(?:\s[^>]*)?>.*?</ref\s*>|<!--.*?-->", re.I | re.S)
_BOLD_ITALIC = re.compile(r"'{2,}")  # '' italic, ''' bold, ''''' both
# Removed templates ({{lang}}, {{IPA}}, {{convert}}) leave "()" and " ," behind.
_EMPTY_PARENS = re.compile(r" ?\(\s*[,;:]?\s*\)")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:])(?=\s|$)")
_LEVEL2_HEADING = re.compile(r"^==\s*([^=].*?)\s*==\s*$", re.M)


def local_name(tag: str) -> str:
    """Element name without the export namespace ({http://www.mediawiki.org/xml/export-0.10/})."""
    return tag.rsplit("}", 1)[-1]


def iter_wiki_pages(path: str) -> Iterator[dict]:
    """{"id", "title", "ns", "redirect", "text"} per <page>, in bounded memory."""
    with open_maybe_compressed(path) as f:
        context = ET.iterparse(f, events=("start", "end"))
        _, root = next(context)
        for event, elem in context:
            if event == "end" and local_name(elem.tag) == "page":
                yield page_fields(elem)
                root.clear()  # drops the finished page and everything before it


def page_fields(page: ET.Element) -> dict:
    fields = {"id": None, "title": "", "ns": "0", "redirect": False, "text": ""}
    for child in page:
        name = local_name(child.tag)
        if name in ("id", "title", "ns"):
            fields[name] = (child.text or "").strip()
        elif name == "redirect":
            fields["redirect"] = True
        elif name == "revision":  # the last revision wins when an export holds several
            text = next((c for c in child if local_name(c.tag) == "text"), None)
            fields["text"] = (text.text or "") if text is not None else ""
    return fields


def is_article(page: dict) -> bool:
    return page["ns"] == "0" and not page["redirect"] and not _REDIRECT.match(page["text"])


def drop_link(link: Wikilink) -> bool:
    title = str(link.title).strip()
    prefix = title.lstrip(":").split(":", 1)[0].strip().lower() if ":" in title else ""
    return prefix in DROP_LINK_PREFIXES or (link.text is None and bool(_INTERLANGUAGE.match(title)))


def keep_node(node) -> bool:
    if isinstance(node, (Template, Comment)):
        return False
    if isinstance(node, Tag):
        return str(node.tag).strip().lower() not in DROP_TAGS  # {| tables |} are "table" tags
    if isinstance(node, Wikilink):
        return not drop_link(node)
    return True


def prune(code) -> None:
    """Remove unwanted nodes in place, also inside bold/italic and link text."""
    code.nodes[:] = [node for node in code.nodes if keep_node(node)]
    for node in code.nodes:
        if isinstance(node, Tag) and node.contents is not None:
            prune(node.contents)
        elif isinstance(node, Wikilink) and node.text is not None:
            prune(node.text)


def cut_end_sections(wikitext: str) -> str:
    for heading in _LEVEL2_HEADING.finditer(wikitext):
        if heading.group(1).strip().lower() in END_SECTIONS:
            return wikitext[:heading.start()]
    return wikitext


def wikitext_to_text(wikitext: str) -> str:
    # skip_style_tags: on a page with an unbalanced '' or ''' (real pages have them) the
    # parser otherwise leaves the tables and links after it unparsed; the quotes go below.
    wikitext = cut_end_sections(_REFS_AND_COMMENTS.sub("", wikitext))
    code = mwparserfromhell.parse(wikitext, skip_style_tags=True)
    prune(code)
    text = _MAGIC_WORD.sub("", code.strip_code(normalize=True, collapse=True))
    text = re.sub(r"[ \t\u00a0]+", " ", _BOLD_ITALIC.sub("", text))
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _EMPTY_PARENS.sub("", text))
    return normalize_paragraphs(text)


def load_mediawiki_xml(path: str, source: str, min_chars: int = MIN_WIKI_CHARS) -> Iterator[RefDoc]:
    """Articles (namespace 0, no redirects) as plain text; key = page id."""
    for page in iter_wiki_pages(path):
        if not is_article(page):
            continue
        text = wikitext_to_text(page["text"])
        if len(text) >= min_chars:
            yield make_doc(source, page["id"], text)


# ---------------------------------------------------------------- WikiText-2 (tokenized)

_TOP_HEADING = re.compile(r"^ ?= (?!=)(.*?)(?<!=) = ?$")
_SUB_HEADING = re.compile(r"^ ?(?:= ){2,}(.*?)(?: =){2,} ?$")
_AT_SPLIT = re.compile(r" @([-,.])@ ")  # the tokenizer split 1@,@000, 3@.@1 and well@-@known
# (pattern, replacement), in order, once <unk> is gone and quotes are paired.
_DETOKENIZE = [
    (re.compile(r" ([,.;:!?%)\]}])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r" ?\(\s*[,;:]?\s*\)"), ""),  # parentheses that held only <unk>
    (re.compile(r" '(s|t|d|m|ll|re|ve)\b", re.I), r"'\1"),
]


def pair_quotes(tokens: list[str]) -> str:
    """Join tokens, gluing each '"' to the quoted words; a pair left empty (it held only
    <unk>) is dropped. Lines with an odd number of quotes are joined as they are."""
    if tokens.count('"') % 2:
        return " ".join(tokens)
    out, opening, glue = [], True, False
    for token in tokens:
        if token == '"' and not opening and glue:  # '" "': nothing inside
            out.pop()
            glue = False
        elif token == '"' and not opening:
            out[-1] += '"'
        elif token == '"':
            out.append('"')
            glue = True
        elif glue:
            out[-1] += token
            glue = False
        else:
            out.append(token)
        opening ^= token == '"'
    return " ".join(out)


def detokenize_wikitext(line: str) -> str:
    """Undo WikiText-2's tokenization on one line; drops <unk>."""
    tokens = [t for t in _AT_SPLIT.sub(r"\1", line).split() if t != "<unk>"]
    line = pair_quotes([t.replace("<unk>", "") for t in tokens])
    for pattern, replacement in _DETOKENIZE:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def wikitext_articles(lines: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """(title, body lines) per article; ' = Title = ' starts one, '= = Sub = =' does not."""
    title, body = None, []
    for line in lines:
        line = line.rstrip("\n")
        top = _TOP_HEADING.match(line)
        if top and not _SUB_HEADING.match(line):
            if title is not None:
                yield title, body
            title, body = top.group(1), []
        elif title is not None:
            sub = _SUB_HEADING.match(line)
            body.append(sub.group(1) if sub else line)
    if title is not None:
        yield title, body


def load_wikitext_tokens(path: str, source: str) -> Iterator[RefDoc]:
    """One doc per article, title as its first line; key = article index (0-based)."""
    with open(path, encoding="utf-8") as f:
        for index, (title, body) in enumerate(wikitext_articles(f)):
            text = normalize_paragraphs("\n".join(detokenize_wikitext(line) for line in [title, *body]))
            if text:
                yield make_doc(source, index, text)


# ---------------------------------------------------------------- Project Gutenberg

# The last of these before the footer ends the header: modern "*** START OF THE/THIS
# PROJECT GUTENBERG EBOOK ..." and the 1990s "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS"
# (older e-texts put the license first and end it with that line).
_PG_START = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG|^\s*\*END\*THE SMALL PRINT", re.I)
# The first of these after the header ends the book: "End of (the) Project Gutenberg('s)
# EBook of ...", "End of this Project Gutenberg Etext", "*** END OF THE/THIS PROJECT ...".
_PG_END = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|^\s*End of (the |this )?Project Gutenberg",
                     re.I)
# Paragraphs about the e-text rather than the book: volunteer credits, editors' and
# transcribers' notes ("[Project Gutenberg Editor's Note: ...", "etext #150").
_PG_META = re.compile(r"^Produced by\b|Project Gutenberg|\be-?texts?\b|transcriber['’]?s notes?", re.I)
# A transcriber's errata list at the very end (Dracula's runs to 140 paragraphs).
_ERRATA = re.compile(r"^(typographical errors corrected|transcriber['’]?s notes?|errata)\b", re.I)
ERRATA_TAIL = 0.1  # an errata heading counts only in the last tenth of the paragraphs
_ORNAMENT = re.compile(r"^[\s*\-=_~#.]*$|^\[Illustration")  # "*   *   *" breaks, image slots
# PG marks italics as _word_; web text never does, so the marker would tell books apart.
_ITALICS = re.compile(r"(?<!\w)_(\S(?:[^_]*?\S)?)_(?!\w)")
# Front matter (title page, contents, chapter lists) is a run of short or title-case
# paragraphs; the book starts at the first long one where most words are lower-case.
MIN_PROSE_CHARS = 100
MAX_PROSE_CAPITALIZED = 0.4


def gutenberg_body(text: str) -> str:
    """The book between the Project Gutenberg header and footer (whole text if unmarked)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _PG_START.match(line)]
    after = starts[0] if starts else -1
    end = next((i for i, line in enumerate(lines) if i > after and _PG_END.match(line)), len(lines))
    header_end = max((i for i in starts if i < end), default=-1)
    return "\n".join(lines[header_end + 1:end])


def unwrap_paragraphs(text: str) -> list[str]:
    """Hard-wrapped lines -> one string per paragraph; a blank line is a paragraph break.
    Runs of spaces (typewriter double spaces, no-break spaces) become one space."""
    return [p for p in (" ".join(block.split()) for block in re.split(r"\n\s*\n", text)) if p]


def is_prose(paragraph: str) -> bool:
    words = re.findall(r"[^\W\d_]+", paragraph)
    capitalized = sum(word[0].isupper() for word in words)
    return len(paragraph) >= MIN_PROSE_CHARS and capitalized <= MAX_PROSE_CAPITALIZED * len(words)


def drop_front_matter(paragraphs: list[str]) -> list[str]:
    first_prose = next((i for i, p in enumerate(paragraphs) if is_prose(p)), 0)
    return paragraphs[first_prose:]


def drop_meta(paragraphs: list[str]) -> list[str]:
    """Remove e-text notes and ornaments; cut at an errata list at the end; unmark italics."""
    kept = []
    for i, paragraph in enumerate(paragraphs):
        if _ERRATA.match(paragraph) and i >= (1 - ERRATA_TAIL) * len(paragraphs):
            break
        if not _PG_META.search(paragraph) and not _ORNAMENT.match(paragraph):
            kept.append(_ITALICS.sub(r"\1", paragraph))
    return kept


def strip_gutenberg(text: str) -> list[str]:
    """A whole e-text -> the book's paragraphs, without license, credits or title page."""
    return drop_front_matter(drop_meta(unwrap_paragraphs(gutenberg_body(text))))


def split_long(paragraph: str, max_chars: int) -> list[str]:
    """Pieces of at most max_chars, cut after sentences, or at spaces when a sentence is longer."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces, current = [], ""
    for unit in re.findall(r"\S.*?(?:[.!?]['\"’”)]*(?=\s)|$)|\S+", paragraph):
        for word_chunk in ([unit] if len(unit) <= max_chars else words_chunks(unit, max_chars)):
            if current and len(current) + 1 + len(word_chunk) > max_chars:
                pieces.append(current)
                current = ""
            current = f"{current} {word_chunk}" if current else word_chunk
    return pieces + [current] if current else pieces


def words_chunks(sentence: str, max_chars: int) -> list[str]:
    chunks, current = [], ""
    for word in sentence.split():
        if current and len(current) + 1 + len(word) > max_chars:
            chunks.append(current)
            current = ""
        current = f"{current} {word}" if current else word
    return chunks + [current] if current else chunks


def passages(paragraphs: list[str], passage_chars: int) -> list[str]:
    """Paragraphs accumulated until >= passage_chars; a last one under half that is merged
    into the one before. Every passage but the last is >= passage_chars, and none is over
    2.5 * passage_chars: no piece is longer than passage_chars (see split_long)."""
    out, current = [], []
    size = -1  # length of "\n".join(current)
    for paragraph in paragraphs:
        for piece in split_long(paragraph, passage_chars):
            current.append(piece)
            size += len(piece) + 1
            if size >= passage_chars:
                out.append("\n".join(current))
                current, size = [], -1
    if current:
        tail = "\n".join(current)
        if out and len(tail) < passage_chars / 2:
            out[-1] += "\n" + tail
        else:
            out.append(tail)
    return out


def read_text(path: str) -> str:
    """UTF-8 (BOM dropped), or Latin-1 as older e-texts are."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_gutenberg(path_or_glob: str, source: str, passage_chars: int = 3000) -> Iterator[RefDoc]:
    """Books cut into passages of about passage_chars, so that length cannot give the label
    away; key = f"{file name}#{passage index}". `path_or_glob`: a file, a folder or a glob."""
    for path in inputs.expand_files([path_or_glob]):
        name = Path(path).name
        for index, passage in enumerate(passages(strip_gutenberg(read_text(path)), passage_chars)):
            yield make_doc(source, f"{name}#{index}", passage)


# ---------------------------------------------------------------- OSCAR 2019 dummy data

_OSCAR_DIR = re.compile(r"unshuffled_deduplicated_(.+)")


def oscar_archives(folder: str) -> Iterator[tuple[str, Path]]:
    """(language, dummy_data.zip) for each unshuffled_deduplicated_<lang>/1.0.0/ below folder."""
    for archive in sorted(Path(folder).glob("**/unshuffled_deduplicated_*/*/dummy_data.zip")):
        yield _OSCAR_DIR.fullmatch(archive.parent.parent.name).group(1), archive


def oscar_documents(text: str) -> list[str]:
    """OSCAR separates documents by blank lines; lines within one are its paragraphs."""
    return [doc for doc in (normalize_paragraphs(block) for block in re.split(r"\n\s*\n", text)) if doc]


def load_oscar_dummy(folder: str, source: str, languages: Iterable[str] | None = None) -> Iterator[RefDoc]:
    """Documents of every *.txt.gz member (named <lang>_part_1 or <lang>_dedup); key =
    f"{lang}#{document index}"."""
    wanted = set(languages) if languages is not None else None
    for lang, archive in oscar_archives(folder):
        if wanted is not None and lang not in wanted:
            continue
        with zipfile.ZipFile(archive) as zf:
            members = sorted(n for n in zf.namelist() if n.endswith(".txt.gz"))
            text = "\n\n".join(gzip.decompress(zf.read(n)).decode("utf-8", errors="replace") for n in members)
        for index, document in enumerate(oscar_documents(text)):
            yield make_doc(source, f"{lang}#{index}", document)


def load_html_page(path: str, source: str) -> Iterator[RefDoc]:
    """One saved page (plain or .gz): its main text as jobs/filter.py's ingest stage keeps it
    (default ingest settings: extraction, minimum length, language), or nothing if ingest
    would drop it. Key = the file's last three path parts (two sets may share file names)."""
    from . import ingest
    from .config import IngestConfig

    with open_maybe_compressed(path) as f:
        body = f.read()
    try:
        text = normalize_paragraphs(ingest.html_fields(body, IngestConfig())["text"])
    except ingest.Drop:
        return
    if text:
        yield make_doc(source, "/".join(Path(path).parts[-3:]), text)


LOADERS: dict[str, Callable[..., Iterator[RefDoc]]] = {
    "jsonl": load_jsonl,
    "mediawiki_xml": load_mediawiki_xml,
    "wikitext_tokens": load_wikitext_tokens,
    "gutenberg": load_gutenberg,
    "oscar_dummy": load_oscar_dummy,
    "html": load_html_page,
}
