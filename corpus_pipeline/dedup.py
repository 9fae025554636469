"""Fuzzy-dedup primitives without Spark: shingles, 10-hash MinHash, LSH bands, Jaccard.

Consumes document texts; produces shingle sets, MinHash signatures and band keys that
`spark/dedup.py` groups into candidate pairs. GPT-3 Appendix A deduplicated "using Spark's
MinHashLSH implementation with 10 hashes"; we keep 10 MinHash functions but hash word
n-gram shingles and band them (bands x rows = 10), which keeps candidate pairs near
linear in the corpus (see docs/dedup.md).

A pair becomes a candidate with probability 1 - (1 - J^rows)^bands, J its Jaccard
similarity (the S-curve); every candidate is then verified on its exact Jaccard.
`near_duplicate_keepers` runs the Spark stage's whole rule (candidates, verification,
clusters, keepers) on a list held in memory, for benchmarks and tests.
"""
from __future__ import annotations

from itertools import accumulate, combinations, repeat

import mmh3
import numpy as np

MERSENNE_61 = (1 << 61) - 1


def shingles(text: str, ngram: int) -> list[int]:
    """Sorted distinct 32-bit hashes of the lower-cased word n-grams of a text.

    A text shorter than n words is one shingle (so exact copies of short texts still
    match); a text without words has none and cannot be deduplicated.
    """
    return shingle_array(text, ngram).tolist()


def shingle_array(text: str, ngram: int) -> np.ndarray:
    """`shingles` as a sorted uint32 array: each n-gram is hashed as a slice of the text's
    words joined by single spaces (the bytes of " ".join(n words)), which saves building
    every n-gram as a string."""
    words = text.lower().split()
    if not words:
        return np.empty(0, np.uint32)
    joined = " ".join(words)
    data = joined.encode("utf-8")
    sizes = map(len, words) if len(data) == len(joined) else (len(w.encode("utf-8")) for w in words)
    starts = [0, *accumulate(size + 1 for size in sizes)]  # word k is data[starts[k]:starts[k + 1] - 1]
    ends = starts[ngram:] if len(words) >= ngram else starts[-1:]
    grams = [data[start:end - 1] for start, end in zip(starts, ends)]
    hashes = np.fromiter(map(mmh3.mmh3_32_uintdigest, grams, repeat(0)), np.uint32, len(grams))
    hashes.sort()
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]


