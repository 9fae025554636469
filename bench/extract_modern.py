"""Main-text extraction on modern page types: word F1 per page type, and CPU cost per page.

Contenders, in one run on the same pages, taking turns page by page:
- `ours`: `corpus_pipeline.extract.extract_main_text` with the shipped block model. The
  model is trained on the older gold sets only (`boilerplate_training`), never on these
  pages, so its figures are held out; the forum markup list (`boilerplate.FORUM_MARKS`)
  was chosen by reading these pages' forums, so that part is tuned on them;
- `trafilatura`: trafilatura 2 with default settings (`trafilatura.extract(html)`, comments
  included), as the benchmark's published figures run it;
- `resiliparse`: Resiliparse's main-content mode (`extract_main_text(method="resiliparse")`).

Data: the WCXB development split's 704 non-article pages (`goldsets.wcxb_dev`, from
`shared/data/web_html/wcxb-dev/`; its README says where they come from). Measure: WCXB's,
bag-of-words P/R/F1 on lower-cased `\\w+` tokens per page, mean over pages; an empty
reference scores 1 against an empty output, else 0 (`goldsets.word_prf`).

Speed: CPU time of this process (time.process_time) around each call, bytes in to text out
(decoding included), pages/s per core = pages / CPU seconds, and ours / trafilatura.
One untimed warm-up call per contender first (lazy imports, model load).

Usage: python bench/extract_modern.py [--data DIR] [--limit N] [--only NAME,...]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

from corpus_pipeline.extract import decode_html, extract_main_text, tidy_text
from corpus_pipeline.goldsets import find_root, wcxb_dev, word_prf

PAGE_TYPES = ("forum", "listing", "collection", "documentation", "product", "service")


def trafilatura_default(data: bytes) -> str:
    import trafilatura

    return tidy_text(trafilatura.extract(decode_html(data)[0]) or "")


CONTENDERS = {
    "ours": extract_main_text,
    "trafilatura": trafilatura_default,
    "resiliparse": lambda data: extract_main_text(data, method="resiliparse"),
}


def evaluate(rows: list, extractors: dict) -> tuple[dict[str, dict[str, list]], dict[str, float]]:
    """({method: {page type: per-page (P, R, F1)}}, {method: CPU seconds}). Turns page by
    page, so that a machine whose speed drifts changes every contender's rate alike."""
    scores = {method: defaultdict(list) for method in extractors}
    seconds = dict.fromkeys(extractors, 0.0)
    for _, data, gold, page_type in rows:
        for method, extractor in extractors.items():
            started = time.process_time()
            try:
                output = extractor(data)
            except Exception:  # scored as an empty output, as a crawl would lose the page
                output = ""
            seconds[method] += time.process_time() - started
            scores[method][page_type].append(word_prf(output, gold))
    return scores, seconds


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def table(scores: dict, seconds: dict, pages: int) -> list[str]:
    """Markdown rows: F1 per page type and over all pages, P / R over all, pages/s per core."""
    methods = list(scores)
    types = [t for t in PAGE_TYPES if any(scores[m][t] for m in methods)]
    out = ["| page type | pages | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for page_type in types:
        n = len(scores[methods[0]][page_type])
        out.append(f"| {page_type} | {n} | " + " | ".join(f"{mean(s[2] for s in scores[m][page_type]):.3f}"
                                                       for m in methods) + " |")
    every = {m: [s for t in types for s in scores[m][t]] for m in methods}
    out.append(f"| **all** F1 | {pages} | " + " | ".join(f"**{mean(s[2] for s in every[m]):.3f}**" for m in methods) + " |")
    out.append("| all P / R | | " + " | ".join(f"{mean(s[0] for s in every[m]):.3f} / {mean(s[1] for s in every[m]):.3f}"
                                           for m in methods) + " |")
    out.append("| pages/s per core (CPU) | | " + " | ".join(f"{pages / seconds[m]:.1f}" for m in methods) + " |")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--limit", type=int, help="at most N pages (default: all 704)")
    parser.add_argument("--only", help="comma-separated contenders (default: ours,trafilatura,resiliparse)")
    args = parser.parse_args()
    try:
        root = find_root(args.data)
    except FileNotFoundError as err:
        sys.exit(f"extract_modern: {err}; pass --data DIR")
    rows = list(wcxb_dev(root))[:args.limit]
    methods = args.only.split(",") if args.only else list(CONTENDERS)
    extractors = {method: CONTENDERS[method] for method in methods}
    for extractor in extractors.values():
        extractor(rows[0][1])  # warm-up: imports, models
    scores, seconds = evaluate(rows, extractors)
    print(f"data: {root / 'wcxb-dev'}, {len(rows)} pages")
    print("\n".join(table(scores, seconds, len(rows))))
    if "ours" in seconds and "trafilatura" in seconds:
        print(f"speed ours / trafilatura: {seconds['trafilatura'] / seconds['ours']:.1f}x")


if __name__ == "__main__":
    main()
