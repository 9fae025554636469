"""Block-level boilerplate removal on top of Resiliparse's main-content extraction.

Consumes a parsed Resiliparse `HTMLTree`; produces the page's main text, one block per line.

Resiliparse's main-content mode (C++, fast) removes most page furniture by tag and
class/id hints, and comment sections when asked to (`comments=False`), but keeps
navigation, link lists, footers and teaser rows that carry no such hint. Its `minimal_html`
output marks blocks (`<p>`, `<h1>`..`<h6>`, plain lines) and links (`<a>`), so one call
gives each block's text and link density. A logistic regression over shallow text features
of the block and its neighbours then decides which blocks to keep: the classic
shallow-feature approach of Boilerpipe (Kohlschütter et al., WSDM 2010), jusText and
Dragnet, at a cost of a few hundred microseconds a page.

The weights ship as `boilerplate_model.json` (a few kilobytes), written by
`boilerplate_training.py` (`python jobs/train_boilerplate.py`) from six human-gold extraction
datasets (general web pages and news), each weighing the same; `boilerplate_manifest.json`
beside it says from which pages and code.
The cost is Resiliparse's (parse, a CSS query for widget classes, main-content pass) plus
~0.5 ms of Python a page (about a quarter of the whole; bench/extract_steps.py, bench/README.md
"Extraction accuracy and cost").
"""
from __future__ import annotations

import functools
import hashlib
import html
import importlib.resources
import json
import re
from itertools import repeat
from operator import add
from pathlib import Path

import numpy as np
from resiliparse.extract.html2text import extract_plain_text

MODEL_FILE = Path(__file__).with_name("boilerplate_model.json")
_ANCHOR_OPEN = re.compile(r"<a\b[^>]*>")
_BLOCK_TAG = re.compile(r"</?(?:p|h[1-6]|pre)\b[^>]*>")
LINK_START, LINK_END = "\x01", "\x02"  # anchors become these markers; neither occurs in HTML text
HEADING, PARAGRAPH, OTHER = 2, 1, 0
TERMINAL = tuple(".!?\"'\u201d\u2019:)")  # a block ending like a sentence
# Function words of the languages most common in the crawl; content prose is dense in them,
# menus and link lists are not (jusText's stopword density, pooled across languages).
STOPWORDS = frozenset("""
a about after all also an and any are as at be been but by can could did do does for from
had has have he her his how i if in into is it its just more most my no not of on or our
out over she so some such than that the their them then there these they this those to up
was we were what when which who will with would you your
der die das und ist nicht ein eine zu den mit von sich des auf im dem auch es wir sie
le la les et est un une du en que qui pour dans il pas sur au avec ce
el los las y es por con para una se del al lo como su
il di che non per una sono della
de het een van niet op zijn met voor
""".split())
_is_stopword = STOPWORDS.__contains__
# Features measured and left out, because each lowered the F1 of a model on the gold set it
# was not trained on (bench/extract_bench.py): size against the page's largest block, the
# page's link density, the neighbours' sentence endings, link or stopword density times
# size. The page's block count and the block's rank among blocks are left out too, though the
# count helped that F1: with them the model dropped the first or last paragraphs of short
# clean pages (tests/test_extract.py). Cues for comment sections (a "12 Comments" heading, a
# "Lori says:" byline) and commas and full stops per word helped until Resiliparse was asked
# to drop comment sections, and then no longer did; digits and title-case words per block
# added nothing.
N_FEATURES = 15
FALLBACK_MIN_CHARS = 300  # less kept text than this: also try the whole page (see main_text)
# Comment sections of the whole page's rendering: elements whose class or id holds "comment",
# but not those that only say a post has comments ("post has-comments", WordPress's
# "comments-open"), which often hold the article itself, nor a column of commentary.
# CSS, because Resiliparse matches skip_elements in C in one pass over the tree.
_NOT_COMMENT_SECTIONS = ("has-comment", "has_comment", "no-comment", "no_comment", "with-comment",
                         "show-comment", "comments-open", "comment-open", "comments-closed",
                         "comment-closed", "comments-enabled", "comments-disabled", "commentar")
