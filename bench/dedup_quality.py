"""Fuzzy-dedup precision and recall against exact Jaccard, on real text with planted near-duplicates.

Data: real documents from ../shared/data (the loaders of corpus_pipeline.planted): Common Crawl
text (dolma CC, cc_text/dolma_CC-MAIN-...jsonl.gz), WebText snippets and 1,500-char
Gutenberg book passages, each with at least --min-words words; --docs of them (default
1,000: a third per source, or what a source has), picked in blake2b("<seed>:<id>") order.
For the first --variants of them (default 500) a planted near-duplicate is made whose exact
shingle Jaccard with its original falls in a target bin: variant i aims at a J drawn
uniformly from bin i mod 5 of [0.5,0.6), [0.6,0.7), [0.7,0.8), [0.8,0.9), [0.9,1.0], by
dropping words or replacing them with pool-vocabulary words (50/50) along a random order of
positions; the number of edits is binary-searched until J lands in the bin (up to 40 random
orders; an original that cannot be placed is skipped). The achieved J is recorded.

Ground truth: every pair of the corpus (originals and variants, all pairs, exact, by a
sparse shingle-incidence product) whose shingle Jaccard is >= cfg.jaccard_threshold
(DedupConfig() defaults: 0.8), at the shingle size the rule compares the pair at (the
largest of dedup.shingle_sizes both texts have: 5 words for texts of 62 words or more,
shorter for shorter texts, see `exact_pair_jaccard`). Variants are planted in 5-gram bins.

Systems, each giving a set of document pairs:
- bands raw:        candidates of spark.dedup.banded_candidates on the signatures of
                    signed_documents (10 MinHash, 5 bands x 2 rows), before verification;
- bands:            spark.dedup.banded_edges(graph_nodes(df, None), cfg): verified pairs;
- spark_minhashlsh: spark.dedup.minhashlsh_edges (Spark ML MinHashLSH, 10 OR-ed tables,
                    approxSimilarityJoin at distance < 1 - threshold). It hashes unigram
                    HashingTF features, not word n-gram shingles; it is scored against the same
                    ground truth anyway (the question is what GPT-3's recipe removes),
                    and also against its own target, exact unigram-token Jaccard > threshold
                    (tokens as Spark's Tokenizer makes them; HashingTF collisions ignored);
- datasketch raw:   datasketch MinHashLSH(threshold, num_perm=10) over MinHash(num_perm=10)
                    of the same shingles (4-byte little-endian), every document queried;
- datasketch:       those pairs verified on exact shingle Jaccard >= threshold.

Printed: pairs found, precision and recall per system; by exact-J bin (all pairs of the bin,
planted or natural), the share each system finds next to the S-curve 1 - (1 - J^r)^b at the
bin mid-point and averaged over the bin's pairs, with the binomial standard error of the
measured share; and the S-curve at J = 0.1..1.0 for 5x2 (configured), 10x1, 2x5, 1x10.

Usage: python bench/dedup_quality.py [--docs 1000] [--variants 500] [--data DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from corpus_pipeline import dedup
from corpus_pipeline.config import DedupConfig
from corpus_pipeline.planted import DEFAULT_DATA, load_pool, rng_for, seeded_order, vocabulary

SOURCES = ("dolma_cc", "webtext", "books")
BINS = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0)]
MAX_ATTEMPTS = 40
JAVA_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]")  # Spark Tokenizer splits on Java's \s


# ---------------------------------------------------------------- corpus

def pick_originals(data: Path, total: int, min_words: int) -> list:
    """Up to total/3 documents per source in hash order, topped up from the others."""
    pool = [d for d in load_pool(data, SOURCES) if len(d.text.split()) >= min_words]
    per_source = {s: [d for d in pool if d.source == s] for s in SOURCES}
    chosen = []
    for s in SOURCES:
        chosen += per_source[s][:total // len(SOURCES)]
    taken = {d.id for d in chosen}
    chosen += [d for d in pool if d.id not in taken][:total - len(chosen)]
    return sorted(chosen, key=lambda d: seeded_order(d.id)), pool


def edit_plan(text: str, rng, vocab: list[str]):
    """A random order of word positions and, for each, a drop ("") or a replacement word."""
    lines = [line.split(" ") for line in text.split("\n")]
    positions = [(i, j) for i, line in enumerate(lines) for j in range(len(line))]
    order = rng.permutation(len(positions))
    ops = ["" if rng.random() < 0.5 else vocab[rng.integers(len(vocab))] for _ in order]
    return lines, [positions[k] for k in order], ops


def apply_edits(lines, positions, ops, k: int) -> str:
    edited = [list(line) for line in lines]
    for (i, j), op in zip(positions[:k], ops[:k]):
        edited[i][j] = op
    return "\n".join(" ".join(w for w in line if w) for line in edited)


def variant_in_bin(text: str, lo: float, hi: float, target: float, rng, vocab, ngram: int):
    """(variant text, achieved J) with lo <= J < hi (J <= 1 in the top bin), or None."""
    base = dedup.shingles(text, ngram)
    top = hi >= 1.0
    inside = (lambda j: lo <= j <= hi) if top else (lambda j: lo <= j < hi)
    for _ in range(MAX_ATTEMPTS):
        lines, positions, ops = edit_plan(text, rng, vocab)
        cache = {}

        def j_of(k):
            if k not in cache:
                edited = apply_edits(lines, positions, ops, k)
                cache[k] = (dedup.jaccard(base, dedup.shingles(edited, ngram)), edited)
            return cache[k]

        low, high = 1, len(positions)  # largest k with J(k) >= target, J roughly decreasing in k
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if j_of(mid)[0] >= target else (low, mid - 1)
        hits = [j_of(k) for k in (low - 1, low, low + 1) if 1 <= k <= len(positions) and inside(j_of(k)[0])]
        if hits:
            j, edited = min(hits, key=lambda hit: abs(hit[0] - target))
            return edited, j
    return None


def plant_variants(originals: list, count: int, vocab, ngram: int) -> tuple[list[dict], int]:
    rows, skipped = [], 0
    for i, doc in enumerate(originals):
        if len(rows) == count:
            break
        lo, hi = BINS[len(rows) % len(BINS)]
        rng = rng_for(f"variant:{doc.id}")
        made = variant_in_bin(doc.text, lo, hi, rng.uniform(lo, hi), rng, vocab, ngram)
        if made is None:
            skipped += 1
            continue
        rows.append(dict(id=f"v-{doc.id}", text=made[0], source=doc.source, original=doc.id, planted_j=made[1]))
    return rows, skipped


# ---------------------------------------------------------------- exact all-pairs Jaccard

def all_pair_jaccard(ids: list[str], token_sets: list[list], min_j: float) -> dict:
    """{(a, b): J} for every pair (a < b) with J >= min_j, exact, via a sparse incidence product."""
    vocab_index, cols, indptr = {}, [], [0]
    for tokens in token_sets:
        cols.extend(vocab_index.setdefault(t, len(vocab_index)) for t in set(tokens))
        indptr.append(len(cols))
    m = sparse.csr_matrix((np.ones(len(cols), dtype=np.int32), cols, indptr), shape=(len(ids), len(vocab_index)))
    sizes = np.diff(m.indptr)
    inter = sparse.triu(m @ m.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= min_j
    out = {}
    for r, c, j in zip(inter.row[keep], inter.col[keep], jac[keep]):
        a, b = sorted((ids[r], ids[c]))
        out[(a, b)] = float(j)
    return out


def exact_pair_jaccard(ids: list[str], texts: list[str], cfg, min_j: float) -> dict:
    """{(a, b): J} for every pair with J >= min_j at the shingle size the rule compares it at:
    the largest size both texts are signed at (dedup.pair_jaccard), exact."""
    sizes = {i: set(dedup.shingle_sizes(dedup.word_count(t), cfg)) for i, t in zip(ids, texts)}
    found: dict = {}
    for n in sorted({n for s in sizes.values() for n in s}):
        members = [(i, t) for i, t in zip(ids, texts) if n in sizes[i]]
        pairs = all_pair_jaccard([i for i, _ in members], [dedup.shingles(t, n) for _, t in members], min_j)
        found.update({pair: j for pair, j in pairs.items() if max(sizes[pair[0]] & sizes[pair[1]]) == n})
    return found


def spark_tokens(text: str) -> list[str]:
    return JAVA_WHITESPACE.split(text.lower())


# ---------------------------------------------------------------- systems

def node_pairs(rows) -> set:
    """Pairs of node keys "t:<id>" -> sorted pairs of ids."""
    return {tuple(sorted((r["a"][2:], r["b"][2:]))) for r in rows}


def ours_bands(spark_dedup, nodes, cfg) -> tuple[set, set, dict, list]:
    verified_df, counts = spark_dedup.banded_edges(nodes, cfg)
    verified_rows = verified_df.collect()
    signed = spark_dedup.signed_documents(nodes, cfg)
    candidates = spark_dedup.not_both_references(spark_dedup.banded_candidates(signed, cfg)).collect()
    return node_pairs(candidates), node_pairs(verified_rows), counts, verified_rows


def ours_minhashlsh(spark_dedup, nodes, cfg) -> tuple[set, dict]:
    edges, counts = spark_dedup.minhashlsh_edges(nodes, cfg)
    return node_pairs(edges.collect()), counts


def datasketch_pairs(ids: list[str], shingle_sets: list[list[int]], threshold: float, num_perm: int):
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes = []
    for doc_id, sh in zip(ids, shingle_sets):
        mh = MinHash(num_perm=num_perm)
        mh.update_batch([s.to_bytes(4, "little") for s in sh])
        lsh.insert(doc_id, mh)
        hashes.append(mh)
    pairs = set()
    for doc_id, mh in zip(ids, hashes):
        pairs.update(tuple(sorted((doc_id, other))) for other in lsh.query(mh) if other != doc_id)
    return pairs, (lsh.b, lsh.r)


# ---------------------------------------------------------------- report

def scores(found: set, truth: set) -> str:
    hit = len(found & truth)
    precision = hit / len(found) if found else float("nan")
    recall = hit / len(truth) if truth else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    return f"{len(found):>9,} {hit:>7,} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f}"


def bin_of(j: float) -> int | None:
    for i, (lo, hi) in enumerate(BINS):
        if lo <= j < hi or (hi >= 1.0 and lo <= j <= 1.0):
            return i
    return None


def share(found: set, pairs: list) -> str:
    if not pairs:
        return f"{'-':>12}"
    p = sum(pair in found for pair in pairs) / len(pairs)
    return f"{p:>6.3f}±{math.sqrt(p * (1 - p) / len(pairs)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--min-words", type=int, default=30)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    cfg = DedupConfig()
    thr = cfg.jaccard_threshold
    t0 = time.perf_counter()
    originals, pool = pick_originals(args.data, args.docs, args.min_words)
    vocab = vocabulary(pool)
    variants, skipped = plant_variants(originals, args.variants, vocab, cfg.ngram)
    rows = [dict(id=d.id, text=d.text, source=d.source, original=None, planted_j=None) for d in originals] + variants
    ids = [r["id"] for r in rows]
    shingle_sets = [dedup.shingles(r["text"], cfg.ngram) for r in rows]
    exact = exact_pair_jaccard(ids, [r["text"] for r in rows], cfg, min_j=0.5)
    truth = {pair for pair, j in exact.items() if j >= thr}
    unigram = all_pair_jaccard(ids, [spark_tokens(r["text"]) for r in rows], min_j=thr)
    unigram_truth = {pair for pair, j in unigram.items() if j > thr}
    planted = {tuple(sorted((r["id"], r["original"]))) for r in variants}
    build_s = time.perf_counter() - t0

    by_source = {}
    for d in originals:
        by_source[d.source] = by_source.get(d.source, 0) + 1
    print("Fuzzy-dedup quality vs exact Jaccard (real documents + planted near-duplicates)")
    print(f"config: DedupConfig(): {cfg.num_hashes} hashes = {cfg.bands} bands x {cfg.rows} rows, {cfg.ngram}-gram "
          f"shingles (shorter for short texts: adapt_ngram {cfg.adapt_ngram}), threshold J >= {thr}, "
          f"max_bucket {cfg.max_bucket}, seed {cfg.seed}")
    print(f"corpus: {len(originals):,} real documents with >= {args.min_words} words from {args.data} ("
          + ", ".join(f"{k} {v:,}" for k, v in by_source.items())
          + f") + {len(variants):,} planted variants ({skipped} originals skipped: no edit count put J in the bin)"
          f" = {len(rows):,} documents, {len(rows) * (len(rows) - 1) // 2:,} pairs; built in {build_s:.0f} s")
    for i, (lo, hi) in enumerate(BINS):
        js = [r["planted_j"] for r in variants if bin_of(r["planted_j"]) == i]
        if js:
            print(f"  planted in [{lo:.1f},{hi:.1f}{']' if hi >= 1 else ')'}: {len(js):>4} variants, achieved J "
                  f"min {min(js):.3f} mean {sum(js) / len(js):.3f} max {max(js):.3f}")
    natural = {p for p in exact if p not in planted}
    print(f"ground truth: {len(truth):,} pairs with J >= {thr} at the rule's shingle size ({len(truth & planted):,} planted, "
          f"{len(truth - planted):,} natural pairs between real documents or variants of them); "
          f"pairs with J >= 0.5: {len(exact):,} ({len(natural):,} natural)")
    print(f"unigram-token ground truth (spark_minhashlsh's own target, J > {thr}): {len(unigram_truth):,} pairs")

    from corpus_pipeline.spark import dedup as spark_dedup

    from corpus_pipeline.spark.session import local_session

    spark = local_session("dedup-quality")
    df = spark.createDataFrame([(r["id"], r["text"]) for r in rows], "id string, text string").cache()
    nodes = spark_dedup.graph_nodes(df, None).cache()
    t1 = time.perf_counter()
    bands_raw, bands, bands_counts, verified_rows = ours_bands(spark_dedup, nodes, cfg)
    t2 = time.perf_counter()
    lsh_cfg = dataclasses.replace(cfg, mode="spark_minhashlsh")
    mhl, mhl_counts = ours_minhashlsh(spark_dedup, nodes, lsh_cfg)
    t3 = time.perf_counter()
    ds_raw, (ds_b, ds_r) = datasketch_pairs(ids, shingle_sets, thr, cfg.num_hashes)
    ds = {p for p in ds_raw if exact.get(p, 0.0) >= thr}
    t4 = time.perf_counter()
    spark.stop()

    spark_j_err = max((abs(r["jaccard"] - exact.get(tuple(sorted((r["a"][2:], r["b"][2:]))), -1.0))
                       for r in verified_rows), default=0.0)
    print(f"checks: banded_edges reports {bands_counts['candidate_pairs']:,} candidate pairs, recomputed "
          f"{len(bands_raw):,}; largest |Spark jaccard - exact J| over verified pairs {spark_j_err:.2e}; "
          f"minhashlsh_edges reports {mhl_counts['candidate_pairs']:,} bucket pairs (sum over tables); "
          f"datasketch chose b={ds_b} x r={ds_r} for threshold {thr} with num_perm={cfg.num_hashes}")
    print(f"seconds: bands {t2 - t1:.1f} (verified + recomputed candidates), spark_minhashlsh {t3 - t2:.1f}, "
          f"datasketch {t4 - t3:.1f}")
    print()
    print(f"against the ground truth (J >= {thr} at the rule's shingle size, {len(truth):,} pairs):")
    print(f"{'system':<36} {'pairs':>9} {'hits':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
    systems = [("bands raw (candidates)", bands_raw), ("bands (verified)", bands),
               ("spark_minhashlsh (unigram J > thr)", mhl), (f"datasketch raw ({ds_b}x{ds_r})", ds_raw),
               ("datasketch verified", ds)]
    for name, found in systems:
        print(f"{name:<36} {scores(found, truth)}")
    print(f"{'spark_minhashlsh vs unigram truth':<36} {scores(mhl, unigram_truth)}")
    print()
    print("share of the pairs in each exact J bin that a system returns (recall for bins >= threshold; "
          "below it, the rate of near-miss pairs returned), ± binomial standard error:")
    print(f"{'bin':<10} {'pairs':>6} {'planted':>7} {'S5x2 mid':>8} {'S5x2 avg':>8} {'bands raw':>12} "
          f"{'bands':>12} {f'S{ds_b}x{ds_r} avg':>9} {'ds raw':>12} {'ds verif':>12} {'minhashlsh':>12}")
    for i, (lo, hi) in enumerate(BINS):
        pairs = [p for p, j in exact.items() if bin_of(j) == i]
        mid = (lo + hi) / 2
        avg = np.mean([dedup.candidate_probability(exact[p], cfg.bands, cfg.rows) for p in pairs]) if pairs else 0
        ds_avg = np.mean([dedup.candidate_probability(exact[p], ds_b, ds_r) for p in pairs]) if pairs else 0
        print(f"{lo:.1f}-{hi:.1f}    {len(pairs):>6} {sum(p in planted for p in pairs):>7} "
              f"{dedup.candidate_probability(mid, cfg.bands, cfg.rows):>8.3f} {avg:>8.3f} {share(bands_raw, pairs)} "
              f"{share(bands, pairs)} {ds_avg:>9.3f} {share(ds_raw, pairs)} {share(ds, pairs)} {share(mhl, pairs)}")
    print()
    configs = [(cfg.bands, cfg.rows), (10, 1), (2, 5), (1, 10)]
    if (ds_b, ds_r) not in configs:
        configs.append((ds_b, ds_r))
    print("S-curve P(candidate) = 1 - (1 - J^rows)^bands for 10 hashes (first column: configured):")
    print(f"{'J':>4} " + " ".join(f"{f'{b}x{r}':>7}" for b, r in configs))
    for step in range(1, 11):
        j = step / 10
        print(f"{j:>4.1f} " + " ".join(f"{dedup.candidate_probability(j, b, r):>7.3f}" for b, r in configs))


if __name__ == "__main__":
    main()