def permutations(num_hashes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the universal hashes (a*x + b) mod p, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return (rng.integers(1, MERSENNE_61, num_hashes, dtype=np.uint64),
            rng.integers(0, MERSENNE_61, num_hashes, dtype=np.uint64))


def minhash(shingle_ids: list[int], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One minimum per hash function; uint64 arithmetic wraps, identically everywhere."""
    x = np.asarray(shingle_ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return ((np.outer(a, x) + b[:, None]) % np.uint64(MERSENNE_61)).min(axis=1)


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """One 63-bit key per band: a hash of the band's rows (band index included)."""
    return [mmh3.hash64(signature[i * rows:(i + 1) * rows].tobytes(), i, signed=True)[0] & (2**63 - 1)
            for i in range(bands)]


def signer(cfg):
    """text -> (its shingles, its band keys) under a DedupConfig's settings; a text without
    words has neither. `near_duplicate_keepers` signs texts with it; the Spark job signs
    batches with `sign_batch`, which gives the same values."""
    a, b = permutations(cfg.num_hashes, cfg.seed)

    def sign(text: str | None) -> tuple[list[int], list[int]]:
        ids = shingles(text or "", cfg.ngram)
        return (ids, band_keys(minhash(ids, a, b), cfg.bands, cfg.rows)) if ids else ([], [])

    return sign


def minhash_rows(shingle_arrays: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`minhash` of each non-empty array, one row each, in one pass over their concatenation."""
    x = np.concatenate(shingle_arrays).astype(np.uint64)
    starts = np.cumsum([0] + [len(s) for s in shingle_arrays[:-1]])
    with np.errstate(over="ignore"):
        values = (x[:, None] * a + b) % np.uint64(MERSENNE_61)
    return np.minimum.reduceat(values, starts, axis=0)


def sign_batch(texts: list, cfg, chunk: int = 500) -> tuple[list[np.ndarray], list[list[int] | None]]:
    """(shingle array, band keys) of each text, as `signer` computes them (band keys None for
    a text without words); the MinHash is vectorised over `chunk` texts at a time."""
    a, b = permutations(cfg.num_hashes, cfg.seed)
    arrays = [shingle_array(text or "", cfg.ngram) for text in texts]
    keys: list[list[int] | None] = [None] * len(arrays)
    for lo in range(0, len(arrays), chunk):
        signed = [i for i in range(lo, min(lo + chunk, len(arrays))) if len(arrays[i])]
        if signed:
            for i, row in zip(signed, minhash_rows([arrays[i] for i in signed], a, b)):
                keys[i] = band_keys(row, cfg.bands, cfg.rows)
    return arrays, keys


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a or b else 0.0


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The S-curve: chance that a pair of this Jaccard similarity shares at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def candidate_pairs(band_keys_of: list[list[int]], ids: list, max_bucket: int):
    """Pairs of indexes sharing a band key, as `spark/dedup.banded_candidates` finds them: a
    bucket of over `max_bucket` members links each to its smallest id (a star), so that no
    bucket costs more than linear. A pair may come more than once."""
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, keys in enumerate(band_keys_of):
        for band, key in enumerate(keys):
            buckets.setdefault((band, key), []).append(i)
    for members in buckets.values():
        if len(members) <= max_bucket:
            yield from combinations(members, 2)
        else:
            hub = min(members, key=ids.__getitem__)
            yield from ((hub, other) for other in members if other != hub)


def near_duplicate_keepers(texts: list[str], cfg, scores: list | None = None, ids: list | None = None) -> list:
    """Per text, the id of the text its near-duplicate cluster keeps, by the rule of
    `spark/dedup.py` (mode bands, no references) without Spark: candidates from shared band
    keys, verified at shingle Jaccard >= cfg.jaccard_threshold; clusters are the connected
    components of the verified pairs; each keeps its highest score (None last), then its
    smallest id. `ids` default to the indexes; a text keeps itself when it is no one's
    duplicate."""
    ids = list(range(len(texts))) if ids is None else list(ids)
    signed = list(map(signer(cfg), texts))
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = i = parent[parent[i]]
        return i

    for i, j in candidate_pairs([keys for _, keys in signed], ids, cfg.max_bucket):
        a, b = root(i), root(j)  # a pair already in one cluster needs no Jaccard: it changes nothing
        if a != b and jaccard(signed[i][0], signed[j][0]) >= cfg.jaccard_threshold:
            parent[b] = a
    rank = [(score is None, -(score or 0.0), doc_id) for score, doc_id in zip(scores or [None] * len(ids), ids)]
    keeper: dict[int, int] = {}
    for i in range(len(texts)):
        cluster = root(i)
        if cluster not in keeper or rank[i] < rank[keeper[cluster]]:
            keeper[cluster] = i
    return [ids[keeper[root(i)]] for i in range(len(texts))]


def smallest_member(pairs) -> dict:
    """node -> the smallest node of its connected component, for every node of `pairs`
    (union-find, each root the smallest of its set)."""
    parent: dict = {}

    def root(x):
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        return x

    for a, b in pairs:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: root(node) for node in parent}


def describe_removed(report: dict) -> str:
    """What dedup removed, in words: 'none', or 'duplicate 3, duplicate_of_reference 1 (12.5%)'."""
    removed = ", ".join(f"{reason} {n:,}" for reason, n in sorted(report["removed"].items()) if n)
    return f"{removed} ({100 * report['removed_fraction']:.1f}%)" if removed else "none"


def format_summary(report: dict, seconds: float, output: str) -> str:
    """What jobs/dedup.py prints: the work done and what it removed."""
    removed = describe_removed(report)
    return "\n".join([
        f"corpus-pipeline dedup ({report['mode']}): {report['docs']:,} documents, "
        f"{report['references']:,} reference documents, in {seconds:.1f} s",
        f"  candidate pairs {report['candidate_pairs']:,} ({report['candidate_pairs_per_doc']} per document), "
        f"verified {report['verified_pairs']:,}",
        f"  kept {report['kept']:,}; removed {removed}",
        f"  output {output}"])
