"""The offline GPT-2 encoding equals OpenAI's (ids checked against published values)."""
from corpus_pipeline import gpt2


def test_known_ids_and_special_token():
    assert gpt2.encoding().encode("Hello world<|endoftext|>", allowed_special="all") == [15496, 995, 50256]
    assert gpt2.encoding().n_vocab == gpt2.VOCAB_SIZE


def test_endoftext_inside_a_document_is_plain_text():
    ids = gpt2.encode("a<|endoftext|>b")
    assert gpt2.EOT not in ids
    assert gpt2.decode(ids) == "a<|endoftext|>b"


def test_vocabulary_hash_is_stable():
    assert gpt2.vocabulary_hash() == "8c804d3efe38557690b753b370eb0b654b52ba784b0d6d3cd3e9ba730b0dacef"
