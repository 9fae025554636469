"""The GPU engine (corpus_pipeline/array_bpe.py), run here on NumPy (`gpu_device: cpu`):
its ids equal tiktoken's on all shared text, on every code point and on the corners of
GPT-2's regex. The same array code runs on CuPy where a CUDA device is present."""
import random

import numpy as np
import pytest

from corpus_pipeline import array_bpe, gpt2

from .test_gpt2 import CORNER_CASES, EVERY_CODE_POINT, WHITESPACE, iter_shared_documents


@pytest.fixture(scope="module")
def engine():
    return array_bpe.engine("cpu")


def differences(engine, texts) -> list[str]:
    return [t[:60] for t, ids in zip(texts, engine.encode_batch(texts)) if not np.array_equal(ids, gpt2.reference_array(t))]


def test_ids_equal_tiktoken_on_all_shared_text(engine):
    """Every text of shared/data (test_gpt2's list), in batches of about 2 MB, as the pack stage sends them."""
    documents = tokens = 0
    mismatched, batch = [], []
    for text in iter_shared_documents():
        batch.append(text)
        if sum(map(len, batch)) > 1 << 21 or len(batch) == 4000:
            mismatched += differences(engine, batch)
            documents, tokens = documents + len(batch), tokens + sum(len(gpt2.reference_array(t)) for t in batch)
            batch = []
    mismatched += differences(engine, batch)
    documents += len(batch)
    assert not mismatched, f"{len(mismatched)} documents differ, first {mismatched[0]!r}"
    assert documents > 60_000 and tokens > 10_000_000


def test_ids_equal_tiktoken_on_unicode_corner_cases(engine):
    """Includes what tokie's lexer gets wrong (tab or form feed before a contraction),
    lone surrogates (tiktoken's repair) and pieces longer than LONG_PIECE bytes."""
    assert not differences(engine, CORNER_CASES)
    assert not differences(engine, ["\t's", "\x0b'll", "\x0c's", "\n\n\x0b", " \xa0\x0c", "'s", "a's", " 's", "x''s",
                                    "1'd", "\n've", "'", "''", "'l", "'ll", "it's's", ".'s", "  's", "\u00a0'S"])


def test_ids_equal_tiktoken_on_every_code_point_in_context(engine):
    texts = [" ".join(EVERY_CODE_POINT), "".join(EVERY_CODE_POINT), "a".join(EVERY_CODE_POINT),
             "1".join(EVERY_CODE_POINT), "".join(c + "  " + c + "\n\n " for c in EVERY_CODE_POINT),
             "".join("'" + c + "s'" + c + "ll " for c in EVERY_CODE_POINT),
             "".join(a + b + "x" + b + a + "  y" for a in WHITESPACE for b in WHITESPACE)]
    assert not differences(engine, texts)


def test_ids_equal_tiktoken_on_random_mixtures(engine):
    """Random short texts over the characters where tokenizers part ways (seeded), many a
    batch: texts never share a piece, and empty texts give no ids."""
    alphabet = WHITESPACE[:12] + list("'sStTdmlvre aZ09.,-_!?") + ["é", "²", "中", "\u0301", "🙂", "\u200d", "\0"]
    rng = random.Random(38)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(100_000)]
    assert not differences(engine, texts)


def test_equal_pieces_are_merged_once_and_given_back_to_every_occurrence(engine):
    text = "the cat and the hat and the bat " * 1000
    assert np.array_equal(engine.encode_batch([text])[0], gpt2.reference_array(text))
    assert engine.encode_batch([]) == [] and engine.encode_batch([""])[0].size == 0


def test_a_hash_collision_costs_time_not_ids(engine, monkeypatch):
    """With every piece hashed alike, the byte comparison alone must keep them apart."""
    monkeypatch.setattr(array_bpe, "HASH_BASE", np.uint64(0))
    texts = ["The quick brown fox jumps over the lazy dog, 1234 times; don't stop."]
    assert not differences(engine, texts)


def test_cuda_is_refused_in_one_line_without_a_device():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a CUDA device is present")
    except Exception:
        pass
    with pytest.raises(RuntimeError, match="pack.gpu_device: cuda: "):
        array_bpe.array_module("cuda")
    assert array_bpe.array_module("auto") == (np, "cpu")
