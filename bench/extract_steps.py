"""Where extraction's time goes: CPU ms per page of each step of ours, on the gold pages.

The steps are those of `extract.extract_main_text` (method "blocks") and of ingest's language
ID after it, called one by one with `time.process_time` around each: decoding, the size and
depth caps, Resiliparse's parse, widget class words taken off large elements, its
main-content pass (minimal HTML with links, comment sections dropped), splitting the blocks,
their features, the selection, the whole-page fallback (on the pages that need it), and
`langid.identify`. The shipped block model is used (not the held-out ones of
extract_bench.py: cost does not depend on the weights).

Data: the six human-gold sets of corpus_pipeline.goldsets (2,417 pages, none of them CC).
Usage: python bench/extract_steps.py [--data DIR] [--passes N] [--limit N]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from corpus_pipeline import boilerplate, extract, goldsets, langid
from corpus_pipeline.config import IngestConfig


def timed_steps(data: bytes, model, cfg: IngestConfig, seconds: Counter):
    """One page through ours, step by step, adding each step's CPU time to `seconds`; returns
    the page's main text."""
    clock = time.process_time
    started = clock()

    def lap(step: str):
        nonlocal started
        now = clock()
        seconds[step] += now - started
        started = now

    html = extract.decode_html(data)[0]
    lap("decoding")
    extract.check_bounds(html, cfg.max_html_chars, cfg.max_html_depth)
    lap("size and depth caps")
    tree = extract.parse_html(html)
    lap("Resiliparse parse")
    extract.check_tree_bounds(tree, html, cfg.max_html_depth)
    lap("size and depth caps")
    boilerplate.unhide_large_widgets(tree)
    lap("widget classes off large elements")
    marked = boilerplate.marked_html(tree)
    lap("Resiliparse main-content pass")
    blocks = boilerplate.parse_blocks(marked)
    lap("block split")
    text = ""
    if blocks:
        features = boilerplate.block_features(blocks)
        lap("features")
        text = boilerplate.select([block for _, block, _ in blocks], features, model)
        lap("selection")
    if len(text) < boilerplate.FALLBACK_MIN_CHARS:
        whole = boilerplate.kept_text(boilerplate.page_blocks(tree, main_content=False), model)
        text = whole if len(whole) > len(text) else text
        lap("whole-page fallback")
    if text:
        langid.identify(text, cfg.lid_max_chars)
        lap("language ID")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--passes", type=int, default=3, help="passes over all pages (default 3)")
    parser.add_argument("--limit", type=int, help="at most N pages per gold set (default: all)")
    args = parser.parse_args()
    try:
        root = goldsets.find_root(args.data)
    except FileNotFoundError as err:
        sys.exit(f"extract_steps: {err}; pass --data DIR")
    pages, _ = goldsets.load_pages(root, goldsets.GOLD_SETS, args.limit)
    rows = [data for dataset in pages.values() for _, data, _ in dataset]
    model, cfg = boilerplate.load_model(), IngestConfig()
    # Untimed: the steps must give what extract_main_text gives, or this bench times something else.
    same = sum(timed_steps(data, model, cfg, Counter()) == extract.extract_main_text(data) for data in rows)
    print(f"steps give extract_main_text's text on {same} of {len(rows)} pages")
    seconds = Counter()
    for _ in range(args.passes):
        for data in rows:
            timed_steps(data, model, cfg, seconds)
    pages_timed = args.passes * len(rows)
    total = sum(seconds.values())
    print(f"{len(rows)} gold pages x {args.passes} passes; CPU ms per page (all pages, also those a step skips)")
    print("| step | ms per page | share |")
    print("|---|---|---|")
    for step, s in seconds.items():
        print(f"| {step} | {1000 * s / pages_timed:.3f} | {100 * s / total:.0f}% |")
    print(f"| **total** | **{1000 * total / pages_timed:.3f}** ({pages_timed / total:.0f} pages/s per core) | |")


if __name__ == "__main__":
    main()