COMMENT_SECTIONS = ("[class*=comment i]" + "".join(f":not([class*={name} i])" for name in _NOT_COMMENT_SECTIONS),
                    "[id*=comment i]:not([id*=commentar i])")


# Markup of forum and Q&A software and schema.org types, whose comment sections are the posts
# and answers that make the page: schema.org DiscussionForumPosting (Discourse, Reddit, most
# forum software since 2023) and QAPage (Stack Exchange and its clones), phpBB's "postbody",
# Discourse's "discourse-" classes, XenForo. Found by reading the WCXB development split's
# forum pages (94 of 113 carry one; none of its 591 other pages and 11 of the 2,417 older gold
# pages do). Plain substring tests: a case-insensitive regex costs 10-30 ms on a large page.
FORUM_MARKS = ("DiscussionForumPosting", "QAPage", "postbody", "discourse-", "xenforo")


# Resiliparse's main-content mode (2.0.1) drops any element whose class names a social widget
# ("share", "twitter", ...) or a skip link ("permalink", "pagination", ...), whatever it holds.
# On Dragnet that drops whole articles: InfoWorld's <div class="share_wrapper"> and Gawker
# Media's <div class="post permalink">. So such class words are taken off an element that
# holds UNHIDE_MIN_CHARS or more, which no widget or link does. The words are those rules';
# a class word counts when one of its "-" or "_" parts is one of them.
WIDGET_WORDS = frozenset("""
social share sharing syndication newsletter follow email like likes feedback engagement facebook
twitter subscribe skip scroll next prev previous permalink pagination
""".split())
UNHIDE_MIN_CHARS = 500
# Substrings covering every word, for a CSS query that Resiliparse runs in C.
_WIDGET_SELECTOR = ",".join(f"[class*={word} i]" for word in sorted(WIDGET_WORDS - {"sharing", "likes", "previous"}))
_WORD_PARTS = re.compile(r"[-_]+")


def page_blocks(tree, main_content: bool = True, comments: bool = False) -> list[tuple[int, str, int]]:
    """(kind, text, link characters) of each block Resiliparse renders for the page. The
    main-content view first takes widget class words off large elements (changing `tree`)."""
    if main_content:
        unhide_large_widgets(tree)
    return parse_blocks(marked_html(tree, main_content, comments))


def marked_html(tree, main_content: bool = True, comments: bool = False) -> str:
    """Resiliparse's minimal-HTML rendering of the page: block tags, anchors, text. Comment
    sections are left out unless `comments` (a forum, whose posts are the content): the gold
    of most extraction benchmarks leaves them out, and on 2,417 gold pages dropping them
    raised the held-out F1 from 0.837 to 0.871 and cut Resiliparse's cost by a quarter
    (bench/extract_bench.py). Resiliparse's `comments=False` acts only in its main-content
    mode, so the whole page's rendering skips COMMENT_SECTIONS itself."""
    skip = None if main_content or comments else COMMENT_SECTIONS
    return extract_plain_text(tree, preserve_formatting="minimal_html", main_content=main_content,
                              links=True, list_bullets=False, alt_texts=False, comments=comments,
                              skip_elements=skip)


def unhide_large_widgets(tree):
    """Take widget class words (WIDGET_WORDS) off every element of the page that holds
    UNHIDE_MIN_CHARS or more, so that Resiliparse's main-content mode keeps it."""
    if tree.body is None:
        return
    # .values(): iterating the node list itself is about four times slower.
    for element in tree.body.query_selector_all(_WIDGET_SELECTOR).values():
        words = element.class_name.split()
        kept = [word for word in words if WIDGET_WORDS.isdisjoint(_WORD_PARTS.split(word.lower()))]
        if len(kept) < len(words) and len(element.text) >= UNHIDE_MIN_CHARS:
            element.setattr("class", " ".join(kept))


