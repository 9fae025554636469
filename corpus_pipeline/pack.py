"""Tokenize and pack (GPT-3 Appendix B): documents in mixture order -> rows of exactly 2048 tokens.

Consumes document texts in order; produces shards of little-endian uint16 GPT-2 token ids
whose length is a whole number of rows, and `metadata.json`. GPT-3 "always train[s] on
sequences of the full n_ctx = 2048 token context window, packing multiple documents into a
single sequence when documents are shorter than 2048 ... Sequences with multiple documents
are not masked in any special way but instead documents within a sequence are delimited
with a special end of text token."

The stream is every document's ids followed by EOT (50256), in order. Row r is
stream[r * seq_len : r * seq_len + width]; width is seq_len, or seq_len + 1 with
`with_target` (inputs plus the shifted target). With_target rows overlap by one token, as
Megatron-LM's GPTDataset samples do, so every transition of the stream is trained once.
What is left after the last full row (the tail, < one row) is padded with EOT into one
more row or dropped (`tail`), and counted either way. Everything below is a function of
the stream and its total length, so the Spark job (which never holds the stream in one
place) and `pack_texts` (plain Python) write the same bytes.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
from array import array
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import gpt2, hashing, swap

DTYPE = np.dtype("<u2")  # 50257 ids fit in 16 bits; little-endian whatever the host
FORMAT = "corpus-pipeline-tokens/1"
METADATA = "metadata.json"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.bin"


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where every token of a stream of `total_tokens` goes: rows, shards, tail."""
    seq_len: int
    with_target: bool
    rows_per_shard: int
    tail: str
    total_tokens: int

    @property
    def width(self) -> int:
        return self.seq_len + int(self.with_target)

    @property
    def overlap(self) -> int:
        return self.width - self.seq_len

    @property
    def shard_stride(self) -> int:
        """Stream tokens a full shard advances by; shard s owns [s, s + 1) * shard_stride."""
        return self.rows_per_shard * self.seq_len

    @functools.cached_property
    def full_rows(self) -> int:
        return max(0, (self.total_tokens - self.overlap) // self.seq_len)

    @functools.cached_property
    def tail_tokens(self) -> int:
        """Tokens after the end of the last full row."""
        full_end = self.full_rows * self.seq_len + self.overlap if self.full_rows else 0
        return self.total_tokens - full_end

    @property
    def padded(self) -> bool:
        return self.tail == "pad" and self.tail_tokens > 0

    @property
    def rows(self) -> int:
        return self.full_rows + int(self.padded)

    @property
    def used_tokens(self) -> int:
        return self.total_tokens if self.padded else self.total_tokens - self.tail_tokens

    @property
    def pad_tokens(self) -> int:
        return self.width - (self.used_tokens - (self.rows - 1) * self.seq_len) if self.padded else 0

    @property
    def dropped_tokens(self) -> int:
        return 0 if self.padded else self.tail_tokens

    @property
    def shards(self) -> int:
        return -(-self.rows // self.rows_per_shard)

    def shard_rows(self, shard: int) -> int:
        return min(self.rows_per_shard, self.rows - shard * self.rows_per_shard)

    def shard_span(self, shard: int) -> tuple[int, int]:
        """[start, end) of the stream tokens in the shard's rows (end excludes padding)."""
        start = shard * self.shard_stride
        return start, min(self.used_tokens, start + (self.shard_rows(shard) - 1) * self.seq_len + self.width)

    def shards_touching(self, start: int, end: int) -> range:
        """Shards whose span holds a token of [start, end)."""
        end = min(end, self.used_tokens)
        if end <= start:
            return range(0)
        first = max(0, (start - self.overlap) // self.shard_stride)
        return range(first, min(self.shards, (end - 1) // self.shard_stride + 1))

    def home_shard(self, token: int) -> int | None:
        """The shard that owns a document starting at `token`; None in a dropped tail."""
        return token // self.shard_stride if token < self.used_tokens else None


def document_tokens(text: str) -> np.ndarray:
    """GPT-2 ids of `text` followed by EOT, as uint16."""
    ids = gpt2.encode_array(text)
    tokens = np.empty(len(ids) + 1, DTYPE)
    tokens[:-1] = ids
    tokens[-1] = gpt2.EOT
    return tokens


def text_digest(text: str) -> bytes:
    return hashing.digest(text, 16)


def document_hash(index: int, digest: bytes) -> int:
    """Signed 64-bit hash of (index in the stream, text digest); the XOR over all documents
    is the input fingerprint: it changes with any text and with the order, never with
    the partitioning."""
    mixed = hashing.digest(index.to_bytes(8, "little") + digest, 8)
    return int.from_bytes(mixed, "little", signed=True)


def fingerprint(xor_of_hashes: int, documents: int) -> str:
    return f"{xor_of_hashes & (2**64 - 1):016x}-{documents}"


def resolve_device(device: str) -> str | None:
    """The torch device for row assembly, or None for the plain numpy path."""
    if device == "cpu":
        return None
    # Importing torch costs a second per worker process; without an NVIDIA device node
    # there is nothing it could find.
    torch = None
    if glob.glob("/dev/nvidia[0-9]*") or device == "cuda":
        try:
            import torch
        except ImportError:
            pass
    available = torch is not None and torch.cuda.is_available()
    if device == "cuda" and not available:
        raise RuntimeError("pack.device is cuda but no CUDA GPU is visible to torch")
    return "cuda" if available else None


def assemble_rows(tokens: np.ndarray, n_rows: int, width: int, stride: int, device: str | None = None) -> np.ndarray:
    """(n_rows, width) uint16 rows: row j = tokens[j * stride : j * stride + width], EOT past the end."""
    need = (n_rows - 1) * stride + width
    if len(tokens) > need:
        raise RuntimeError(f"{len(tokens)} tokens for {n_rows} rows of {width}: the plan is broken")
    if device is not None:
        return _assemble_rows_torch(tokens, n_rows, width, stride, need, device)
    padded = np.full(need, gpt2.EOT, DTYPE)
    padded[:len(tokens)] = tokens
    return np.lib.stride_tricks.sliding_window_view(padded, width)[::stride][:n_rows].copy()


def _assemble_rows_torch(tokens, n_rows, width, stride, need, device) -> np.ndarray:
    """The same rows built by torch on `device` (int32 on the device: uint16 kernels are sparse)."""
    import torch

    padded = torch.full((need,), gpt2.EOT, dtype=torch.int32, device=device)
    padded[:len(tokens)] = torch.from_numpy(tokens.astype(np.int32)).to(device, non_blocking=True)
    rows = padded.unfold(0, width, stride)[:n_rows]
    return rows.cpu().numpy().astype(DTYPE)


def join_chunks(chunks: Iterable[tuple[int, bytes]], length: int) -> np.ndarray:
    """A shard's span from (offset, uint16 bytes) pieces that must tile [0, length) exactly."""
    pieces = sorted(chunks, key=lambda c: c[0])
    at = 0
    for offset, data in pieces:
        if offset != at:
            raise RuntimeError(f"shard span broken at token {at}: next piece starts at {offset}")
        at += len(data) // DTYPE.itemsize
    if at != length:
        raise RuntimeError(f"shard span has {at} tokens, expected {length}")
    return np.frombuffer(b"".join(data for _, data in pieces), DTYPE)


def shard_bytes(plan: Plan, shard: int, span_tokens: np.ndarray, device: str | None = None) -> bytes:
    rows = assemble_rows(span_tokens, plan.shard_rows(shard), plan.width, plan.seq_len, device)
    return rows.tobytes()


def stream_pieces(tokens: np.ndarray, at: int, plan: Plan) -> Iterator[tuple[int, tuple[int, bytes]]]:
    """(shard, (offset in the shard's span, uint16 bytes)) for `tokens`, which start at stream
    offset `at`: the pieces `join_chunks` puts back together, one a shard they touch."""
    end = at + len(tokens)
    for shard in plan.shards_touching(at, end):
        start, stop = plan.shard_span(shard)
        lo, hi = max(at, start), min(end, stop)
        yield shard, (lo - start, tokens[lo - at:hi - at].tobytes())


def shard_record(plan: Plan, shard: int, data: bytes) -> dict:
    """Per-shard metadata that depends only on the shard's bytes and the plan."""
    last = shard == plan.shards - 1
    return {"file": shard_name(shard), "rows": plan.shard_rows(shard), "tokens": len(data) // DTYPE.itemsize,
            "pad_tokens": plan.pad_tokens if last else 0, "sha256": hashlib.sha256(data).hexdigest()}


def add_document_counts(records: list[dict], starts: dict[int, int], boundary: set[int]) -> list[dict]:
    """Adds `documents` (starting in the shard), `first_document` (index of the first of
    them) and `starts_mid_document` (the shard's first token continues an earlier one)."""
    before = 0
    for shard, record in enumerate(records):
        record.update(documents=starts.get(shard, 0), first_document=before,
                      starts_mid_document=shard > 0 and shard not in boundary)
        before += record["documents"]
    return records


def pack_stream(stream: np.ndarray, seq_len: int = 2048, with_target: bool = False, tail: str = "drop",
                rows_per_shard: int = 1 << 30, device: str | None = None) -> list[np.ndarray]:
    """Rows of each shard for an in-memory stream (the unit-testable core of `pack_texts`)."""
    plan = Plan(seq_len, with_target, rows_per_shard, tail, len(stream))
    shards = []
    for shard in range(plan.shards):
        start, end = plan.shard_span(shard)
        shards.append(assemble_rows(np.asarray(stream[start:end], DTYPE), plan.shard_rows(shard),
                                    plan.width, seq_len, device))
    return shards


def stream_of(documents: Iterable[Iterable[int]]) -> np.ndarray:
    """Token lists -> one stream, EOT after each."""
    parts = [np.append(np.asarray(list(doc), DTYPE), np.array([gpt2.EOT], DTYPE)) for doc in documents]
    return np.concatenate(parts) if parts else np.empty(0, DTYPE)


def metadata(plan: Plan, shards: list[dict], documents: int, xor_of_hashes: int, extra: dict) -> dict:
    """metadata.json: everything a trainer needs to read the shards, and their provenance."""
    return {
        "format": FORMAT,
        "tokenizer": {"name": gpt2.NAME, "vocab_size": gpt2.VOCAB_SIZE, "eot": gpt2.EOT,
                      "vocabulary_hash": gpt2.vocabulary_hash()},
        "dtype": "uint16", "byte_order": "little",
        "seq_len": plan.seq_len, "row_len": plan.width, "with_target": plan.with_target,
        "row_stride": plan.seq_len, "tail": plan.tail, "rows_per_shard": plan.rows_per_shard,
        "documents": documents, "stream_tokens": plan.total_tokens, "rows": plan.rows,
        "tail_tokens": plan.tail_tokens, "pad_tokens": plan.pad_tokens, "dropped_tokens": plan.dropped_tokens,
        "input_fingerprint": fingerprint(xor_of_hashes, documents),
        "shards": shards, **extra,
    }


def document_starts(lengths: Iterable[int], plan: Plan) -> tuple[dict[int, int], set[int], int]:
    """(documents starting in each shard, shards whose first token starts a document,
    documents that start in a dropped tail)."""
    starts, boundary, dropped, at = {}, set(), 0, 0
    for length in lengths:
        home = plan.home_shard(at)
        if home is None:
            dropped += 1
        else:
            starts[home] = starts.get(home, 0) + 1
            if at % plan.shard_stride == 0:
                boundary.add(home)
        at += length
    return starts, boundary, dropped


def pack_texts(texts: Iterable[str], output: str | os.PathLike, seq_len: int = 2048, with_target: bool = False,
               tail: str = "drop", rows_per_shard: int = 16384, device: str | None = None) -> dict:
    """The whole stage without Spark: texts in order -> shards + metadata.json in `output`.

    Memory stays bounded: the stream goes to a scratch file first (the tail rule needs its
    length), then each shard is cut from a memory map of it. `output` is replaced only
    when everything is written."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=output.name + ".tmp-", dir=output.parent))
    try:
        lengths, xor_of_hashes, empty = _write_stream(texts, work / "_stream.u16")
        plan = Plan(seq_len, with_target, rows_per_shard, tail, sum(lengths))
        records = _write_shards(plan, work, device)
        starts, boundary, dropped_docs = document_starts(lengths, plan)
        add_document_counts(records, starts, boundary)
        extra = {"empty_documents": empty, "documents_dropped": dropped_docs}
        meta = metadata(plan, records, len(lengths), xor_of_hashes, extra)
        (work / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
        _replace_folder(work, output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return meta


def _write_stream(texts: Iterable[str], path: Path) -> tuple[array, int, int]:
    lengths, xor_of_hashes, empty = array("q"), 0, 0
    with open(path, "wb") as stream:
        for text in texts:
            if not text:  # a bare EOT would only teach EOT -> EOT
                empty += 1
                continue
            tokens = document_tokens(text)
            stream.write(tokens.tobytes())
            xor_of_hashes ^= document_hash(len(lengths), text_digest(text))
            lengths.append(len(tokens))
    return lengths, xor_of_hashes, empty


def _write_shards(plan: Plan, work: Path, device: str | None) -> list[dict]:
    path = work / "_stream.u16"
    stream = np.memmap(path, DTYPE, mode="r") if plan.total_tokens else np.empty(0, DTYPE)
    records = []
    for shard in range(plan.shards):
        start, end = plan.shard_span(shard)
        data = shard_bytes(plan, shard, np.asarray(stream[start:end]), device)
        (work / shard_name(shard)).write_bytes(data)
        records.append(shard_record(plan, shard, data))
    del stream
    path.unlink()
    return records


def _replace_folder(new: Path, final: Path):
    if final.exists() and not (final / METADATA).exists():
        raise FileExistsError(f"{final} exists and is not a pack output; remove it or choose another folder")
    if final.exists() and swap.exchange(new, final):
        shutil.rmtree(new)  # the previous output, swapped out
        return
    old = final.with_name(final.name + ".old")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


class TokenShards:
    """Reads a pack output back: rows per shard, and the documents, for inspection."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / METADATA).read_text())
        self.shards = self.meta["shards"]

    def rows(self, shard: int) -> np.ndarray:
        path = self.folder / self.shards[shard]["file"]
        return np.memmap(path, DTYPE, mode="r").reshape(-1, self.meta["row_len"])

    def stream(self, shard: int) -> np.ndarray:
        """The stream tokens this shard owns (the shared target token of with_target rows
        belongs to the next row), without padding."""
        rows, stride = self.rows(shard), self.meta["row_stride"]
        own = rows[:, :stride].reshape(-1)
        if shard == len(self.shards) - 1:
            own = np.concatenate([own, rows[-1, stride:]])
            own = own[:len(own) - self.meta["pad_tokens"]]
        return own

    def documents(self) -> Iterator[tuple[int, np.ndarray, bool]]:
        """(index, tokens without the EOT, complete) for each document in stream order; the
        last is incomplete where a dropped tail cut it."""
        index, pending = 0, []
        for shard in range(len(self.shards)):
            stream = self.stream(shard)
            previous = 0
            for cut in np.flatnonzero(stream == gpt2.EOT):
                yield index, np.concatenate(pending + [stream[previous:cut]]), True
                index, pending, previous = index + 1, [], cut + 1
            if previous < len(stream):
                pending.append(stream[previous:])
        if pending:
            yield index, np.concatenate(pending), False

    def texts(self) -> Iterator[str]:
        for _, tokens, _ in self.documents():
            yield gpt2.decode(tokens.tolist())

    def row_documents(self, shard: int, row: int) -> list[int]:
        """Indexes of the documents with a token in this row (padding excluded)."""
        record, stride = self.shards[shard], self.meta["row_stride"]
        first = record["first_document"] - int(record["starts_mid_document"])
        first += int(np.count_nonzero(self.stream(shard)[:row * stride] == gpt2.EOT))
        rows = self.rows(shard)
        tokens = rows[row]
        if shard == len(self.shards) - 1 and row == len(rows) - 1:
            tokens = tokens[:len(tokens) - self.meta["pad_tokens"]]
        ends = int(np.count_nonzero(tokens[:-1] == gpt2.EOT))
        return list(range(first, first + ends + 1))


def format_summary(summary: dict, cfg, seconds: float) -> str:
    """What jobs/pack.py prints: documents and tokens in, rows and shards out, the tail."""
    shards = summary["shards"]
    return "\n".join([
        f"corpus-pipeline pack: {summary['documents']:,} documents ({summary['empty_documents']:,} empty skipped), "
        f"{summary['stream_tokens']:,} tokens in {seconds:.1f} s",
        f"  {summary['rows']:,} rows of {cfg.pack.seq_len + cfg.pack.with_target} tokens in {shards} "
        f"shard{'s' if shards != 1 else ''}; tail {summary['tail_tokens']:,} tokens ({cfg.pack.tail}: "
        f"{summary['pad_tokens']:,} padding, {summary['dropped_tokens']:,} dropped)",
        f"  output {cfg.output}"])
