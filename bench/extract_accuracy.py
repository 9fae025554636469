"""Main-text extraction accuracy: bag-of-words precision, recall and F1 against human gold.

Measures `corpus_pipeline.extract.extract_main_text(html_bytes, method=...)` with
method "resiliparse" and "trafilatura" on the shared pages that have hand-made gold text:
- CleanEval 2007 (web_html/cleaneval, dev + final; pages without a gold file are skipped),
- CleanPortalEval (web_html/cleanportaleval, CleanEval format),
- Scrapinghub article-extraction benchmark (web_html/scrapinghub-aeb, gold articleBody),
- Dragnet 2012 (web_html/dragnet, tar.xz unpacked to a temp dir under /tmp; gold is the
  text before the `!@#$%^&*()  COMMENTS` line).

Score per page: multisets of lower-cased whitespace tokens of the output and of the gold;
overlap = size of their intersection; P = overlap/|output|, R = overlap/|gold|, F1 their
harmonic mean (an empty output scores 0). Reported: mean P/R/F1 per dataset and over all
pages, and pages/s per method (time inside extract_main_text only, which includes
decoding the bytes; one untimed warm-up call per method first). Single process.

Gold clean-up for the CleanEval format: the `URL: ...` first line and the `<p>`, `<h>`,
`<l>` block markers are removed and HTML entities are unescaped (CleanPortalEval gold
holds `&#039;` and the like). The `<text id=...>` wrapper line CleanEval added to the
input (and its closing `</text>`) is removed from the HTML before extraction.

Usage: python bench/extract_accuracy.py [--data DIR] [--limit N]
"""
from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

from corpus_pipeline.extract import extract_main_text

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [REPO_ROOT.parent / "shared" / "data" / "web_html", Path("/work/shared/data/web_html")]
METHODS = ("resiliparse", "trafilatura")
DRAGNET_COMMENTS = "!@#$%^&*()  COMMENTS"
_TEXT_WRAPPER = re.compile(rb"^\s*<text\b[^>]*>")
_TEXT_CLOSE = re.compile(rb"</text>\s*$")
_GOLD_MARKERS = re.compile(r"<[phl]>", re.I)


# ---------------------------------------------------------------- reading the datasets

def read_text(path: Path) -> str:
    data = path.read_bytes()
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


def dragnet(root: Path):
    with tempfile.TemporaryDirectory(prefix="dragnet-", dir="/tmp") as tmp:
        with tarfile.open(root / "dragnet" / "dragnet_data.tar.xz") as archive:
            archive.extractall(tmp, filter="data")
        folder = Path(tmp) / "dragnet_data"
        for page in sorted((folder / "input").glob("*.html")):
            gold = read_text(folder / "GoldStandard" / (page.stem + ".txt"))
            yield page.name, page.read_bytes(), gold.split(DRAGNET_COMMENTS)[0]


DATASETS = {"CleanEval": cleaneval, "CleanPortalEval": cleanportaleval,
            "Scrapinghub": scrapinghub, "Dragnet": dragnet}


# ---------------------------------------------------------------- scoring

def bag_of_words_prf(output: str, gold: str) -> tuple[float, float, float]:
    got, want = Counter(output.lower().split()), Counter(gold.lower().split())
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1


def evaluate(pages: list, method: str) -> tuple[list, float, int]:
    """Per-page (P, R, F1), seconds spent extracting, and how many pages raised."""
    scores, seconds, errors = [], 0.0, 0
    for _, data, gold in pages:
        started = time.perf_counter()
        try:
            output = extract_main_text(data, method=method)
        except Exception:  # count it, score it as an empty output
            output, errors = "", errors + 1
        seconds += time.perf_counter() - started
        scores.append(bag_of_words_prf(output, gold))
    return scores, seconds, errors


def warm_up(pages: dict):
    """One untimed call per method, so lazy imports (trafilatura) are not timed."""
    first = next(rows[0] for rows in pages.values() if rows)
    for method in METHODS:
        extract_main_text(first[1], method=method)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


# ---------------------------------------------------------------- driver

def find_data(arg: str | None) -> Path:
    candidates = [Path(arg)] if arg else DEFAULT_DATA
    for path in candidates:
        if path.is_dir():
            return path
    sys.exit(f"extract_accuracy: no web_html data at {' or '.join(map(str, candidates))}; pass --data DIR")


def load_pages(root: Path, limit: int | None) -> tuple[dict[str, list], Counter]:
    pages, empty_gold = {}, Counter()
    for name, reader in DATASETS.items():
        rows = []
        for name_html_gold in reader(root):
            if not name_html_gold[2].split():
                empty_gold[name] += 1  # a gold file with no words cannot be scored
                continue
            rows.append(name_html_gold)
            if limit and len(rows) >= limit:
                break
        pages[name] = rows
    return pages, empty_gold


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--limit", type=int, help="at most N pages per dataset (default: all)")
    args = parser.parse_args()
    root = find_data(args.data)
    pages, empty_gold = load_pages(root, args.limit)
    total = sum(len(rows) for rows in pages.values())
    print(f"data: {root}" + (f" (--limit {args.limit} per dataset)" if args.limit else " (all pages with gold)"))
    print("pages: " + ", ".join(f"{name} {len(rows)}" for name, rows in pages.items()) + f"; total {total}")
    if empty_gold:
        print("skipped, gold has no words: " + ", ".join(f"{n} {c}" for n, c in empty_gold.items()))
    print("bag-of-words P/R/F1: lower-cased whitespace tokens, multiset overlap, mean over pages")
    warm_up(pages)
    results = {(name, method): evaluate(rows, method) for method in METHODS for name, rows in pages.items()}
    print(f"{'dataset':<16} {'method':<12} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8} {'errors':>6}")
    for name in pages:
        for method in METHODS:
            print(line(name, method, *results[name, method]))
    for method in METHODS:
        runs = [results[name, method] for name in pages]
        every = [score for scores, _, _ in runs for score in scores]
        print(line("overall", method, every, sum(r[1] for r in runs), sum(r[2] for r in runs)))


def line(name: str, method: str, scores: list, seconds: float, errors: int) -> str:
    p, r, f = (mean(s[i] for s in scores) for i in range(3))
    rate = len(scores) / seconds if seconds else float("nan")
    return f"{name:<16} {method:<12} {len(scores):>5} {p:>6.3f} {r:>6.3f} {f:>6.3f} {rate:>8.1f} {errors:>6}"


if __name__ == "__main__":
    main()