def parse_blocks(marked: str) -> list[tuple[int, str, int]]:
    """Split Resiliparse's minimal-HTML output into blocks; `<br>` starts a new block."""
    marked = _ANCHOR_OPEN.sub(LINK_START, marked).replace("</a>", LINK_END).replace("<br>", "\n")
    blocks, in_link = [], False
    for line in marked.split("\n"):
        if not line:
            continue
        kind = OTHER
        if "<" in line:  # only then can the line start with a block tag, or hold one
            kind = HEADING if line.startswith("<h") else PARAGRAPH if line.startswith("<p") else OTHER
            line = _BLOCK_TAG.sub("", line)
        link = 0
        if in_link or LINK_START in line or LINK_END in line:
            link, in_link = _link_chars(line, in_link)
            line = line.replace(LINK_START, "").replace(LINK_END, "")
        if "&" in line:
            line = html.unescape(line)
        # Collapsing whitespace means splitting the line into words, the costliest step here; most
        # lines need no more than a strip. Every whitespace character but " " is unprintable, so a
        # printable line without "  " is already what " ".join(line.split()) would make of it.
        line = line.strip()
        if not line.isprintable() or "  " in line:
            line = " ".join(line.split())
        if line:  # a blank or whitespace-only line leaves nothing, and holds no anchor marker
            blocks.append((kind, line, link))
    return blocks


def _link_chars(line: str, in_link: bool) -> tuple[int, bool]:
    """Characters inside anchors on this line, and whether an anchor is still open at its end."""
    parts = line.split(LINK_START)
    chars = 0
    for i, part in enumerate(parts):
        if i or in_link:  # this part starts inside an anchor
            end = part.find(LINK_END)
            in_link = end < 0
            chars += len(part) if in_link else end
    return chars, in_link


def block_features(blocks: list[tuple[int, str, int]]) -> np.ndarray:
    """One row of N_FEATURES per block: its own shallow text features, then its neighbours'."""
    kinds, texts, links = zip(*blocks)
    chars, words, links, kind, ends, stops, separators = _own_counts(kinds, texts, links)
    n = len(chars)
    log_chars = np.log1p(chars)
    link_density = np.minimum(links / chars, 1.0)
    stop_ratio = stops / words
    total = chars.sum()
    # Filled column by column: pages have tens of blocks, so numpy's cost is per call, not per value.
    out = np.empty((n, N_FEATURES))
    out[:, 0] = log_chars
    out[:, 1] = np.log1p(words)
    out[:, 2] = link_density
    out[:, 3] = kind == HEADING
    out[:, 4] = kind == PARAGRAPH
    out[:, 5] = ends
    out[:, 6] = stop_ratio
    out[:, 7] = np.minimum(separators, 3)
    out[:, 8] = (np.cumsum(chars) - chars) / total  # share of the page's text before this block
    # Neighbours: the previous block's value, then the next one's; `fill` off the page.
    for col, values, fill in ((9, log_chars, 0.0), (11, link_density, 1.0)):
        out[0, col] = out[-1, col + 1] = fill
        out[1:, col] = values[:-1]
        out[:-1, col + 1] = values[1:]
    out[:2, 13] = out[-2:, 14] = 0.0  # two blocks back, two ahead
    out[2:, 13] = log_chars[:-2]
    out[:-2, 14] = log_chars[2:]
    return out


def _own_counts(kinds: tuple[int, ...], texts: tuple[str, ...], links: tuple[int, ...]) -> np.ndarray:
    """Plain counts only, one row per count and one column per block: characters, words, link
    characters, kind, sentence-like ending, stopwords, separators.
    Built a column of the page at a time, with the string methods looping in C.
    parse_blocks leaves one space between words and none at the ends: a block has one word more
    than spaces, and one split of the joined blocks gives the page's words in block order."""
    words = [text.count(" ") + 1 for text in texts]
    page = " ".join(texts)
    page_words = page.lower().split(" ")
    stop_flags = np.fromiter(map(_is_stopword, page_words), dtype=np.float64, count=len(page_words))
    first_words = np.cumsum(words) - words
    return np.array([
        list(map(len, texts)), words, links, kinds,
        [text.endswith(TERMINAL) for text in texts],
        np.add.reduceat(stop_flags, first_words),
        _char_counts(texts, "|\u00bb\u00a9", page),  # |, », ©: menus, breadcrumbs, copyright
    ], dtype=np.float64)


