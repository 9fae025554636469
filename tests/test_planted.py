"""Benchmark corpora (corpus_pipeline.planted) on the real WebText snippets: the same corpus
in every run, with the composition and edits its docstring promises."""
from __future__ import annotations

from corpus_pipeline import dedup, planted

from .conftest import shared_file


def test_a_corpus_is_real_documents_then_planted_variants_and_the_same_every_run():
    data = shared_file("positives/webtext").parent.parent
    pool = planted.load_pool(data, ("webtext",))
    assert len(pool) == 4724 and [d.id for d in pool] == sorted((d.id for d in pool), key=planted.seeded_order)
    vocab = planted.vocabulary(pool)
    rows, composition = planted.build_corpus(pool, 200, vocab)
    assert composition["originals"] == 180 and composition["planted"] == 20 and len(rows) == 200
    assert [r["id"] for r in rows[:180]] == [d.id for d in pool[:180]]
    assert rows == planted.build_corpus(pool, 200, vocab)[0]
    texts = {r["id"]: r["text"] for r in rows}
    for variant in rows[180:]:
        original = texts[variant["original"]]
        assert variant["id"] == f"v0-{variant['original']}" and variant["text"] != original
        # at most 10% of the words edited (one at least): at most that share fewer words
        assert len(original.split()) - len(variant["text"].split()) <= max(1, round(0.10 * len(original.split())))
        assert dedup.jaccard(original.split(), variant["text"].split()) > 0.5
