"""Near-duplicates of short documents: planted 1%-edit pairs by length, old rule against new.

Data: the real documents of ../shared/data (`corpus_pipeline.planted.load_pool`: WebText
snippets, dolma CC, CCNet head, DCLM pages, Gutenberg passages, Wikipedia, WikiText), in
their seeded order, up to --per-bin per length bin (words as dedup splits them), so that
short documents are as well represented as long ones. Each gets one planted variant with
max(1, round(1% of its words)) words dropped or replaced by a pool word (50/50,
`planted.edit_words`, draws from a hash of the document id).

Rules, both by `dedup.near_duplicate_keepers` (the Spark stage's rule without Spark; the
tests check that they agree), on the same corpus in the same run:
- old: DedupConfig(adapt_ngram=False): 5-word shingles for every text;
- new: DedupConfig(): shingle size adapted to length (docs/dedup.md).

Printed, per rule:
- recall: planted pairs whose two documents end in one cluster (one of them removed),
  overall and per length bin of the original;
- pairs losing both: planted pairs neither of whose documents is kept (both removed as
  near-duplicates of a third document), and of those the pairs whose keeper differs from
  the original by more than --max-edit-share (their text is lost);
- false removals: the rule run on the whole pool of real documents alone (about 13,100, no
  planted variants); a removed document whose word sequence differs from its keeper's by more than --max-edit-share
  (1 - difflib ratio over the words) is a removal without a near-duplicate. The removals
  the new rule adds are listed.
- candidate pairs (distinct pairs sharing a bucket) per document: the LSH cost.

Usage: python bench/dedup_short.py [--per-bin 400] [--max-edit-share 0.2] [--data DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import time
from pathlib import Path

from corpus_pipeline import dedup
from corpus_pipeline.config import DedupConfig
from corpus_pipeline.planted import DEFAULT_DATA, edit_words, load_pool, rng_for, vocabulary

# Length bins in words: the edges are where the new rule's shingle size changes (at J 0.8).
BINS = [(1, 8), (9, 18), (19, 28), (29, 38), (39, 48), (49, 61), (62, 99), (100, 299), (300, None)]
EDIT_SHARE = 0.01


def bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi}" if hi else f"{lo}+"


def bin_of(words: int) -> int:
    return next(i for i, (lo, hi) in enumerate(BINS) if lo <= words and (hi is None or words <= hi))


def pick_by_length(pool: list, per_bin: int) -> list:
    """The first `per_bin` documents of each length bin, in the pool's seeded order."""
    taken = [[] for _ in BINS]
    for doc in pool:
        words = dedup.word_count(doc.text)
        if words and len(taken[bin_of(words)]) < per_bin:
            taken[bin_of(words)].append(doc)
    return [doc for docs in taken for doc in docs]


def planted_edit(doc, vocab: list[str]) -> str:
    """The document with max(1, round(1% of its words)) words dropped or replaced."""
    edits = max(1, round(EDIT_SHARE * len(doc.text.split())))
    return edit_words(doc.text, edits, rng_for(f"short-edit:{doc.id}"), vocab)


def candidate_count(texts: list[str], cfg) -> int:
    """Distinct pairs that share a (shingle size, band, key) bucket, as the rule finds them."""
    buckets = [[(n, band, key) for n, _, keys in signed for band, key in enumerate(keys)]
               for signed in map(dedup.signer(cfg), texts)]
    return len({tuple(sorted(p)) for p in dedup.candidate_pairs(buckets, list(range(len(texts))), cfg.max_bucket)})


def word_edit_share(a: str, b: str) -> float:
    return 1.0 - difflib.SequenceMatcher(None, a.lower().split(), b.lower().split(), autojunk=False).ratio()


def planted_outcomes(originals: list, variants: list[str], cfg, max_edit_share: float):
    """(per pair whether it is found, pairs losing both documents, of those the pairs whose
    keeper is no near-duplicate of the original, candidate pairs per document)."""
    texts = [d.text for d in originals] + variants
    keepers = dedup.near_duplicate_keepers(texts, cfg)
    n = len(originals)
    found = [keepers[i] == keepers[n + i] for i in range(n)]
    both_lost = [i for i in range(n) if keepers[i] != i and keepers[n + i] != n + i]
    text_lost = [i for i in both_lost if word_edit_share(texts[i], texts[keepers[i]]) > max_edit_share]
    return found, len(both_lost), len(text_lost), candidate_count(texts, cfg) / len(texts)


def real_removals(originals: list, cfg) -> list[tuple[int, int]]:
    """(removed, keeper) indexes when the rule runs on the real documents alone."""
    keepers = dedup.near_duplicate_keepers([d.text for d in originals], cfg)
    return [(i, k) for i, k in enumerate(keepers) if k != i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-bin", type=int, default=400)
    parser.add_argument("--max-edit-share", type=float, default=0.2)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    started = time.perf_counter()
    pool = load_pool(args.data)
    originals = pick_by_length(pool, args.per_bin)
    vocab = vocabulary(pool)
    variants = [planted_edit(d, vocab) for d in originals]
    bins = [bin_of(dedup.word_count(d.text)) for d in originals]
    rules = {"old (5-gram)": DedupConfig(adapt_ngram=False), "new (adapted)": DedupConfig()}
    print("Near-duplicates of short documents: planted 1%-edit pairs (at least one word) by length")
    print(f"data: {len(originals):,} real documents from {args.data}, up to {args.per_bin} per length bin, "
          f"one planted variant each; threshold J >= {DedupConfig().jaccard_threshold}, "
          f"{DedupConfig().bands} bands x {DedupConfig().rows} rows")
    outcomes = {name: planted_outcomes(originals, variants, cfg, args.max_edit_share) for name, cfg in rules.items()}
    removals = {name: real_removals(pool, cfg) for name, cfg in rules.items()}

    print(f"\n{'words':<9} {'pairs':>6} " + " ".join(f"{name:>14}" for name in rules))
    for b, (lo, hi) in enumerate(BINS):
        members = [i for i, x in enumerate(bins) if x == b]
        if members:
            print(f"{bin_label(lo, hi):<9} {len(members):>6} " + " ".join(
                f"{sum(outcomes[name][0][i] for i in members) / len(members):>14.3f}" for name in rules))
    print(f"{'all':<9} {len(originals):>6} " + " ".join(
        f"{sum(outcomes[name][0]) / len(originals):>14.3f}" for name in rules))
    print(f"{'all >= 9':<9} {sum(b > 0 for b in bins):>6} " + " ".join(
        f"{sum(f for f, b in zip(outcomes[name][0], bins) if b > 0) / sum(b > 0 for b in bins):>14.3f}"
        for name in rules))
    print()
    for name in rules:
        found, both_lost, text_lost, per_doc = outcomes[name]
        removed = removals[name]
        false = [(i, k) for i, k in removed if word_edit_share(pool[i].text, pool[k].text) > args.max_edit_share]
        print(f"{name}: recall {sum(found) / len(found):.3f}; pairs losing both {both_lost} "
              f"(with no near-duplicate kept: {text_lost}); "
              f"candidate pairs per document {per_doc:.3f}; the {len(pool):,} real documents alone: removed {len(removed)}, "
              f"false removals (word edit share > {args.max_edit_share}) {len(false)}")
    old, new = (set(removals[name]) for name in rules)
    for i, k in sorted(new - old):
        print(f"  new removal: {pool[i].id} ({dedup.word_count(pool[i].text)} words) as a near-duplicate of "
              f"{pool[k].id}, word edit share {word_edit_share(pool[i].text, pool[k].text):.3f}")
    print(f"\nseconds: {time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