def _char_counts(texts: tuple[str, ...], chars: str, page: str) -> list[int]:
    """How often any of `chars` occurs in each text; one the page lacks costs no per-block pass."""
    counts = [0] * len(texts)
    for char in chars:
        if char in page:
            counts = list(map(add, counts, map(str.count, texts, repeat(char))))
    return counts


class BlockModel:
    """Logistic regression on standardised block features, with its decision threshold."""

    def __init__(self, mean, scale, coef, intercept: float, threshold: float, **meta):
        self.mean, self.scale = np.asarray(mean), np.asarray(scale)
        self.coef, self.intercept = np.asarray(coef), float(intercept)
        self.meta = meta
        # Folding the standardisation into the weights: one dot product per block at run time.
        self._w = self.coef / self.scale
        self._b = self.intercept - float(self._w @ self.mean)
        self.set_threshold(threshold)

    def set_threshold(self, threshold: float):
        self.threshold = float(threshold)
        # p >= threshold  <=>  logit >= log(threshold / (1 - threshold)): no exp per block
        self.logit_threshold = float(np.log(self.threshold / (1 - self.threshold)))

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds that each block is content."""
        return features @ self._w + self._b

    def to_json(self) -> dict:
        return dict(mean=list(self.mean), scale=list(self.scale), coef=list(self.coef),
                    intercept=self.intercept, threshold=self.threshold, **self.meta)


@functools.lru_cache(maxsize=1)
def load_model(path: str | None = None) -> BlockModel:
    """Built once per process."""
    text = _shipped_model_text() if path is None else Path(path).read_text(encoding="utf-8")
    return BlockModel(**json.loads(text))


@functools.lru_cache(maxsize=1)
def shipped_model_digest() -> str:
    """Of the shipped weights: what ingest keeps changes with them (shard fingerprints)."""
    return hashlib.sha256(_shipped_model_text().encode()).hexdigest()[:16]


def _shipped_model_text() -> str:
    """Read as a package resource, so that the weights load from the --py-files zip the
    executors of a cluster import the library from."""
    return importlib.resources.files(__package__).joinpath(MODEL_FILE.name).read_text(encoding="utf-8")


def looks_like_forum(html: str) -> bool:
    """Whether the page's markup names forum or Q&A software or types (FORUM_MARKS)."""
    return any(mark in html for mark in FORUM_MARKS)


def main_text(tree, model: BlockModel | None = None, forum: bool = False) -> str:
    """The kept blocks of the page, one per line ("" when none is kept). On a `forum` page
    (looks_like_forum) comment sections are kept: they hold the posts and answers.

    Resiliparse's main-content pass sometimes picks the wrong container (a comment form,
    a teaser list) and drops the article: when fewer than FALLBACK_MIN_CHARS are kept, the
    whole page's blocks are classified too and the longer result wins. About one page in
    ten pays for that second pass.
    """
    model = model or load_model()
    text = kept_text(page_blocks(tree, comments=forum), model)
    if len(text) < FALLBACK_MIN_CHARS:
        whole = kept_text(page_blocks(tree, main_content=False, comments=forum), model)
        text = whole if len(whole) > len(text) else text
    return text


def kept_text(blocks: list[tuple[int, str, int]], model: BlockModel) -> str:
    if not blocks:
        return ""
    return select([text for _, text, _ in blocks], block_features(blocks), model)


def select(texts: list[str], features: np.ndarray, model: BlockModel) -> str:
    """The blocks the model keeps; at least the likeliest one, so that a page Resiliparse
    found text on is judged `too_short` downstream rather than `empty_text`."""
    scores = model.scores(features)
    keep = scores >= model.logit_threshold
    if not keep.any():
        keep[np.argmax(scores)] = True
    return "\n".join(text for text, kept in zip(texts, keep) if kept)
