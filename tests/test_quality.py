"""Pareto resampling and the Spark-free scorer, without Spark."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from corpus_pipeline import quality


def test_rule_equals_numpy_pareto():
    """P(np.random.pareto(a) > 1 - s) = (2 - s)^-a: GPT-3's rule and ours keep at the same rate."""
    draws = np.random.default_rng(7).pareto(9.0, size=400_000)
    for score in (0.05, 0.3, 0.6, 0.9, 0.99):
        p = quality.keep_probability(score, 9.0)
        measured = float(np.mean(draws > 1 - score))
        assert abs(measured - p) < 5 * math.sqrt(p * (1 - p) / len(draws)) + 1e-9, (score, measured, p)


def test_keep_rates_per_score_band_match_the_formula():
    """Hash draws over 200,000 ids: per band, kept/total within 5 binomial sigmas of
    mean((2 - s)^-alpha) over the band (false alarm rate about 1e-6 per band)."""
    alpha, n = 9.0, 200_000
    ids = [f"doc-{i}" for i in range(n)]
    scores = np.array([quality.unit_hash("score", i) for i in ids])
    kept = np.array([quality.keeps(s, quality.pareto_draw(1234, i), alpha) for s, i in zip(scores, ids)])
    for low in np.arange(0.0, 1.0, 0.1):
        band = (scores >= low) & (scores < low + 0.1)
        p = float(np.mean(quality.keep_probability(scores[band], alpha)))
        sigma = math.sqrt(p * (1 - p) / band.sum())
        assert abs(kept[band].mean() - p) < 5 * sigma, (low, kept[band].mean(), p)


def test_draws_are_uniform_deterministic_and_seeded():
    draws = np.array([quality.pareto_draw(1, f"id{i}") for i in range(50_000)])
    assert abs(draws.mean() - 0.5) < 0.005 and draws.min() >= 0 and draws.max() < 1
    assert quality.pareto_draw(1, "x") == quality.pareto_draw(1, "x") != quality.pareto_draw(2, "x")


@pytest.mark.parametrize("text, tokens", [
    ("Hello  World", ["hello", "", "world"]),  # Java split keeps inner empty tokens
    ("a b ", ["a", "b"]),  # ... and drops trailing ones
    ("  lead", ["", "", "lead"]),
    ("   ", []),
    ("", [""]),
    ("tab\tnew\nline\xa0nbsp", ["tab", "new", "line\xa0nbsp"]),  # Java \\s is ASCII only
])
def test_spark_tokenizer_rules(text, tokens):
    assert quality.spark_tokens(text) == tokens


@pytest.mark.parametrize("text", ["Hello  World", "a b ", "  lead", "   ", "", "one", "tab\tnew\nline\xa0nbsp",
                                  "para one.\n\npara two", "a a a a"])
def test_bigram_counts_are_tokens_then_adjacent_pairs(text):
    """Spark ML NGram(n=2) joins each pair of adjacent Tokenizer tokens (empty ones too) with
    a space; the terms hashed are the tokens followed by those pairs."""
    tokens = quality.spark_tokens(text)
    expected = Counter(tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])])
    got = quality.spark_term_counts_with_bigrams(quality.python_lowered(text))
    assert got == Counter({t.encode(): n for t, n in expected.items()})


def test_bigram_model_scores_a_phrase_not_its_words():
    n = 1 << 12
    phrase = quality.term_index("new york", n)
    model = quality.QualityModel(n, np.array([phrase]), np.array([2.0]), 0.0, False, "test", ngram=2)
    assert model.margin("New York") == 2.0 and model.margin("York new") == 0.0


def test_passages_cover_the_document_in_runs_of_the_drawn_lengths():
    text = " ".join(f"w{i}" + ("\n" if i % 7 == 0 else "") for i in range(1000))
    cut = quality.passages_of(text, 42, "doc", 10, 60)
    assert cut == quality.passages_of(text, 42, "doc", 10, 60) != quality.passages_of(text, 43, "doc", 10, 60)
    lengths = [len(p.split()) for p in cut]
    assert all(10 <= n <= 60 for n in lengths) and len(set(lengths)) > 10
    words = [w for p in cut for w in p.split()]
    assert words == text.split()[:len(words)] and len(text.split()) - len(words) < 10  # only a short tail dropped
    assert any("\n" in p for p in cut)  # spacing kept inside a passage
    assert quality.passages_of("just four words here", 1, "d", 10, 60) == ["just four words here"]


def test_first_words_keeps_spacing_and_short_texts():
    assert quality.first_words("a  b\nc d e", 3) == "a  b\nc"
    assert quality.first_words(" x y ", 3) == " x y "


def test_roc_auc_equals_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 20, 300) / 20 + 0.1, rng.integers(0, 20, 500) / 20
    expected = roc_auc_score([1] * len(pos) + [0] * len(neg), np.concatenate([pos, neg]))
    assert quality.roc_auc(pos, neg) == pytest.approx(expected, abs=1e-12)


def test_scorer_on_handmade_weights():
    n = 1 << 10
    good = quality.term_index("harbour", n)
    model = quality.QualityModel(n, np.array([good]), np.array([2.0]), -1.0, False, "test")
    assert model.score("Harbour harbour") == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert model.score("nothing known") == pytest.approx(1 / (1 + math.exp(1.0)))


def test_kept_score_distance_equals_sampling_then_measuring():
    """The weighted distance is what GPT-3's procedure measures: sample with the Pareto rule,
    then compare the kept scores with the target's."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    cc, webtext = rng.beta(2, 5, 20_000), rng.beta(8, 2, 20_000)
    for alpha in (1.0, 9.0):
        kept = np.repeat(cc, 50)[rng.pareto(alpha, 50 * len(cc)) > 1 - np.repeat(cc, 50)]
        sampled = wasserstein_distance(kept, webtext)
        assert quality.kept_score_distance(cc, webtext, alpha) == pytest.approx(sampled, abs=0.005)
    rows, best = quality.calibration_table({"cc": cc, "webtext": webtext}, "cc", "webtext", [1, 3, 9, 27])
    assert [r["alpha"] for r in rows] == [1, 3, 9, 27] and best in (1, 3, 9, 27)
    assert rows[0]["cc"] > rows[1]["cc"] > rows[2]["cc"]  # a larger alpha keeps less
    assert rows[2]["cc"] == pytest.approx(np.mean((2 - cc) ** -9.0))
