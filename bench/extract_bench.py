"""Main-text extraction benchmark: accuracy against human gold and CPU cost per page.

Contenders, in one run on the same pages:
- `ours`: `corpus_pipeline.extract.extract_main_text` (Resiliparse DOM + block classifier),
  timed with and without language ID (lid.176 on the result, as ingest does). Each dataset
  is scored with a block model trained on the other five
  (`corpus_pipeline.boilerplate_training.fit`), so every figure of ours is held out; the
  shipped model, trained on all six, is not scored;
- `resiliparse`: Resiliparse's main-content mode (`extract_main_text(method="resiliparse")`);
- `resiliparse_no_comments`: the same, told to drop comment sections (`comments=False`), as
  ours asks it: the share of our gain that this option alone brings;
- `trafilatura`: trafilatura 2 default settings; `trafilatura_precision`: `favor_precision=True`;
- `justext`: jusText 3 with the English stoplist (the gold pages are mostly English).

Data: the six human-gold sets of `corpus_pipeline.goldsets` (CleanEval, CleanPortalEval,
Scrapinghub, htmltotext: general web pages; L3S-GN1, Dragnet: news), from
`shared/data/web_html/`; its docstring says how each gold is read and how a page is scored
(bag-of-words P/R/F1). Reported: mean P/R/F1 per dataset, over the general-web sets, the
news sets and all pages.

Speed: CPU time of this process (time.process_time) around each call, bytes in to text
out (decoding included), summed over all pages; pages/s per core = pages / CPU seconds.
The contenders take turns page by page, so that their ratios hold on a machine whose
speed drifts during the run.
CPU time, not wall time, because the benchmark machine is shared. One untimed warm-up call
per contender first (lazy imports, model load).

Also printed, when ours is scored, on the pages with blocks, to show where the rest of the
accuracy is:
- the ceiling of block choice: the F1 of keeping exactly the blocks that training labels
  content, what a block classifier that got every label right would score; on Resiliparse's
  main-content output, and on the better of that and the whole page's blocks, page by page;
- ours with the better view page by page: the held-out model's text from the main-content
  blocks or from the whole page's, whichever scores higher against the gold. The gap to
  ours is what a perfect choice of view (the run-time fallback's job) would add.

Also printed for every contender: its F1 on the text the filter job writes, with each set's
pages standing in for a crawl: after fuzzy dedup (the job's rule, without Spark) and then the
repeated-line stage (`corpus_pipeline.lines`), which removes the template lines that several
pages of a site share, which no per-page extractor can see.
The dedup rule is the library's (`corpus_pipeline.dedup.near_duplicate_keepers`).

Usage: python bench/extract_bench.py [--data DIR] [--limit N] [--only NAME,...]
"""
from __future__ import annotations

import argparse
import sys
import time

from corpus_pipeline import boilerplate_training, dedup, langid, lines
from corpus_pipeline.config import DedupConfig
from corpus_pipeline.extract import extract_main_text
from corpus_pipeline.goldsets import (GENERAL_WEB, GOLD_SETS, NEWS, bag_of_words_prf,
                                      find_root, fold_for, load_pages)


# ---------------------------------------------------------------- contenders

def _decoded(data: bytes) -> str:
    from corpus_pipeline.extract import decode_html

    return decode_html(data)[0]


def resiliparse_without_comments(data: bytes) -> str:
    """Resiliparse's main-content mode told to drop comment sections, as ours asks it: what
    that option alone does, before our block classifier."""
    from corpus_pipeline.extract import parse_html, resiliparse_main_text

    return resiliparse_main_text(parse_html(_decoded(data)), comments=False)


def trafilatura_extractor(**options):
    import trafilatura

    from corpus_pipeline.extract import tidy_text

    return lambda data: tidy_text(trafilatura.extract(_decoded(data), **options) or "")


def justext_extractor():
    import justext

    stoplist = justext.get_stoplist("English")
    return lambda data: "\n".join(p.text for p in justext.justext(_decoded(data), stoplist) if not p.is_boilerplate)


def with_language_id(extractor):
    """The extractor followed by lid.176 on its text, as ingest runs them (IngestConfig defaults)."""
    from corpus_pipeline.config import IngestConfig

    max_chars = IngestConfig().lid_max_chars

    def run(data):
        text = extractor(data)
        if text:
            langid.identify(text, max_chars)
        return text
    return run


def held_out_models(labelled: dict) -> dict:
    """{dataset: block model trained on the other gold sets' pages}, from
    boilerplate_training.labelled_pages: ours is scored only on pages its model never saw."""
    return {name: boilerplate_training.fit({other: rows for other, rows in labelled.items() if other != name})
            for name in labelled}


