"""Quality scores and Pareto resampling without Spark (GPT-3 Appendix A).

Consumes document texts and ids; produces `quality_score` (the logistic-regression
probability that a text is curated, not raw Common Crawl), the uniform draw `u`, and the
keep decision.

- Features are exactly Spark ML's: `Tokenizer` (Java `toLowerCase().split("\\s")`, so
  runs of whitespace give empty tokens), with `ngram=2` also `NGram(n=2)` (each pair of
  adjacent tokens joined by a space) concatenated after the words, and `HashingTF`
  (MurmurHash3 x86_32, seed 42, on the UTF-8 bytes of each term, modulo `numFeatures`; raw
  term counts), then by default `Normalizer(p=2)`; the margin is Spark's sparse dot product, summed in feature order.
  `QualityModel.margin_of_lowered` is therefore bit for bit the Spark model's margin when
  given the text as Java lower-cases it; the tag stage takes Java's lower case and Java's
  `Math.exp` from the JVM, so its scores equal Spark ML's exactly
  (tests/test_quality_spark.py). Without Spark, `score(text)` lower-cases in Python and
  uses C's exp: equal to Spark's except on a text whose lower case differs (a capital
  sigma next to a digit or symbol, a letter of a newer Unicode version) and, for about 1
  score in 10,000, in the last bit.
- GPT-3 keeps a document when `np.random.pareto(alpha) > 1 - score`. Since
  P(pareto(alpha) > 1 - s) = (2 - s)^-alpha, we keep when `u < (2 - s)^-alpha`, where `u` is
  a hash of (seed, document id): the same rule, but identical under any partitioning,
  retry or speculative execution.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import mmh3
import numpy as np

from . import hashing

_WORD = re.compile(r"\S+")
HASHING_TF_SEED = 42  # org.apache.spark.ml.feature.HashingTF.seed
_JAVA_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]")  # Java regex \s is ASCII-only
_JAVA_WHITESPACE_BYTES = b" \t\n\x0b\f\r"  # the same characters; bytes.split() splits on exactly these
_JAVA_WHITESPACE_BYTES_RE = re.compile(rb"[ \t\n\x0b\f\r]")
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
# Spark ML's BLAS sums dot products in as many lanes as the JVM's vectors hold, so the
# trained weights' last bits depend on the CPU (AVX-512, AVX2); 128 bits, which every x86-64
# and ARM64 CPU has, gives one model everywhere (docs/quality.md).
REPRODUCIBLE_JAVA_OPTIONS = "-XX:MaxVectorSize=16"


def spark_tokens(text: str) -> list[str]:
    """Spark ML Tokenizer: lower-case, split on each single whitespace character.

    Java's String.split keeps empty tokens between separators but drops trailing ones
    (all of them, for an all-whitespace text); a text with no separator is one token.
    """
    return _java_split(text.lower(), _JAVA_WHITESPACE)


def _java_split(text, separator):
    """Java's String.split: empty tokens between separators kept, trailing ones dropped."""
    tokens = separator.split(text)
    if len(tokens) > 1:
        while tokens and not tokens[-1]:
            tokens.pop()
    return tokens


def term_index(term: str, num_features: int) -> int:
    """Spark ML HashingTF's bucket for a term (Python's % is already non-negative)."""
    return mmh3.hash(term.encode("utf-8"), HASHING_TF_SEED) % num_features


def spark_term_counts(lowered: bytes) -> Counter:
    """{UTF-8 term: count} of `spark_tokens` on a text already lower-cased, from its UTF-8
    bytes: the non-empty terms in one C split, then the empty terms Java's split leaves
    between separators (none after the last term; one for an empty text)."""
    terms = Counter(lowered.split())
    separators = len(lowered) - len(lowered.translate(None, _JAVA_WHITESPACE_BYTES))
    trailing = len(lowered) - len(lowered.rstrip(_JAVA_WHITESPACE_BYTES))
    if not terms:
        empty = 0 if separators else 1
    else:
        empty = separators - trailing + 1 - sum(terms.values())
    if empty:
        terms[b""] += empty
    return terms


def spark_term_counts_with_bigrams(lowered: bytes) -> Counter:
    """{UTF-8 term: count} of Tokenizer's tokens followed by NGram(n=2)'s bigrams ("a b"),
    from a text already lower-cased: the tokens are Java's split (empty ones between
    separators kept, trailing ones dropped), so a paragraph break gives bigrams with an
    empty side; a text of fewer than 2 tokens has no bigram."""
    tokens = _java_split(lowered, _JAVA_WHITESPACE_BYTES_RE)
    terms = Counter(tokens)
    terms.update(b" ".join(pair) for pair in zip(tokens, tokens[1:]))
    return terms


def python_lowered(text: str) -> bytes:
    """The text lower-cased as Java does in all but rare cases (see the module docstring)."""
    return text.lower().encode("utf-8")


def spark_probability(margin: float) -> float:
    """P(label 1) as Spark's LogisticRegressionModel computes it from the raw prediction
    (-margin, margin): 1 - 1 / (1 + exp(margin)), not 1 / (1 + exp(-margin))."""
    return 1.0 - 1.0 / (1.0 + math.exp(margin))


