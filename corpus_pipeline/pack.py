"""Tokenize and pack (GPT-3 Appendix B): documents in mixture order -> rows of exactly 2048 tokens.

Consumes document texts in order; produces shards of little-endian token ids (uint16 for
GPT-2 and any vocabulary of up to 65,536 ids, else uint32) whose length is a whole number
of rows, and `metadata.json`; or, with `format="megatron"`, Megatron-LM indexed datasets
(`.bin` + `.idx`, one sequence per document, its EOT included; Megatron cuts the samples). GPT-3 "always train[s] on
sequences of the full n_ctx = 2048 token context window, packing multiple documents into a
single sequence when documents are shorter than 2048 ... Sequences with multiple documents
are not masked in any special way but instead documents within a sequence are delimited
with a special end of text token."

The stream is every document's ids followed by EOT (50256 for GPT-2), in order. Row r is
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
import hashlib
import json
import os
import shutil
import struct
import tempfile
from array import array
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import gpt2, hashing, swap
from . import tokenizer as tokenizers

DTYPE = np.dtype("<u2")  # GPT-2's 50257 ids fit in 16 bits; little-endian whatever the host
FORMAT = "corpus-pipeline-tokens/1"
MEGATRON_FORMAT = "megatron-indexed-dataset/1"
METADATA = "metadata.json"
FORMATS = ("shards", "megatron")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.bin"


def megatron_prefix(index: int) -> str:
    """A Megatron dataset's path prefix in the output folder (Megatron adds .bin and .idx)."""
    return f"megatron-{index:05d}"


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where every token of a stream of `total_tokens` goes: rows, shards, tail."""
    seq_len: int
    with_target: bool
    rows_per_shard: int
    tail: str
    total_tokens: int
    dtype: str = "<u2"  # of the token ids: the vocabulary's (tokenizer.Tokenizer.dtype)
    eot: int = gpt2.EOT  # what pads a tail row

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


def document_tokens(text: str, tok: tokenizers.Tokenizer | None = None) -> np.ndarray:
    """Ids of `text` followed by EOT, in the vocabulary's dtype (GPT-2's by default: uint16)."""
    tok = tok or tokenizers.load()
    return with_eot(tok.encode(text), tok)


def with_eot(ids: np.ndarray, tok: tokenizers.Tokenizer) -> np.ndarray:
    tokens = np.empty(len(ids) + 1, tok.dtype)
    tokens[:-1] = ids
    tokens[-1] = tok.eot
    return tokens


def batches(items: Iterable, chars: int, text_of=lambda item: item) -> Iterator[list]:
    """`items` in order, in lists of about `chars` characters of text (at least one item)."""
    batch, size = [], 0
    for item in items:
        batch.append(item)
        size += len(text_of(item) or "")
        if size >= chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


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


def assemble_rows(tokens: np.ndarray, n_rows: int, width: int, stride: int, eot: int = gpt2.EOT) -> np.ndarray:
    """(n_rows, width) rows: row j = tokens[j * stride : j * stride + width], EOT past the end."""
    need = (n_rows - 1) * stride + width
    if len(tokens) > need:
        raise RuntimeError(f"{len(tokens)} tokens for {n_rows} rows of {width}: the plan is broken")
    padded = np.full(need, eot, tokens.dtype)
    padded[:len(tokens)] = tokens
    return np.lib.stride_tricks.sliding_window_view(padded, width)[::stride][:n_rows].copy()


def join_chunks(chunks: Iterable[tuple[int, bytes]], length: int, dtype=DTYPE) -> np.ndarray:
    """A shard's span from (offset, token bytes) pieces that must tile [0, length) exactly."""
    pieces = sorted(chunks, key=lambda c: c[0])
    at = 0
    for offset, data in pieces:
        if offset != at:
            raise RuntimeError(f"shard span broken at token {at}: next piece starts at {offset}")
        at += len(data) // np.dtype(dtype).itemsize
    if at != length:
        raise RuntimeError(f"shard span has {at} tokens, expected {length}")
    return np.frombuffer(b"".join(data for _, data in pieces), dtype)


def shard_bytes(plan: Plan, shard: int, span_tokens: np.ndarray) -> bytes:
    rows = assemble_rows(span_tokens, plan.shard_rows(shard), plan.width, plan.seq_len, plan.eot)
    return rows.tobytes()


