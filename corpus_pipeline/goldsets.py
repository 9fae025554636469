"""Human-gold main-text extraction sets: their pages, their gold text, and word-level scoring.

Consumes `shared/data/web_html/` (see its README); produces, per dataset, (page name, HTML
bytes, gold text) rows, read the same way by the block-model trainer
(`boilerplate_training.py`), the tests and the extraction benchmarks in `bench/`.
Only sets with human-made gold are read:
- general web pages: CleanEval 2007 (dev + final; pages without a gold file skipped),
  CleanPortalEval, Scrapinghub article-extraction benchmark (gold articleBody),
  htmltotext-benchmark (gold kept comments and forum user names);
- news articles: L3S-GN1 (gold = headline and full text of the annotated copy, each text
  node once) and Dragnet 2012 (gold = text before the `!@#$%^&*()  COMMENTS` line, whose
  spaces and symbols vary).
- modern page types: the WCXB development split's 704 non-article pages (forums and Q&A,
  products, listings, collections, documentation, service pages; crawled 2025-26,
  human-reviewed main text; `wcxb_dev`), scored with WCXB's own metric (`word_prf`).
Not read: Readability (its "gold" is Readability.js output) and trafilatura's evaluation set
(used to tune trafilatura, and its gold is partial snippets).

Score of an output against a gold (`bag_of_words_prf`), as the extraction literature
(CleanEval, Dragnet) scores it: multisets of lower-cased whitespace tokens; overlap = size
of their intersection; P = overlap/|output|, R = overlap/|gold|, F1 their harmonic mean (an
empty output scores 0). The L3S-GN1 annotated copy lost every non-ASCII character to '?',
so for that set both sides are folded the same way before scoring (`fold_for`).
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import html
import json
import re
import tarfile
from collections import Counter
from pathlib import Path

# A checkout keeps the shared data beside it (../shared/data), as the tests expect too.
DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "web_html"

# "!@#$%^&*()  COMMENTS" in 316 gold files; 12 more vary its spaces or symbols (typos), and their
# comments were scored as gold until 2026-12-03.
DRAGNET_COMMENTS = re.compile(r"!@#[$%^&*()]+\s+COMMENTS")
L3S_GOLD_CLASSES = ("x-nc-sel1", "x-nc-sel2")  # headline, full text (the L3S "content" labels)
_L3S_GOLD_SPANS = ", ".join(f"span.{name}" for name in L3S_GOLD_CLASSES)
_L3S_LABEL = re.compile(r"\bx-nc-sel\d\b")
_TEXT_WRAPPER = re.compile(rb"^\s*<text\b[^>]*>")
_TEXT_CLOSE = re.compile(rb"</text>\s*$")
_GOLD_MARKERS = re.compile(r"<[phl]>", re.I)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


# ---------------------------------------------------------------- reading the datasets

def read_text(path: Path) -> str:
    return decode_gold(path.read_bytes())


def decode_gold(data: bytes) -> str:
    """UTF-16 where a byte-order mark says so (5 Dragnet gold files), else UTF-8, else cp1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def cleaneval_html(path: Path) -> bytes:
    data = _TEXT_WRAPPER.sub(b"", path.read_bytes(), count=1)
    return _TEXT_CLOSE.sub(b"", data)


def cleaneval_gold(path: Path) -> str:
    text = read_text(path).lstrip()
    if text.startswith("URL:"):
        text = text.partition("\n")[2]
    return html.unescape(_GOLD_MARKERS.sub(" ", text))


def cleaneval_format(folder: Path):
    """(name, html bytes, gold) for each input/<n>.html that has GoldStandard/<n>.txt."""
    for page in sorted((folder / "input").glob("*.html")):
        gold = folder / "GoldStandard" / (page.stem + ".txt")
        if gold.is_file():
            yield page.name, cleaneval_html(page), cleaneval_gold(gold)


def cleaneval(root: Path):
    for part in ("cleaneval-dev", "cleaneval-final"):
        yield from cleaneval_format(root / "cleaneval" / part)


def cleanportaleval(root: Path):
    yield from cleaneval_format(root / "cleanportaleval")


def scrapinghub(root: Path):
    folder = root / "scrapinghub-aeb"
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id, entry in sorted(truth.items()):
        page = folder / "html" / f"{page_id}.html.gz"
        yield page.name, gzip.decompress(page.read_bytes()), entry["articleBody"]


def htmltotext(root: Path):
    for page in sorted((root / "htmltotext-benchmark" / "benchmarkdata").glob("*/html/*.html")):
        gold = page.parent.parent / "text" / (page.stem + ".txt")
        if gold.is_file():
            yield f"{page.parent.parent.name}/{page.name}", page.read_bytes(), read_text(gold)


def dragnet(root: Path):
    """Dragnet pages with their gold cut where the reader comments start."""
    for name, data, gold in dragnet_with_comments(root):
        yield name, data, DRAGNET_COMMENTS.split(gold, 1)[0]


def dragnet_with_comments(root: Path):
    """input/<id>.html with GoldStandard/<id>.txt, read from the tar.xz in one sequential pass;
    the gold whole: the article, then, on 328 pages, DRAGNET_COMMENTS and the comments."""
    files = {}
    with tarfile.open(root / "dragnet" / "dragnet_data.tar.xz") as archive:
        for member in archive:
            if member.isfile():
                files[member.name] = archive.extractfile(member).read()
    for name in sorted(files):
        if "/input/" in name:
            stem = name.rsplit("/", 1)[1].removesuffix(".html")
            gold = files.get(f"dragnet_data/GoldStandard/{stem}.txt")
            if gold is not None:
                yield f"{stem}.html", files[name], decode_gold(gold)