def unit_hash(*parts) -> float:
    """A uniform number in [0, 1) from a hash of the parts: same parts, same number."""
    return hashing.unit_float(*parts)


def pareto_draw(seed: int, doc_id: str) -> float:
    return unit_hash("pareto", seed, doc_id)


def keep_probability(score: float, alpha: float) -> float:
    """P(np.random.pareto(alpha) > 1 - score) = (2 - score)^-alpha."""
    return (2.0 - score) ** -alpha


def keeps(score: float, u: float, alpha: float) -> bool:
    return u < keep_probability(score, alpha)


@dataclass(frozen=True)
class QualityModel:
    """The trained classifier's weights, scored in plain Python/numpy."""

    num_features: int
    indices: np.ndarray  # feature indices with a non-zero weight, sorted
    weights: np.ndarray
    intercept: float
    normalize: bool  # term counts scaled to unit L2 norm (Spark ML Normalizer, p=2)
    version: str
    binary: bool = False  # HashingTF(binary=True): a term present counts 1
    ngram: int = 1  # 1: words; 2: words and word bigrams (Spark ML NGram), hashed together

    @classmethod
    def load(cls, folder: str | Path) -> "QualityModel":
        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"no quality model at {folder} (train one with jobs/train_classifier.py)")
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        with np.load(folder / WEIGHTS_FILE) as data:
            return cls(int(data["num_features"]), data["indices"], data["weights"], float(data["intercept"]),
                       bool(manifest["features"]["l2_normalized"]), manifest["model_version"],
                       ngram=int(manifest["features"].get("ngram", 1)))

    def weights_file_bytes(self) -> bytes:
        """The content of weights.npz."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, num_features=self.num_features, indices=self.indices,
                            weights=self.weights, intercept=self.intercept)
        return buffer.getvalue()

    @cached_property
    def _dense(self) -> np.ndarray:
        """Weight per feature index, built where the model is used (not pickled if unused)."""
        dense = np.zeros(self.num_features, dtype=np.float64)
        dense[self.indices] = self.weights
        return dense

    def features(self, lowered: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(indices, values) of the Spark feature vector, indices ascending as in Spark's
        SparseVector: HashingTF counts (colliding terms add up), then Normalizer."""
        buckets: dict[int, int] = {}
        counts = spark_term_counts(lowered) if self.ngram == 1 else spark_term_counts_with_bigrams(lowered)
        for term, count in counts.items():
            index = mmh3.hash(term, HASHING_TF_SEED) % self.num_features
            buckets[index] = buckets.get(index, 0) + (1 if self.binary else count)
        indices = np.fromiter(sorted(buckets), dtype=np.int64, count=len(buckets))
        values = np.fromiter((buckets[i] for i in indices.tolist()), dtype=np.float64, count=len(buckets))
        if self.normalize:
            norm = math.sqrt(float(np.dot(values, values)))  # integer counts: the sum is exact in any order
            if norm != 0.0:
                values /= norm
        return indices, values

    def margin_of_lowered(self, lowered: bytes) -> float:
        """Spark's margin: BLAS.dot(features, coefficients) + intercept, the products summed
        one by one in index order over the non-zero weights (np.cumsum is sequential;
        np.sum and np.dot are not, so they could differ in the last bits)."""
        indices, values = self.features(lowered)
        weights = self._dense[indices]
        present = weights != 0.0
        if not present.any():
            return 0.0 + self.intercept
        return float(np.cumsum(values[present] * weights[present])[-1]) + self.intercept

    def margin(self, text: str) -> float:
        return self.margin_of_lowered(python_lowered(text))

    def score(self, text: str) -> float:
        """Probability that the text is curated (the positive class)."""
        return spark_probability(self.margin(text))


def first_words(text: str, n: int) -> str:
    """The text up to the end of its n-th word (whitespace-separated), spacing kept: a cut
    that leaves length no signal when every text is cut alike."""
    ends = [m.end() for m in _WORD.finditer(text)]
    return text if len(ends) <= n else text[:ends[n - 1]]


def passages_of(text: str, seed: int, doc_id: str, min_words: int, max_words: int) -> list[str]:
    """The document cut into consecutive runs of words, spacing kept, each run's length drawn
    uniformly from [min_words, max_words] by a hash of (seed, id, run number): the same cut on
    every run. A document under min_words is one passage; a shorter tail is dropped."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    out, start, k = [], 0, 0
    while start < len(spans):
        length = min_words + int(unit_hash("passage", seed, doc_id, k) * (max_words - min_words + 1))
        end = min(start + length, len(spans))
        if end - start < min_words and out:
            break
        out.append(text[spans[start][0]:spans[end - 1][1]])
        start, k = end, k + 1
    return out


def roc_auc(positives, negatives) -> float:
    """P(score of a random positive > that of a random negative), ties counting half
    (Mann-Whitney U); nan when a side is empty."""
    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def weights_version(indices: np.ndarray, weights: np.ndarray, intercept: float) -> str:
    digest = hashlib.sha256(indices.tobytes() + weights.tobytes() + repr(intercept).encode())
    return "quality-" + digest.hexdigest()[:12]


# ---- calibration: choosing alpha the way GPT-3 did ("to match the distribution of scores
# from our classifier on WebText"), from validation scores, without sampling noise.

def expected_keep_ratio(scores: np.ndarray, alpha: float) -> float:
    return float(np.mean((2.0 - scores) ** -alpha)) if len(scores) else float("nan")


def kept_score_distance(candidates: np.ndarray, target: np.ndarray, alpha: float) -> float:
    """1-Wasserstein distance between the score distribution of the candidates that the
    Pareto rule keeps (each weighted by its keep probability) and the target's scores."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(candidates, target, u_weights=(2.0 - candidates) ** -alpha))