def stream_pieces(tokens: np.ndarray, at: int, plan: Plan) -> Iterator[tuple[int, tuple[int, bytes]]]:
    """(shard, (offset in the shard's span, token bytes)) for `tokens`, which start at stream
    offset `at`: the pieces `join_chunks` puts back together, one a shard they touch."""
    end = at + len(tokens)
    for shard in plan.shards_touching(at, end):
        start, stop = plan.shard_span(shard)
        lo, hi = max(at, start), min(end, stop)
        yield shard, (lo - start, tokens[lo - at:hi - at].tobytes())


def shard_record(plan: Plan, shard: int, data: bytes) -> dict:
    """Per-shard metadata that depends only on the shard's bytes and the plan."""
    last = shard == plan.shards - 1
    return {"file": shard_name(shard), "rows": plan.shard_rows(shard), "tokens": len(data) // np.dtype(plan.dtype).itemsize,
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
                rows_per_shard: int = 1 << 30, eot: int = gpt2.EOT) -> list[np.ndarray]:
    """Rows of each shard for an in-memory stream (the unit-testable core of `pack_texts`)."""
    stream = np.asarray(stream)
    plan = Plan(seq_len, with_target, rows_per_shard, tail, len(stream), stream.dtype.str, eot)
    shards = []
    for shard in range(plan.shards):
        start, end = plan.shard_span(shard)
        shards.append(assemble_rows(stream[start:end], plan.shard_rows(shard), plan.width, seq_len, eot))
    return shards