def l3s_gn1(root: Path):
    from resiliparse.parse.html import HTMLTree

    folder = next((root / "l3s-gn1").glob("L3S-GN1-*"))
    for page in sorted((folder / "original").glob("*.html")):
        annotated = HTMLTree.parse(read_text(folder / "annotated" / page.name))
        yield page.name, page.read_bytes(), l3s_gold(annotated)


def l3s_gold(annotated) -> str:
    """The annotated copy's headline and full text, each text node once, labelled by its
    innermost annotation span. The annotation nests spans: a sentence can sit in ten
    `x-nc-sel2` spans, and the text of every matching span counted it once per level (180
    of the 497 pages' gold was inflated by over 5%, 47 by over 2x); and a span inside the
    full text can carry another label ("Email article / Print version", not content)."""
    from resiliparse.parse.html import NodeType

    texts = []

    def collect(node, gold: bool):
        for child in node.child_nodes:
            if child.type == NodeType.TEXT:
                if gold:
                    texts.append(child.text)
            elif child.type == NodeType.ELEMENT:
                label = _l3s_label(child)
                collect(child, gold if label is None else label in L3S_GOLD_CLASSES)

    for span in annotated.body.query_selector_all(_L3S_GOLD_SPANS):
        if not any(_l3s_label(node) in L3S_GOLD_CLASSES for node in _ancestors(span)):  # outermost
            collect(span, True)
    return " ".join(texts)


def _l3s_label(node) -> str | None:
    match = _L3S_LABEL.search(node.class_name or "") if node.tag == "span" else None
    return match and match.group()


def _ancestors(node):
    while (node := node.parent) is not None:
        yield node


def wcxb_dev(root: Path):
    """(name, html bytes, gold, page type) of each WCXB development page; a page whose
    reference lacks `main_content` has an empty gold (the benchmark scores it so)."""
    folder = root / "wcxb-dev"
    for page in sorted((folder / "html").glob("*.html.gz")):
        page_id = page.name.removesuffix(".html.gz")
        truth = json.loads((folder / "ground-truth" / f"{page_id}.json").read_text(encoding="utf-8"))
        gold = (truth.get("ground_truth") or {}).get("main_content") or ""
        yield page_id, gzip.decompress(page.read_bytes()), gold, truth["_internal"]["page_type"]["primary"]


def wcxb_url(root: Path, page_id: str) -> str:
    """The URL a WCXB page was fetched from (its domain groups pages into folds)."""
    truth = json.loads((root / "wcxb-dev" / "ground-truth" / f"{page_id}.json").read_text(encoding="utf-8"))
    return truth.get("url") or ""


GENERAL_WEB = {"CleanEval": cleaneval, "CleanPortalEval": cleanportaleval,
               "Scrapinghub": scrapinghub, "htmltotext": htmltotext}
NEWS = {"L3S-GN1": l3s_gn1, "Dragnet": dragnet}
GOLD_SETS = {**GENERAL_WEB, **NEWS}


def fold_for(dataset: str):
    """L3S-GN1's annotated copy has '?' for every non-ASCII character; fold ours alike."""
    return (lambda text: _NON_ASCII.sub("?", text)) if dataset == "L3S-GN1" else (lambda text: text)


def load_pages(root: Path, names, limit: int | None = None) -> tuple[dict[str, list], Counter]:
    """({dataset: [(name, html bytes, gold)]} of the sets named, at most `limit` pages each,
    pages skipped because their gold has no word per set); `names` are keys of GOLD_SETS."""
    pages, empty_gold = {}, Counter()
    for name in names:
        rows = []
        for row in GOLD_SETS[name](root):
            if not row[2].split():
                empty_gold[name] += 1
                continue
            rows.append(row)
            if limit and len(rows) >= limit:
                break
        pages[name] = rows
    return pages, empty_gold


def find_root(path: str | Path | None = None) -> Path:
    """The web_html folder: `path`, else DEFAULT_ROOT; FileNotFoundError naming it if absent."""
    root = Path(path) if path else DEFAULT_ROOT
    if not root.is_dir():
        raise FileNotFoundError(f"no web_html gold data at {root}")
    return root


def fingerprint(pages: dict[str, list]) -> str:
    """16 hex digits of a SHA-256 over every page's set, name, HTML and gold, in order: which
    gold pages a model was trained on."""
    digest = hashlib.sha256()
    for dataset, rows in pages.items():
        for name, data, gold in rows:
            for part in (dataset.encode(), name.encode(), data, gold.encode("utf-8", "surrogatepass")):
                digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- scoring

_WORD = re.compile(r"\w+")


def word_prf(output: str, gold: str) -> tuple[float, float, float]:
    """WCXB's metric: bag-of-words P/R/F1 on lower-cased `\\w+` tokens; an empty reference
    scores (1, 1, 1) against an empty output and (0, 0, 0) against any other."""
    got, want = Counter(_WORD.findall(output.lower())), Counter(_WORD.findall(gold.lower()))
    if not want:
        return (1.0, 1.0, 1.0) if not got else (0.0, 0.0, 0.0)
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values())
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1

def bag_of_words_prf(output: str, gold: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the output's words against the gold's (module docstring)."""
    got, want = Counter(output.lower().split()), Counter(gold.lower().split())
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1