def calibration_table(scores_by_source: dict[str, np.ndarray], candidates: str, target: str,
                      alphas) -> tuple[list[dict], float]:
    """Rows of keep ratio per source and distance per alpha, and the best alpha."""
    rows = []
    for alpha in alphas:
        row = {"alpha": alpha, "distance": kept_score_distance(scores_by_source[candidates],
                                                               scores_by_source[target], alpha)}
        row.update({source: expected_keep_ratio(s, alpha) for source, s in scores_by_source.items()})
        rows.append(row)
    best = min(rows, key=lambda r: r["distance"])["alpha"]
    return rows, best


def format_training_summary(manifest: dict, seconds: float, output: str) -> str:
    """What jobs/train_classifier.py prints: sources, validation metrics, scores per source."""
    metrics = manifest["validation"]
    lines = [f"quality classifier {manifest['model_version']} trained in {seconds:.1f} s"]
    lines += [f"  {s['name']:<13} label {s['label']}  {s['docs']:>6,} docs ({s['validation']:,} held out)"
              f"  {s['train_texts']:>6,} training texts" for s in manifest["sources"]]
    lines.append(f"  validation texts  ROC-AUC {metrics['roc_auc']:.4f}  precision {metrics['precision_at_0.5']:.4f}"
                 f"  recall {metrics['recall_at_0.5']:.4f}  ({metrics['docs']:,} texts)")
    lines += [f"    {source:<13} mean score {d['mean']:.3f}  median {d['quantiles']['0.5']:.3f}"
              for source, d in metrics["score_by_source"].items()]
    held = manifest["held_out_documents"]
    for name in ("cut", "whole"):
        label = f"first {held['cut_words']} words" if name == "cut" else "whole"
        by_source = "  ".join(f"{s} {auc:.3f}" for s, auc in held[f"roc_auc_{name}_by_source"].items())
        lines.append(f"  held-out documents, {label}: ROC-AUC {held[f'roc_auc_{name}']:.4f} pooled, "
                     f"{held[f'roc_auc_{name}_mean_of_sources']:.4f} mean of sources ({by_source})")
    if "numerics" in manifest:
        n = manifest["numerics"]
        lines.append(f"  numerics     {n['blas']}, {n['vector_bits']}-bit vectors, Java {n['java']} {n['arch']}")
    lines.append(f"  model        {output}")
    return "\n".join(lines)


def validation_scores_by_source(model: Path, candidates: str) -> dict[str, np.ndarray]:
    """The model's validation scores per source (and pooled over label-0 sources as `negatives`)."""
    import pyarrow.parquet as pq

    table = pq.read_table(model / "validation_scores").to_pydict()
    rows = list(zip(table["source"], table["label"], table["score"]))
    scores = {s: np.array([x for src, _, x in rows if src == s]) for s in sorted(set(table["source"]))}
    if candidates == "negatives":
        scores["negatives"] = np.array([x for _, label, x in rows if label == 0])
    return scores


def calibration_text(model: str, candidates: str, target: str, alphas: list[float]) -> str:
    """jobs/calibrate_quality.py: expected keep ratio per source for each alpha, the distance
    between kept candidates' scores and the target's, and the best alpha."""
    from .errors import UserError

    folder = Path(model)
    if not (folder / "validation_scores").is_dir():
        raise UserError(f"no validation scores in {folder} (train with jobs/train_classifier.py)")
    scores = validation_scores_by_source(folder, candidates)
    for name in (candidates, target):
        if name not in scores:
            raise UserError(f"no source {name!r} (sources: {', '.join(scores)})")
    rows, best = calibration_table(scores, candidates, target, alphas)
    sources = list(scores)
    lines = [f"model {folder}: expected keep ratio per source (validation documents), and the 1-Wasserstein",
             f"distance between kept {candidates} scores and {target} scores",
             f"{'alpha':>6} {'distance':>9} " + " ".join(f"{s[:11]:>11}" for s in sources),
             f"{'docs':>6} {'':>9} " + " ".join(f"{len(scores[s]):>11}" for s in sources)]
    lines += [f"{row['alpha']:>6g} {row['distance']:>9.4f} " + " ".join(f"{row[s]:>11.4f}" for s in sources)
              for row in rows]
    edge = " (at the edge of the grid: widen --alphas)" if best in (alphas[0], alphas[-1]) else ""
    lines.append(f"best alpha: {best:g}{edge}")
    return "\n".join(lines)
