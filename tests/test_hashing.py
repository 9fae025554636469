"""corpus_pipeline.hashing and the functions built on it: values pinned as the code before
the hashing module computed them (ids, draws, orders and fingerprints in stored outputs
depend on them, so none may change)."""
from __future__ import annotations

import hashlib

from corpus_pipeline import decontam, hashing, ingest, mix, pack, quality, references


def test_ids_keep_their_values():
    assert ingest.short_hash("<urn:uuid:3f1c2b7e-0000-4000-8000-000000000001>") == "253e6972b0796c772dff17fc"
    assert ingest.short_hash("sample.warc.gz@1234") == "1821bf69b6006e91b49cecae"
    assert references.doc_id("webtext", 3) == "2551b601b132a9ae6dfcbc13"
    assert references.doc_id("books", "pg2701.txt#0") == "7ffefc64ad1a746fb2a8d44e"
    assert hashing.hex_id("webtext", 3) == hashlib.blake2b(b"webtext:3", digest_size=12).hexdigest()


def test_draws_and_orders_keep_their_values():
    assert quality.unit_hash("score", 7) == 0.7267289175522461
    assert quality.pareto_draw(42, "abc123") == quality.unit_hash("pareto", 42, "abc123") == 0.8472825506046554
    assert mix.order_key(7, "web", 0, "abc123") == 2220988809964365770
    assert mix.tie_key(7, "web", 1, "abc123") == 8518014200328108099


def test_gram_and_text_hashes_keep_their_values():
    assert decontam.word_hash("the") == 3331141520948189790
    assert decontam.word_hash("café") == 16417751708935026519
    assert pack.text_digest("Hello world\nsecond line").hex() == "905cd2b9aadf10510aab458f6c1fde24"
    assert pack.document_hash(3, pack.text_digest("Hello world")) == 6156718355856301284


def test_a_seeded_order_is_the_big_endian_key_of_seed_and_id():
    """The bench's pool order (blake2b of "<seed>:<id>", 8 bytes, compared as bytes)."""
    assert hashing.digest(hashing.key(20240601, "abc"), 8).hex() == "11e323c8b3062be0"
    assert hashing.uint64(20240601, "abc") == 0x11e323c8b3062be0


def test_unit_float_is_uniform_enough():
    """10,000 draws: the mean of U[0,1) has standard error 0.0029; 0.01 is over 3 of them."""
    draws = [hashing.unit_float("t", i) for i in range(10_000)]
    assert all(0 <= u < 1 for u in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.01
