"""The vocabulary the pack stage tokenizes with: GPT-2 (the default and the reference) or a
Hugging Face tokenizer.json given by path (`pack.tokenizer`).

Consumes the `pack.tokenizer` setting; produces a `Tokenizer`: a function from text to a
uint32 id array, the end-of-text id that closes each document, the vocabulary size (which
sets the token dtype: uint16 up to 65,536 ids, else uint32), and what metadata.json records
about it. A tokenizer.json is read from a local file with the `tokenizers` library (the
`hf` extra); nothing is downloaded. Every process (each Spark worker) loads it once.

`pack.engine` picks what encodes GPT-2: `cpu` (tokie, tiktoken where they may differ) or
`gpu` (corpus_pipeline/array_bpe.py on `pack.gpu_device`); both give tiktoken's ids. The
stage hands texts over in batches (`encode_many`), which the GPU engine needs.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path
from typing import Callable

import numpy as np

from . import gpt2
from .errors import UserError

GPT2 = "gpt2"
UINT16_IDS = 1 << 16


class TokenizerError(UserError, ValueError):
    """The configured tokenizer cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    name: str  # "gpt2" or the tokenizer.json path as configured
    vocab_size: int  # ids are < vocab_size
    eot: int  # appended after every document
    eot_token: str  # its text
    vocabulary_hash: str  # sha256 of the vocabulary files
    encode: Callable[[str], np.ndarray]  # text -> uint32 ids, EOT not included
    decode: Callable[[list], str]
    encode_batch: Callable[[list], list] | None = None  # texts -> id arrays, where the engine works in batches
    engine: str = "cpu"  # what encodes, for the job's log: "cpu", or "gpu on <device>"
    batch_chars: int = 1 << 22  # characters of text `encode_many` gets at once

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        """uint32 ids of each text."""
        return self.encode_batch(texts) if self.encode_batch else [self.encode(t) for t in texts]

    @property
    def dtype(self) -> np.dtype:
        """Little-endian uint16 where every id fits, else uint32."""
        return np.dtype("<u2") if self.vocab_size <= UINT16_IDS else np.dtype("<u4")

    def metadata(self) -> dict:
        info = {"name": self.name, "vocab_size": self.vocab_size, "eot": self.eot,
                "vocabulary_hash": self.vocabulary_hash}
        return info if self.name == GPT2 else dict(info, eot_token=self.eot_token)


@functools.lru_cache(maxsize=4)
def load(spec: str = GPT2, eot_token: str = gpt2.EOT_TEXT, engine: str = "cpu", gpu_device: str = "auto") -> Tokenizer:
    """The tokenizer for `spec`: "gpt2", or the path of a tokenizer.json whose vocabulary
    holds `eot_token`; GPT-2 encoded by `engine` (on `gpu_device` for the gpu engine)."""
    if spec != GPT2:
        if engine != "cpu":
            raise TokenizerError("pack.engine: gpu runs GPT-2's BPE only; a tokenizer.json needs pack.engine: cpu")
        return _hugging_face(spec, eot_token)
    if eot_token != gpt2.EOT_TEXT:
        raise TokenizerError(f"pack.eot_token: gpt2's end-of-text token is {gpt2.EOT_TEXT}, not {eot_token!r}")
    tok = Tokenizer(GPT2, gpt2.VOCAB_SIZE, gpt2.EOT, gpt2.EOT_TEXT, gpt2.vocabulary_hash(), gpt2.encode_array, gpt2.decode)
    if engine == "gpu":
        from . import array_bpe

        try:
            bpe = array_bpe.engine(gpu_device)
        except RuntimeError as err:  # cuda asked for and not usable: say why in one line
            raise TokenizerError(str(err)) from None
        tok = dataclasses.replace(tok, encode_batch=bpe.encode_batch, engine=f"gpu on {bpe.device}",
                                  batch_chars=array_bpe.BATCH_CHARS["cpu" if bpe.device == "cpu" else "cuda"])
    return tok


def _hugging_face(path: str, eot_token: str) -> Tokenizer:
    file = Path(path)
    if not file.is_file():
        raise TokenizerError(f"pack.tokenizer: {path} is not a file (gpt2, or the path of a tokenizer.json)")
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError:
        raise TokenizerError("pack.tokenizer: a tokenizer.json needs the tokenizers library: "
                             "pip install 'corpus-pipeline[hf]'") from None
    try:
        hf = HFTokenizer.from_file(str(file))
    except Exception as err:  # the library's own parse errors name the problem
        raise TokenizerError(f"pack.tokenizer: {path} is not a tokenizer.json the tokenizers library reads: {err}") from None
    hf.encode_special_tokens = True  # a special token's text inside a document stays text, as with gpt2
    eot = hf.token_to_id(eot_token)
    if eot is None:
        raise TokenizerError(f"pack.eot_token: {eot_token!r} is not in the vocabulary of {path}; "
                             "set pack.eot_token to its end-of-text (or end-of-sequence) token")
    vocab_size = max(hf.get_vocab(with_added_tokens=True).values()) + 1

    def encode(text: str) -> np.ndarray:
        return np.array(hf.encode(text, add_special_tokens=False).ids, np.uint32)

    def decode(ids) -> str:
        return hf.decode(list(ids), skip_special_tokens=False)

    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    return Tokenizer(path, vocab_size, eot, eot_token, digest, encode, decode)
