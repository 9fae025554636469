"""Language-ID benchmark: how many leading characters lid.176 needs, and what they cost.

For each text, the decision ingest makes (top language "en" with probability >= 0.5, the
IngestConfig defaults) is compared with the decision on the first 10,000 characters, for:
- `first N`: the first N characters only;
- `identify`: `corpus_pipeline.langid.identify(text, 1000)`, a first look at QUICK_CHARS
  characters of the longest line, and 1,000 only when that look is unclear (what ingest runs);
- `first 200, then 1000`: the previous release's rule, a first look at the text's first
  200 characters, kept when at least 0.9.
Reported per data set: texts, top-language and decision differences from the reference,
decision differences from `first 1000`, characters fastText reads per text (what its cost
grows with, and a figure that does not drift), and CPU ms per text.

Data, from `shared/data/` (see its README):
- gold-extracted: the pages of the six gold sets of corpus_pipeline.goldsets, extracted by ours;
- DCLM: the human-quality-judged CC documents (cc_text/dclm-human-quality/majority_data.jsonl);
- OSCAR: every document of the 133 language samples of OSCAR 2019 (cc_text/oscar2019-hf-dummy);
- CC pages: the texts ingest extracts from the Common Crawl files of warc/cc, before its
  language check (the quality classifier's cc_warc negatives).

Usage: python bench/langid_bench.py [--data DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from corpus_pipeline import goldsets, ingest, langid, references
from corpus_pipeline.config import IngestConfig
from corpus_pipeline.extract import extract_main_text

DEFAULT_DATA = goldsets.DEFAULT_ROOT.parent

REFERENCE_CHARS = 10_000
KEEP = IngestConfig()  # the ingest defaults: English, probability >= 0.5


def gold_extracted(data: Path) -> list[str]:
    pages, _ = goldsets.load_pages(data / "web_html", goldsets.GOLD_SETS)
    texts = (extract_main_text(html) for rows in pages.values() for _, html, _ in rows)
    return [text for text in texts if text]


def dclm(data: Path) -> list[str]:
    path = data / "cc_text" / "dclm-human-quality" / "majority_data.jsonl"
    return [doc.text for doc in references.load_jsonl(str(path), "dclm")]


def oscar(data: Path) -> list[str]:
    return [doc.text for doc in references.load_oscar_dummy(str(data / "cc_text" / "oscar2019-hf-dummy"), "oscar")]


def cc_pages(data: Path) -> list[str]:
    every_language = IngestConfig(languages=())
    return [outcome.text for path in sorted((data / "warc" / "cc").iterdir())
            for outcome in ingest.process_file(str(path), every_language) if outcome.text]


def decision(lang: str, prob: float) -> tuple[str, bool]:
    return lang, KEEP.keeps_language(lang, prob)


PREVIOUS_QUICK_CHARS, PREVIOUS_MIN_SCORE = 200, 0.9  # the previous release's first look


def opening_look_first(text: str) -> tuple[str, float]:
    """The previous release's identify: a first look at the text's first 200 characters,
    kept when at least 0.9."""
    if len(text) > PREVIOUS_QUICK_CHARS:
        lang, prob = langid.predict(text[:PREVIOUS_QUICK_CHARS])
        if prob >= PREVIOUS_MIN_SCORE:
            return lang, prob
    return langid.predict(text[:1000])


@contextlib.contextmanager
def characters_read():
    """Within the block, langid.predict adds the length of every sample fastText reads to the
    yielded counter: a cost that does not drift with the machine. identify looks `predict`
    up at each call, so its reads are counted too. The real predict is back afterwards."""
    read, predict = [0], langid.predict

    def counting(sample: str) -> tuple[str, float]:
        read[0] += len(sample)
        return predict(sample)
    langid.predict = counting
    try:
        yield read
    finally:
        langid.predict = predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the shared data folder (default: repo_root/../shared/data)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else DEFAULT_DATA
    if not data.is_dir():
        sys.exit(f"langid_bench: no shared data at {data}; pass --data DIR")
    langid.load_model()
    contenders = {f"first {n}": (lambda text, n=n: langid.predict(text[:n])) for n in (200, 500, 1000)}
    contenders["identify"] = lambda text: langid.identify(text, 1000)
    contenders["first 200, then 1000"] = opening_look_first
    print(f"data: {data}; reference: the first {REFERENCE_CHARS:,} characters; identify = first look at "
          f"{langid.QUICK_CHARS} characters of the longest line, kept when >= {langid.QUICK_MIN_SCORE}")
    print("| data | texts | method | top language differs | decision differs | differs from first 1000 "
          "| characters read per text | CPU ms per text |")
    print("|---|---|---|---|---|---|---|---|")
    with characters_read() as read:
        for name, load in (("gold-extracted", gold_extracted), ("DCLM", dclm), ("OSCAR", oscar), ("CC pages", cc_pages)):
            texts = load(data)
            reference = [decision(*langid.predict(text[:REFERENCE_CHARS])) for text in texts]
            decisions = {}
            for method, identify in contenders.items():
                read[0] = 0
                started = time.process_time()
                got = [decision(*identify(text)) for text in texts]
                ms = 1000 * (time.process_time() - started) / len(texts)
                labels = sum(a[0] != b[0] for a, b in zip(got, reference))
                keeps = sum(a[1] != b[1] for a, b in zip(got, reference))
                decisions[method] = got
                from_1000 = sum(a[1] != b[1] for a, b in zip(got, decisions["first 1000"])) if "first 1000" in decisions else ""
                print(f"| {name} | {len(texts)} | {method} | {labels} | {keeps} | {from_1000} "
                      f"| {read[0] / len(texts):.0f} | {ms:.3f} |")


if __name__ == "__main__":
    main()
