"""Fuzzy-dedup primitives without Spark: shingles, 10-hash MinHash, LSH bands, Jaccard.

Consumes document texts; produces shingle sets, MinHash signatures and band keys that
`spark/dedup.py` groups into candidate pairs. GPT-3 Appendix A deduplicated "using Spark's
MinHashLSH implementation with 10 hashes"; we keep 10 MinHash functions but hash word
n-gram shingles and band them (bands x rows = 10), which keeps candidate pairs near
linear in the corpus (see docs/dedup.md).

A pair becomes a candidate with probability 1 - (1 - J^rows)^bands, J its Jaccard
similarity (the S-curve); every candidate is then verified on its exact Jaccard.

Short documents get shorter shingles (`shingle_size`): with n-word shingles, replacing one
word of a text of S shingles changes n of them, J = (S - n) / (S + n), so a fixed n makes a
one-word edit of a short text look like a distinct text (5-grams: J < 0.8 under 49 words).
A text of W words uses the largest n <= cfg.ngram for which one replaced word keeps
J >= cfg.jaccard_threshold (0.8: n = 5 from 49 words, 4 from 39, 3 from 29, 2 from 19,
else 1). A near-duplicate of it may be up to about that Jaccard shorter, so a text is also
signed at the sizes down to that of its threshold x W words (`shingle_sizes`; at most two
sizes at 0.8, one from 62 words up), and a pair is compared at the largest size both are
signed at, which is the size of the shorter one.
`near_duplicate_keepers` runs the Spark stage's whole rule (candidates, verification,
clusters, keepers) on a list held in memory, for benchmarks and tests.
"""
from __future__ import annotations

import math
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


def word_count(text: str | None) -> int:
    """Words as `shingles` splits them."""
    return len((text or "").split())  # lower-casing, as `shingles` does, changes no whitespace


def shingle_size(words: int, cfg) -> int:
    """The largest n <= cfg.ngram for which one replaced word in a text of `words` words
    keeps the shingle Jaccard (S - n) / (S + n), S = words - n + 1, at or above
    cfg.jaccard_threshold; 1 if none does; cfg.ngram when cfg.adapt_ngram is off."""
    if not cfg.adapt_ngram:
        return cfg.ngram
    for n in range(cfg.ngram, 1, -1):
        shingle_count = words - n + 1
        # the tolerance keeps 0.8 * 45 + ... from missing the exact boundary by a rounding error
        if shingle_count > 0 and shingle_count - n >= cfg.jaccard_threshold * (shingle_count + n) - 1e-9:
            return n
    return 1


def shingle_sizes(words: int, cfg) -> range:
    """The shingle sizes a text of `words` words is signed at: its own, and those of the
    shorter texts that could still reach the threshold with it (down to threshold x words)."""
    return range(shingle_size(math.floor(cfg.jaccard_threshold * words), cfg), shingle_size(words, cfg) + 1)


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
    """text -> [(shingle size, its shingles, its band keys)] for each of `shingle_sizes`
    under a DedupConfig's settings; [] for a text without words. `near_duplicate_keepers`
    signs texts with it; the Spark job signs batches with `sign_batch`, which gives the same
    values."""
    a, b = permutations(cfg.num_hashes, cfg.seed)

    def sign(text: str | None) -> list[tuple[int, list[int], list[int]]]:
        words = word_count(text)
        signed = []
        for n in shingle_sizes(words, cfg) if words else ():
            ids = shingles(text or "", n)
            signed.append((n, ids, band_keys(minhash(ids, a, b), cfg.bands, cfg.rows)))
        return signed

    return sign


def minhash_rows(shingle_arrays: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`minhash` of each non-empty array, one row each, in one pass over their concatenation."""
    x = np.concatenate(shingle_arrays).astype(np.uint64)
    starts = np.cumsum([0] + [len(s) for s in shingle_arrays[:-1]])
    with np.errstate(over="ignore"):
        values = (x[:, None] * a + b) % np.uint64(MERSENNE_61)
    return np.minimum.reduceat(values, starts, axis=0)


def sign_batch(texts: list, cfg, chunk: int = 500) -> list[tuple[int, int, np.ndarray, list[int]]]:
    """(text index, shingle size, shingle array, band keys) of each signature `signer` gives
    each text, in text order (none for a text without words); the MinHash is vectorised over
    `chunk` signatures at a time."""
    a, b = permutations(cfg.num_hashes, cfg.seed)
    todo = [(i, n, shingle_array(text, n)) for i, text in enumerate(texts) if (words := word_count(text))
            for n in shingle_sizes(words, cfg)]
    signed = []
    for lo in range(0, len(todo), chunk):
        part = todo[lo:lo + chunk]
        for (i, n, array), row in zip(part, minhash_rows([array for _, _, array in part], a, b)):
            signed.append((i, n, array, band_keys(row, cfg.bands, cfg.rows)))
    return signed


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a or b else 0.0


def pair_jaccard(sets_a: dict, sets_b: dict) -> float:
    """Jaccard of two texts' shingles at the largest shingle size both are signed at
    ({size: shingles} each); 0 when they share none (their lengths are too far apart)."""
    shared = sets_a.keys() & sets_b.keys()
    return jaccard(sets_a[max(shared)], sets_b[max(shared)]) if shared else 0.0


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The S-curve: chance that a pair of this Jaccard similarity shares at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def candidate_pairs(buckets_of: list, ids: list, max_bucket: int):
    """Pairs of indexes sharing a bucket (here a (shingle size, band, band key)), as
    `spark/dedup.banded_candidates` finds them: a bucket of over `max_bucket` members links
    each to its smallest id (a star), so that no bucket costs more than linear. A pair may
    come more than once."""
    buckets: dict = {}
    for i, keys in enumerate(buckets_of):
        for bucket in keys:
            buckets.setdefault(bucket, []).append(i)
    for members in buckets.values():
        if len(members) <= max_bucket:
            yield from combinations(members, 2)
        else:
            hub = min(members, key=ids.__getitem__)
            yield from ((hub, other) for other in members if other != hub)


def near_duplicate_keepers(texts: list[str], cfg, scores: list | None = None, ids: list | None = None) -> list:
    """Per text, the id of the text its near-duplicate cluster keeps, by the rule of
    `spark/dedup.py` (mode bands, no references) without Spark: candidates from shared band
    keys at one shingle size, verified at shingle Jaccard >= cfg.jaccard_threshold at the
    largest shingle size both texts are signed at (`pair_jaccard`); clusters are the connected
    components of the verified pairs; each keeps its highest score (None last), then its
    smallest id. `ids` default to the indexes; a text keeps itself when it is no one's
    duplicate."""
    ids = list(range(len(texts))) if ids is None else list(ids)
    signed = list(map(signer(cfg), texts))
    sets = [{n: ids_ for n, ids_, _ in sigs} for sigs in signed]
    buckets = [[(n, band, key) for n, _, keys in sigs for band, key in enumerate(keys)] for sigs in signed]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = i = parent[parent[i]]
        return i

    for i, j in candidate_pairs(buckets, ids, cfg.max_bucket):
        a, b = root(i), root(j)  # a pair already in one cluster needs no Jaccard: it changes nothing
        if a != b and pair_jaccard(sets[i], sets[j]) >= cfg.jaccard_threshold:
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