def stream_of(documents: Iterable[Iterable[int]], dtype=DTYPE, eot: int = gpt2.EOT) -> np.ndarray:
    """Token lists -> one stream, EOT after each."""
    parts = [np.append(np.asarray(list(doc), dtype), np.array([eot], dtype)) for doc in documents]
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def metadata(plan: Plan, shards: list[dict], documents: int, xor_of_hashes: int, extra: dict,
             tok: tokenizers.Tokenizer | None = None) -> dict:
    """metadata.json: everything a trainer needs to read the shards, and their provenance."""
    return {
        "format": FORMAT,
        "tokenizer": (tok or tokenizers.load()).metadata(),
        "dtype": np.dtype(plan.dtype).name, "byte_order": "little",
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
               tail: str = "drop", rows_per_shard: int = 16384, tokenizer: str = tokenizers.GPT2,
               eot_token: str = gpt2.EOT_TEXT, format: str = "shards", engine: str = "cpu",
               gpu_device: str = "auto") -> dict:
    """The whole stage without Spark: texts in order -> shards (or Megatron datasets) +
    metadata.json in `output`.

    Memory stays bounded: the stream goes to a scratch file first (the tail rule needs its
    length), then each shard is cut from a memory map of it. `output` is replaced only
    when everything is written."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    tok = tokenizers.load(tokenizer, eot_token, engine, gpu_device)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=output.name + ".tmp-", dir=output.parent))
    try:
        lengths, xor_of_hashes, empty = _write_stream(texts, work / "_stream", tok)
        if format == "megatron":
            plan = megatron_plan(seq_len, rows_per_shard, sum(lengths), tok)
            records = _write_megatron(plan, work, np.frombuffer(lengths, np.int64))
            meta = megatron_metadata(plan, records, len(lengths), xor_of_hashes, {"empty_documents": empty}, tok)
        else:
            plan = Plan(seq_len, with_target, rows_per_shard, tail, sum(lengths), tok.dtype.str, tok.eot)
            records = _write_shards(plan, work)
            starts, boundary, dropped_docs = document_starts(lengths, plan)
            add_document_counts(records, starts, boundary)
            extra = {"empty_documents": empty, "documents_dropped": dropped_docs}
            meta = metadata(plan, records, len(lengths), xor_of_hashes, extra, tok)
        (work / "_stream").unlink()
        (work / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
        _replace_folder(work, output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return meta


def _write_stream(texts: Iterable[str], path: Path, tok: tokenizers.Tokenizer) -> tuple[array, int, int]:
    lengths, xor_of_hashes, empty = array("q"), 0, 0
    with open(path, "wb") as stream:
        for batch in batches(texts, tok.batch_chars):
            empty += sum(not text for text in batch)
            batch = [text for text in batch if text]  # a bare EOT would only teach EOT -> EOT
            for text, ids in zip(batch, tok.encode_many(batch)):
                tokens = with_eot(ids, tok)
                stream.write(tokens.tobytes())
                xor_of_hashes ^= document_hash(len(lengths), text_digest(text))
                lengths.append(len(tokens))
    return lengths, xor_of_hashes, empty


def _stream_map(plan: Plan, work: Path) -> np.ndarray:
    return np.memmap(work / "_stream", plan.dtype, mode="r") if plan.total_tokens else np.empty(0, plan.dtype)


def _write_shards(plan: Plan, work: Path) -> list[dict]:
    stream = _stream_map(plan, work)
    records = []
    for shard in range(plan.shards):
        start, end = plan.shard_span(shard)
        data = shard_bytes(plan, shard, np.asarray(stream[start:end]))
        (work / shard_name(shard)).write_bytes(data)
        records.append(shard_record(plan, shard, data))
    del stream
    return records


# --- Megatron-LM indexed datasets -----------------------------------------------------
# Megatron's GPT pipeline reads documents, one sequence each with its end-of-document token,
# and cuts its own samples; so a Megatron dataset here is the stream itself, cut only
# between documents. Dataset f holds the documents whose first token lies in
# [f, f + 1) * rows_per_shard * seq_len of the stream (64 MiB of GPT-2 tokens by default),
# so that a task writes it alone and any partitioning writes the same files. The .idx is
# Megatron's MMIDIDX index: the 9-byte magic, version 1 (u64), the dtype code (u8), the
# sequence count and the document-index count (u64 each), the sequence lengths (int32),
# their byte offsets in the .bin (int64) and the document indices [0, 1, ..., n] (int64).
# Megatron's dtype codes have no uint32: a vocabulary over 65,536 ids is written as int32.
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPES = {"uint16": (8, np.dtype("<u2")), "uint32": (4, np.dtype("<i4"))}


def megatron_plan(seq_len: int, rows_per_shard: int, total_tokens: int, tok: tokenizers.Tokenizer) -> Plan:
    """The Plan whose shards are the Megatron datasets: home_shard(start of a document) is its dataset."""
    return Plan(seq_len, False, rows_per_shard, "pad", total_tokens, tok.dtype.str, tok.eot)


def megatron_index(lengths: np.ndarray, code: int, itemsize: int) -> bytes:
    """The .idx of a dataset of one sequence per document with these token counts."""
    lengths = np.asarray(lengths, np.int64)
    pointers = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype("<i8") * itemsize if len(lengths) else np.empty(0, "<i8")
    return b"".join([MEGATRON_MAGIC, struct.pack("<Q", 1), struct.pack("<B", code),
                     struct.pack("<Q", len(lengths)), struct.pack("<Q", len(lengths) + 1),
                     lengths.astype("<i4").tobytes(), pointers.astype("<i8").tobytes(),
                     np.arange(len(lengths) + 1, dtype="<i8").tobytes()])


def megatron_files(plan: Plan, dataset: int, tokens: np.ndarray, lengths: np.ndarray,
                   first_document: int) -> tuple[bytes, bytes, dict]:
    """(.bin bytes, .idx bytes, its metadata record) of one dataset."""
    code, dtype = MEGATRON_DTYPES[np.dtype(plan.dtype).name]
    data = np.asarray(tokens).astype(dtype, copy=False).tobytes()
    index = megatron_index(lengths, code, dtype.itemsize)
    record = {"prefix": megatron_prefix(dataset), "documents": len(lengths), "first_document": first_document,
              "tokens": len(tokens), "bin_sha256": hashlib.sha256(data).hexdigest(),
              "idx_sha256": hashlib.sha256(index).hexdigest()}
    return data, index, record


def _write_megatron(plan: Plan, work: Path, lengths: np.ndarray) -> list[dict]:
    stream = _stream_map(plan, work)
    starts = np.cumsum(lengths) - lengths
    homes = starts // plan.shard_stride
    records = []
    for dataset in np.unique(homes).tolist():
        first, last = np.searchsorted(homes, [dataset, dataset + 1])
        begin, end = int(starts[first]), int(starts[last - 1] + lengths[last - 1])
        data, index, record = megatron_files(plan, dataset, stream[begin:end], lengths[first:last], int(first))
        (work / (record["prefix"] + ".bin")).write_bytes(data)
        (work / (record["prefix"] + ".idx")).write_bytes(index)
        records.append(record)
    del stream
    return records


def megatron_metadata(plan: Plan, datasets: list[dict], documents: int, xor_of_hashes: int, extra: dict,
                      tok: tokenizers.Tokenizer) -> dict:
    """metadata.json of a Megatron output: what a trainer passes as --data-path, and provenance."""
    return {
        "format": MEGATRON_FORMAT,
        "tokenizer": tok.metadata(),
        "dtype": MEGATRON_DTYPES[np.dtype(plan.dtype).name][1].name, "byte_order": "little",
        "tokens_per_dataset": plan.shard_stride, "documents": documents, "stream_tokens": plan.total_tokens,
        "input_fingerprint": fingerprint(xor_of_hashes, documents),
        "datasets": datasets, **extra,
    }


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
        if self.meta["format"] != FORMAT:
            raise ValueError(f"{folder} holds {self.meta['format']}, not token shards")
        self.shards = self.meta["shards"]
        self.dtype = np.dtype(self.meta["dtype"]).newbyteorder("<")
        self.eot = self.meta["tokenizer"]["eot"]

    def rows(self, shard: int) -> np.ndarray:
        path = self.folder / self.shards[shard]["file"]
        return np.memmap(path, self.dtype, mode="r").reshape(-1, self.meta["row_len"])

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
            for cut in np.flatnonzero(stream == self.eot):
                yield index, np.concatenate(pending + [stream[previous:cut]]), True
                index, pending, previous = index + 1, [], cut + 1
            if previous < len(stream):
                pending.append(stream[previous:])
        if pending:
            yield index, np.concatenate(pending), False

    def texts(self) -> Iterator[str]:
        for _, tokens, _ in self.documents():
            yield self.tokenizer().decode(tokens.tolist())

    def tokenizer(self) -> tokenizers.Tokenizer:
        info = self.meta["tokenizer"]
        return tokenizers.load(info["name"], info.get("eot_token", gpt2.EOT_TEXT))

    def row_documents(self, shard: int, row: int) -> list[int]:
        """Indexes of the documents with a token in this row (padding excluded)."""
        record, stride = self.shards[shard], self.meta["row_stride"]
        first = record["first_document"] - int(record["starts_mid_document"])
        first += int(np.count_nonzero(self.stream(shard)[:row * stride] == self.eot))
        rows = self.rows(shard)
        tokens = rows[row]
        if shard == len(self.shards) - 1 and row == len(rows) - 1:
            tokens = tokens[:len(tokens) - self.meta["pad_tokens"]]
        ends = int(np.count_nonzero(tokens[:-1] == self.eot))
        return list(range(first, first + ends + 1))


def format_summary(summary: dict, cfg, seconds: float) -> str:
    """What jobs/pack.py prints: documents and tokens in, rows and shards (or Megatron datasets) out, the tail."""
    head = (f"corpus-pipeline pack: {summary['documents']:,} documents ({summary['empty_documents']:,} empty skipped), "
            f"{summary['stream_tokens']:,} tokens in {seconds:.1f} s")
    if "datasets" in summary:
        return "\n".join([head, f"  {summary['datasets']} Megatron dataset{'s' if summary['datasets'] != 1 else ''} "
                                f"(.bin + .idx, one sequence per document)", f"  output {cfg.output}"])
    shards = summary["shards"]
    return "\n".join([
        f"corpus-pipeline pack: {summary['documents']:,} documents ({summary['empty_documents']:,} empty skipped), "
        f"{summary['stream_tokens']:,} tokens in {seconds:.1f} s",
        f"  {summary['rows']:,} rows of {cfg.pack.seq_len + cfg.pack.with_target} tokens in {shards} "
        f"shard{'s' if shards != 1 else ''}; tail {summary['tail_tokens']:,} tokens ({cfg.pack.tail}: "
        f"{summary['pad_tokens']:,} padding, {summary['dropped_tokens']:,} dropped)",
        f"  output {cfg.output}"])