def block_choice_ceiling(labelled: dict) -> dict[str, list[tuple[float, float]]]:
    """{dataset: per page (F1 of the main-content view, F1 of the whole page's view)}, each
    keeping exactly the blocks labelled content (most of their words in the gold, as in
    training): what a perfect block classifier would score on that view."""
    return {name: [tuple(bag_of_words_prf(fold("\n".join(t for t, label in zip(texts, labels) if label)), fold(gold))[2]
                         for texts, _, labels in views)
                   for gold, fold, views in rows]
            for name, rows in labelled.items()}


def better_view_f1(labelled: dict, models: dict) -> dict[str, list[float]]:
    """{dataset: per page F1 of the held-out model's text from whichever view scores higher}."""
    return {name: [max(bag_of_words_prf(fold(text), fold(gold))[2]
                       for text in boilerplate_training.view_texts(views, models[name]))
                   for gold, fold, views in rows]
            for name, rows in labelled.items()}


def ours(model):
    return lambda data: extract_main_text(data, block_model=model)


def contenders(models: dict) -> dict:
    """{method: dataset name -> extractor}."""
    fixed = {
        "resiliparse": lambda data: extract_main_text(data, method="resiliparse"),
        "resiliparse_no_comments": resiliparse_without_comments,
        "trafilatura": trafilatura_extractor(),
        "trafilatura_precision": trafilatura_extractor(favor_precision=True),
        "justext": justext_extractor(),
    }
    return {"ours": lambda name: ours(models[name]),
            "ours+langid": lambda name: with_language_id(ours(models[name])),
            **{method: same_for_every_set(extractor) for method, extractor in fixed.items()}}


def same_for_every_set(extractor):
    return lambda name: extractor


def evaluate(rows: list, dataset: str, extractors: dict) -> tuple[dict[str, tuple[list, float, int]], dict]:
    """({method: (per-page (P, R, F1), CPU seconds spent extracting, pages that raised)},
    {method: per-page output}). The contenders take turns page by page, so a machine that
    slows down or speeds up during the run changes every contender's rate alike and leaves
    their ratios."""
    fold = fold_for(dataset)
    scores = {method: [] for method in extractors}
    outputs = {method: [] for method in extractors}
    seconds, errors = dict.fromkeys(extractors, 0.0), dict.fromkeys(extractors, 0)
    for _, data, gold in rows:
        for method, extractor in extractors.items():
            started = time.process_time()
            try:
                output = extractor(data)
            except Exception:  # count it, score it as an empty output
                output, errors[method] = "", errors[method] + 1
            seconds[method] += time.process_time() - started
            scores[method].append(bag_of_words_prf(fold(output), fold(gold)))
            outputs[method].append(output)
    return {method: (scores[method], seconds[method], errors[method]) for method in extractors}, outputs


# ---------------------------------------------------------------- driver

