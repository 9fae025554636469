"""Quality scores and Pareto resampling without Spark (GPT-3 Appendix A).

Consumes document texts and ids; produces `quality_score` (the logistic-regression
probability that a text is curated, not raw Common Crawl), the uniform draw `u`, and the
keep decision.

- Features are exactly Spark ML's: `Tokenizer` (Java `toLowerCase().split("\\s")`, so
  runs of whitespace give empty tokens) and `HashingTF` (MurmurHash3 x86_32, seed 42, on
  the UTF-8 bytes of each term, modulo `numFeatures`; raw term counts), then by default
  `Normalizer(p=2)`. With the weights the training job exports, `QualityModel.score`
  equals the Spark model's probability (tests/test_quality_spark.py).
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
from dataclasses import dataclass
from pathlib import Path

import mmh3
import numpy as np

from . import hashing

HASHING_TF_SEED = 42  # org.apache.spark.ml.feature.HashingTF.seed
_JAVA_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]")  # Java regex \s is ASCII-only
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"


def spark_tokens(text: str) -> list[str]:
    """Spark ML Tokenizer: lower-case, split on each single whitespace character.

    Java's String.split keeps empty tokens between separators but drops trailing ones
    (all of them, for an all-whitespace text); a text with no separator is one token.
    """
    tokens = _JAVA_WHITESPACE.split(text.lower())
    if len(tokens) > 1:
        while tokens and tokens[-1] == "":
            tokens.pop()
    return tokens


def term_index(term: str, num_features: int) -> int:
    """Spark ML HashingTF's bucket for a term (Python's % is already non-negative)."""
    return mmh3.hash(term.encode("utf-8"), HASHING_TF_SEED) % num_features


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

    @classmethod
    def load(cls, folder: str | Path) -> "QualityModel":
        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"no quality model at {folder} (train one with jobs/train_classifier.py)")
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        with np.load(folder / WEIGHTS_FILE) as data:
            return cls(int(data["num_features"]), data["indices"], data["weights"], float(data["intercept"]),
                       bool(manifest["features"]["l2_normalized"]), manifest["model_version"])

    def weights_file_bytes(self) -> bytes:
        """The content of weights.npz."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, num_features=self.num_features, indices=self.indices,
                            weights=self.weights, intercept=self.intercept)
        return buffer.getvalue()

    def margin(self, text: str) -> float:
        counts: dict[int, int] = {}
        for token in spark_tokens(text):
            index = term_index(token, self.num_features)
            counts[index] = counts.get(index, 0) + 1
        if not counts:
            return self.intercept
        index = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.normalize:
            tf /= np.linalg.norm(tf)
        at = np.searchsorted(self.indices, index)
        at_clipped = np.minimum(at, len(self.indices) - 1)
        found = self.indices[at_clipped] == index
        return self.intercept + float(np.dot(self.weights[at_clipped][found], tf[found]))

    def score(self, text: str) -> float:
        """Probability that the text is curated (the positive class)."""
        return 1.0 / (1.0 + math.exp(-self.margin(text)))


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
    lines += [f"  {s['name']:<12} label {s['label']}  {s['docs']:>6,} docs ({s['validation']:,} validation)"
              for s in manifest["sources"]]
    lines.append(f"  validation   ROC-AUC {metrics['roc_auc']:.4f}  precision {metrics['precision_at_0.5']:.4f}"
                 f"  recall {metrics['recall_at_0.5']:.4f}  ({metrics['docs']:,} docs)")
    lines += [f"    {source:<12} mean score {d['mean']:.3f}  median {d['quantiles']['0.5']:.3f}"
              for source, d in metrics["score_by_source"].items()]
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
