"""Main-text extraction benchmark: accuracy against human gold and CPU cost per page.

Contenders, in one run on the same pages:
- `ours`: `corpus_pipeline.extract.extract_main_text` (Resiliparse DOM + block classifier),
  timed with and without language ID (lid.176 on the result, as ingest does). Each dataset
  is scored with a block model trained on the other five (`bench/train_boilerplate.py`),
  so every figure of ours is held out; the shipped model, trained on all six, is not scored;
- `resiliparse`: Resiliparse's main-content mode (`extract_main_text(method="resiliparse")`);
- `resiliparse_no_comments`: the same, told to drop comment sections (`comments=False`), as
  ours asks it: the share of our gain that this option alone brings;
- `trafilatura`: trafilatura 2 default settings; `trafilatura_precision`: `favor_precision=True`;
- `justext`: jusText 3 with the English stoplist (the gold pages are mostly English).

Data, from `shared/data/web_html/` (see its README), only sets with human-made gold:
- general web pages: CleanEval 2007 (dev + final; pages without a gold file skipped),
  CleanPortalEval, Scrapinghub article-extraction benchmark (gold articleBody),
  htmltotext-benchmark (gold kept comments and forum user names);
- news articles: L3S-GN1 (gold = headline and full text of the annotated copy, each text
  node once) and Dragnet 2012 (gold = text before the `!@#$%^&*()  COMMENTS` line,
  whose spaces and symbols vary).
- Not used: Readability (its "gold" is Readability.js output) and trafilatura's evaluation
  set (used to tune trafilatura, and its gold is partial snippets).

Score per page: multisets of lower-cased whitespace tokens of the output and of the gold;
overlap = size of their intersection; P = overlap/|output|, R = overlap/|gold|, F1 their
harmonic mean (an empty output scores 0). Reported: mean P/R/F1 per dataset, over the
general-web sets, the news sets and all pages. The L3S-GN1 annotated copy lost every non-ASCII
character to '?', so for that set both sides are folded the same way before scoring.

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

Usage: python bench/extract_bench.py [--data DIR] [--limit N] [--only NAME,...]
"""
from __future__ import annotations

import argparse
import codecs
import gzip
import html
import json
import re
import sys
import tarfile
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from corpus_pipeline import dedup, langid, lines  # noqa: E402
from corpus_pipeline.config import DedupConfig  # noqa: E402
from corpus_pipeline.extract import extract_main_text  # noqa: E402

DEFAULT_DATA = [REPO_ROOT.parent / "shared" / "data" / "web_html", Path("/work/shared/data/web_html")]
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


GENERAL_WEB = {"CleanEval": cleaneval, "CleanPortalEval": cleanportaleval,
               "Scrapinghub": scrapinghub, "htmltotext": htmltotext}
NEWS = {"L3S-GN1": l3s_gn1, "Dragnet": dragnet}
GOLD_SETS = {**GENERAL_WEB, **NEWS}


def fold_for(dataset: str):
    """L3S-GN1's annotated copy has '?' for every non-ASCII character; fold ours alike."""
    return (lambda text: _NON_ASCII.sub("?", text)) if dataset == "L3S-GN1" else (lambda text: text)


def find_data(arg: str | None) -> Path:
    candidates = [Path(arg)] if arg else DEFAULT_DATA
    for path in candidates:
        if path.is_dir():
            return path
    sys.exit(f"extract_bench: no web_html data at {' or '.join(map(str, candidates))}; pass --data DIR")


def load_pages(root: Path, names, limit: int | None = None) -> tuple[dict[str, list], Counter]:
    """{dataset: [(name, html bytes, gold)]}; pages whose gold has no word are skipped and counted."""
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


# ---------------------------------------------------------------- scoring

def bag_of_words_prf(output: str, gold: str) -> tuple[float, float, float]:
    got, want = Counter(output.lower().split()), Counter(gold.lower().split())
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1


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
    train_boilerplate.labelled_pages: ours is scored only on pages its model never saw."""
    import train_boilerplate

    return {name: train_boilerplate.fit({other: rows for other, rows in labelled.items() if other != name})
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
    import train_boilerplate

    return {name: [max(bag_of_words_prf(fold(text), fold(gold))[2]
                       for text in train_boilerplate.view_texts(views, models[name]))
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
    root = find_data(args.data)
    pages, empty_gold = load_pages(root, GOLD_SETS, args.limit)
    wanted = args.only.split(",") if args.only else None
    scores_ours = not wanted or any(name.startswith("ours") for name in wanted)
    if scores_ours:  # labelling and training take a minute; skipped when ours is not asked for
        import train_boilerplate

        labelled = train_boilerplate.labelled_pages(pages)
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
    near-duplicates, then the repeated-line stage runs over the pages dedup kept. A page that
    dedup drops is scored on the text its cluster's keeper ends with: that is the text the
    corpus holds for it. Run in reverse, as the bench did before 2026-12-03, two copies of
    one page hollow each other out, which the job never does."""
    keepers = near_duplicate_keepers(texts, cfg)
    kept = lines.drop_repeated_lines({i: text for i, text in enumerate(texts) if keepers[i] == i})
    return [kept[keeper][0] for keeper in keepers], keepers


def near_duplicate_keepers(texts: list[str], cfg: DedupConfig) -> list[int]:
    """Per text, the index of its cluster's keeper under the job's fuzzy-dedup rule
    (`corpus_pipeline/spark/dedup.py`, mode bands) without Spark: texts sharing a band key
    are candidates (a bucket over `max_bucket` links its members to its first), a candidate
    pair at or above the shingle Jaccard threshold is a duplicate, clusters are connected
    components. The job keeps a cluster's best quality score, then its smallest id; with no
    scores here, the first page keeps."""
    signed = list(map(dedup.signer(cfg), texts))
    buckets: dict[int, list[int]] = {}
    for i, (_, keys) in enumerate(signed):
        for key in keys:
            buckets.setdefault(key, []).append(i)
    keepers = list(range(len(texts)))

    def keeper(i: int) -> int:
        while keepers[i] != i:
            i = keepers[i]
        return i

    for members in buckets.values():
        pairs = (combinations(members, 2) if len(members) <= cfg.max_bucket
                 else ((members[0], other) for other in members[1:]))
        for i, j in pairs:
            first, second = sorted((keeper(i), keeper(j)))
            if first != second and dedup.jaccard(signed[i][0], signed[j][0]) >= cfg.jaccard_threshold:
                keepers[second] = first
    return [keeper(i) for i in range(len(texts))]


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