def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def line(name: str, method: str, scores: list, seconds: float, errors: int) -> str:
    p, r, f = (mean(s[i] for s in scores) for i in range(3))
    rate = len(scores) / seconds if seconds else float("nan")
    return f"| {name} | {method} | {len(scores)} | {p:.3f} | {r:.3f} | {f:.3f} | {rate:.0f} | {errors} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the web_html folder (default: repo_root/../shared/data/web_html)")
    parser.add_argument("--limit", type=int, help="at most N pages per dataset (default: all)")
    parser.add_argument("--only", help="comma-separated contenders (default: all)")
    args = parser.parse_args()
    try:
        root = find_root(args.data)
    except FileNotFoundError as err:
        sys.exit(f"extract_bench: {err}; pass --data DIR")
    pages, empty_gold = load_pages(root, GOLD_SETS, args.limit)
    wanted = args.only.split(",") if args.only else None
    scores_ours = not wanted or any(name.startswith("ours") for name in wanted)
    if scores_ours:  # labelling and training take a minute; skipped when ours is not asked for
        labelled = boilerplate_training.labelled_pages(pages)
    models = held_out_models(labelled) if scores_ours else {}
    methods = contenders(models)
    if wanted:
        methods = {name: methods[name] for name in wanted}
    print(f"data: {root}" + (f" (--limit {args.limit} per dataset)" if args.limit else " (all pages with gold)"))
    print("pages: " + ", ".join(f"{name} {len(rows)}" for name, rows in pages.items()))
    if empty_gold:
        print("skipped, gold has no words: " + ", ".join(f"{n} {c}" for n, c in empty_gold.items()))
    first = next(rows[0][1] for rows in pages.values() if rows)
    for extractor in methods.values():
        extractor(next(iter(pages)))(first)  # warm-up: imports, models
    results, outputs = {}, {}
    for name, rows in pages.items():
        by_method, texts = evaluate(rows, name, {method: extractor(name) for method, extractor in methods.items()})
        results.update({(name, method): result for method, result in by_method.items()})
        outputs.update({(name, method): text for method, text in texts.items()})
    print("| dataset | method | pages | P | R | F1 | pages/s per core (CPU) | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name in pages:
        for method in methods:
            print(line(name, method, *results[name, method]))
    for group, names in (("general web", GENERAL_WEB), ("news", NEWS), ("all", GOLD_SETS)):
        for method in methods:
            runs = [results[name, method] for name in names]
            every = [score for scores, _, _ in runs for score in scores]
            print(line(f"**{group}**", method, every, sum(r[1] for r in runs), sum(r[2] for r in runs)))
    print_as_the_job_writes(pages, outputs, methods)
    if scores_ours:
        print_where_the_rest_is(labelled, models)
    print_standalone_speed(pages, {method: methods[method] for method in STANDALONE if method in methods})


def group_means(per_page: dict[str, list[float]]) -> str:
    """Mean F1 of each dataset, then of the general web, news and all, on one line."""
    groups = (*((name, [name]) for name in per_page), ("general web", GENERAL_WEB), ("news", NEWS), ("all", GOLD_SETS))
    return ", ".join(f"{group} {mean(f for name in names for f in per_page[name]):.3f}" for group, names in groups)


def print_as_the_job_writes(pages: dict, outputs: dict, methods):
    """F1 of each contender's output after the filter job's fuzzy dedup and repeated-line
    stage, run over each set's pages as if they were one crawl (`as_the_job_writes`). A page
    left with no line scores 0; how many are, and how many dedup dropped, is printed too."""
    for method in methods:
        per_page, dropped, emptied = {}, 0, 0
        for name, rows in pages.items():
            texts = outputs[name, method]
            written, keepers = as_the_job_writes(texts)
            dropped += sum(keeper != i for i, keeper in enumerate(keepers))
            emptied += sum(bool(text) and not kept for text, kept in zip(texts, written))
            fold = fold_for(name)
            per_page[name] = [bag_of_words_prf(fold(kept), fold(gold))[2] for kept, (_, _, gold) in zip(written, rows)]
        print(f"F1 after the job's dedup and repeated-line stage, each set as one crawl: {method}: "
              f"{group_means(per_page)}; {dropped} pages dropped as near-duplicates, {emptied} left with no line")


def as_the_job_writes(texts: list[str], cfg: DedupConfig = DedupConfig()) -> tuple[list[str], list[int]]:
    """(per page, the text the filter job holds for it; per page, the index of the page whose
    document that is). The job's order: fuzzy dedup keeps one page of each cluster of
    near-duplicates (with no quality scores here, its first), then the repeated-line stage runs over the pages dedup kept. A page that
    dedup drops is scored on the text its cluster's keeper ends with: that is the text the
    corpus holds for it. Run in reverse, as the bench did before 2026-12-03, two copies of
    one page hollow each other out, which the job never does."""
    keepers = dedup.near_duplicate_keepers(texts, cfg)
    kept = lines.drop_repeated_lines({i: text for i, text in enumerate(texts) if keepers[i] == i})
    return [kept[keeper][0] for keeper in keepers], keepers


def print_where_the_rest_is(labelled: dict, models: dict):
    """The figures that bound what better block choice could add (see the module's docstring)."""
    ceiling, better = block_choice_ceiling(labelled), better_view_f1(labelled, models)
    figures = (("ceiling of block choice on the main-content blocks",
                {name: [main for main, _ in views] for name, views in ceiling.items()}),
               ("ceiling of block choice on the better view",
                {name: list(map(max, views)) for name, views in ceiling.items()}),
               ("ours with the better view", better))
    for label, per_page in figures:
        print(f"{label} (pages with blocks): {group_means(per_page)}")


STANDALONE = ("ours+langid", "resiliparse", "resiliparse_no_comments")


def print_standalone_speed(pages: dict, methods: dict, passes: int = 3):
    """Pages/s per core of each contender alone over all pages, as a pipeline runs it: the
    interleaved runs above keep ratios fair, but every contender evicts the others' code and
    data from the caches. Best of `passes`, the contenders alternating pass by pass."""
    rows = [(name, data) for name, dataset in pages.items() for _, data, _ in dataset]
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(passes):
        for method, extractor in methods.items():
            extractors = {name: extractor(name) for name in pages}
            started = time.process_time()
            for name, data in rows:
                try:
                    extractors[name](data)
                except Exception:  # counted in the table above
                    pass
            best[method] = min(best[method], time.process_time() - started)
    for method, seconds in best.items():
        print(f"standalone, all {len(rows)} pages: {method} {len(rows) / seconds:.0f} pages/s per core (CPU), "
              f"best of {passes}")


if __name__ == "__main__":
    main()
