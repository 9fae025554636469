"""GPT-2's BPE as array code: the pack stage's GPU engine (`pack.engine: gpu`).

Consumes a batch of texts; produces their GPT-2 ids, equal to tiktoken's. Every step is
whole-array work on a batch, written once against an array namespace `xp`: CuPy on a CUDA
device, NumPy on the CPU (`pack.gpu_device: cpu`), so the tests prove on any machine what
the GPU runs.

1. Pre-tokenization, GPT-2's regex ('(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+
   |\\s+(?!\\S)|\\s) as rules on neighbouring code points: a piece starts where the class
   (letter, number, whitespace, other) changes; the last whitespace before a non-space
   character starts a piece of its own, and a U+0020 there joins the piece after it; an
   apostrophe that starts a match (not after "other" or an attached space) takes s, d, m,
   t, ll, ve or re as a contraction. The classes come from the `regex` module's \\p{L},
   \\p{N} and \\s, as tiktoken's regex defines them.
2. Equal pieces are merged once: pieces are hashed, sorted, and each is compared byte by
   byte with its group's representative, so a hash collision costs time, never ids.
3. The merges, by rank, exactly as tiktoken does them: each distinct piece is a row of byte
   tokens (rows grouped by length); every step merges, in every row, the adjacent pair of
   lowest rank (the leftmost on ties), then recomputes the two pairs beside it. A pair is
   mergeable when its bytes joined are a token, and GPT-2's token ids are those ranks.
4. The ids go back to every occurrence in order, and are counted per text.

Pieces longer than LONG_PIECE bytes (runs of letters or symbols without a space: base64,
long separators) would take as many steps as bytes; tiktoken encodes them on the host.
"""
from __future__ import annotations

import functools
import sys
from typing import Sequence

import numpy as np

from . import gpt2

LETTER, NUMBER, SPACE, OTHER, NONE = 0, 1, 2, 3, 4  # code point classes; NONE before a text, after its end
BATCH_CHARS = {"cpu": 1 << 22, "cuda": 1 << 26}  # characters a batch: a device wants large ones
LONG_PIECE = 128  # bytes; longer pieces go to tiktoken (see the module docstring)
NO_PAIR = np.iinfo(np.int32).max  # the rank of two tokens that do not merge
CONTRACTIONS_1 = [ord(c) for c in "sdmt"]
CONTRACTIONS_2 = [(ord(a), ord(b)) for a, b in ("ll", "ve", "re")]
HASH_BASE = np.uint64(0x100000001B3)


def code_point_classes() -> np.ndarray:
    """uint8 class of every code point, by the `regex` module's \\p{L}, \\p{N} and \\s
    (tiktoken's regex classes; `regex` comes with tiktoken)."""
    import regex

    classes = np.full(0x110000, OTHER, np.uint8)
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for cls, pattern in ((LETTER, r"\p{L}+"), (NUMBER, r"\p{N}+"), (SPACE, r"\s+")):
        for match in regex.finditer(pattern, every):
            first, last = ord(match.group()[0]), ord(match.group()[-1])
            classes[first:last + 1] = cls  # runs are contiguous in `every` but may span the surrogate gap
    classes[0xD800:0xE000] = OTHER
    return classes


@functools.lru_cache(maxsize=1)
def _host_tables() -> dict:
    """Classes, byte tokens and the pair table, built once per process from GPT-2's ranks."""
    ranks = gpt2.ranks()
    byte_ids = np.array([ranks[bytes([b])] for b in range(256)], np.int32)
    pairs = {}
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = ranks.get(token[:cut]), ranks.get(token[cut:])
            if left is not None and right is not None:
                pairs[left * gpt2.VOCAB_SIZE + right] = rank
    keys = np.fromiter(pairs.keys(), np.int64, len(pairs))
    order = np.argsort(keys)
    values = np.fromiter(pairs.values(), np.int32, len(pairs))[order]
    return {"classes": code_point_classes(), "byte_ids": byte_ids, "pair_keys": keys[order], "pair_ranks": values}


def array_module(device: str):
    """(xp, name) for `pack.gpu_device`: cuda needs CuPy and a CUDA device; cpu is NumPy;
    auto takes cuda where it works."""
    if device == "cpu":
        return np, "cpu"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy, f"cuda:{cupy.cuda.Device().id} ({cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)['name'].decode()})"
        problem = "no CUDA device is visible"
    except ImportError:
        problem = "CuPy is not installed (pip install 'corpus-pipeline[gpu]')"
    except Exception as err:  # CuPy present, no driver or runtime: its own message says which
        problem = f"CUDA is not usable: {err}"
    if device == "auto":
        print(f"corpus-pipeline pack: pack.gpu_device auto: {problem}; the gpu engine runs on the CPU (NumPy)",
              file=sys.stderr)
        return np, "cpu"
    raise RuntimeError(f"pack.gpu_device: cuda: {problem}")


class ArrayBPE:
    """The engine on one device: tables uploaded once, then `encode_batch` per batch."""

    def __init__(self, device: str = "auto"):
        self.xp, self.device = array_module(device)
        tables = _host_tables()
        self.classes = self.xp.asarray(tables["classes"])
        self.byte_ids = self.xp.asarray(tables["byte_ids"])
        self.pair_keys = self.xp.asarray(tables["pair_keys"])
        self.pair_ranks = self.xp.asarray(tables["pair_ranks"])

    # --- the batch --------------------------------------------------------------------
    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """uint32 ids of each text (host arrays), as tiktoken's encode_ordinary gives them."""
        encoded, direct = [], []
        for i, text in enumerate(texts):
            try:
                encoded.append(text.encode("utf-8"))
                direct.append(i)
            except UnicodeEncodeError:  # lone surrogates: tiktoken's own repair
                encoded.append(None)
        out = [None] * len(texts)
        if direct:
            ids, counts = self._encode_utf8([encoded[i] for i in direct])
            for i, part in zip(direct, np.split(ids, np.cumsum(counts)[:-1])):
                out[i] = part
        for i, data in enumerate(encoded):
            if data is None:
                out[i] = gpt2.reference_array(texts[i])
        return out

    def _encode_utf8(self, texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(all ids, ids per text) on the host, for UTF-8 texts."""
        xp = self.xp
        sizes = np.fromiter(map(len, texts), np.int64, len(texts))
        if not sizes.sum():
            return np.empty(0, np.uint32), np.zeros(len(texts), np.int64)
        data = xp.asarray(np.frombuffer(b"".join(texts), np.uint8))
        text_starts = xp.asarray(np.cumsum(sizes) - sizes)
        starts = self._piece_starts(data, text_starts, xp.asarray(sizes))
        lengths = xp.diff(xp.concatenate([starts, xp.asarray([len(data)])]))
        ids, counts = self._encode_pieces(data, starts, lengths)
        done = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(counts)])  # ids before each piece
        first_piece = xp.concatenate([xp.searchsorted(starts, text_starts), xp.asarray([len(starts)])])
        per_text = done[first_piece[1:]] - done[first_piece[:-1]]
        return _host(ids).astype(np.uint32, copy=False), _host(per_text)

    # --- 1. pre-tokenization ----------------------------------------------------------
    def _piece_starts(self, data, text_starts, sizes):
        """Byte offsets where GPT-2's regex starts a piece, texts never sharing one."""
        xp = self.xp
        lead = xp.flatnonzero((data & 0xC0) != 0x80)  # the first byte of each code point
        cp = _code_points(xp, data, lead)
        cls = self.classes[cp]
        present = sizes > 0
        first = xp.zeros(len(cp), bool)
        first[xp.searchsorted(lead, text_starts[present])] = True
        last = xp.zeros(len(cp), bool)
        last[xp.searchsorted(lead, (text_starts + sizes)[present]) - 1] = True

        before = xp.where(first, NONE, xp.concatenate([xp.asarray([NONE], np.uint8), cls[:-1]]))
        after = xp.where(last, NONE, xp.concatenate([cls[1:], xp.asarray([NONE], np.uint8)]))
        space = cp == 0x20
        space_before = ~first & xp.concatenate([xp.asarray([False]), space[:-1]])
        solid_after = (after == LETTER) | (after == NUMBER) | (after == OTHER)

        starts = first | (cls != before)
        starts |= (cls == SPACE) & solid_after  # \s+(?!\S) stops one short of a non-space
        starts &= ~(space_before & (cls != SPACE))  # " ?X+": the space joins what follows
        self._contractions(xp, cp, cls, before, space_before, last, starts)
        return lead[starts]

    @staticmethod
    def _contractions(xp, cp, cls, before, space_before, last, starts):
        """'s 'd 'm 't 'll 've 're where an apostrophe starts a match: after a letter, a
        number, a whitespace other than an attached space, or at a text's start."""
        after1 = xp.concatenate([cp[1:], xp.zeros(1, cp.dtype)])
        after2 = xp.concatenate([cp[2:], xp.zeros(2, cp.dtype)])
        last1 = xp.concatenate([last[1:], xp.ones(1, bool)])
        starts_match = (before != OTHER) & ~space_before & ~last & (cp == 0x27)
        one = starts_match & xp.isin(after1, xp.asarray(CONTRACTIONS_1))
        two = xp.zeros_like(one)
        for a, b in CONTRACTIONS_2:
            two |= starts_match & ~last1 & (after1 == a) & (after2 == b)
        for kind, width in ((one, 2), (two, 3)):
            at = xp.flatnonzero(kind)
            starts[at + 1] = False
            if width == 3:
                starts[at + 2] = False
            rest = at + width
            ends_there = last[at + width - 1]
            starts[rest[~ends_there]] = True

    # --- 2 to 4. pieces to ids --------------------------------------------------------
    def _encode_pieces(self, data, starts, lengths):
        """(ids of every piece in order, ids per piece), merging equal pieces once."""
        xp = self.xp
        rep = self._representatives(data, starts, lengths)
        unique = xp.flatnonzero(rep == xp.arange(len(starts)))
        ids, counts = self._merge(data, starts[unique], lengths[unique])
        slot = xp.searchsorted(unique, rep)  # each piece's row among the unique ones
        piece_counts = counts[slot]
        offsets = xp.cumsum(counts) - counts
        out_starts = xp.cumsum(piece_counts) - piece_counts
        total = int(piece_counts.sum())
        piece_of = _segment_of(xp, out_starts, total)
        within = xp.arange(total) - out_starts[piece_of]
        return ids[offsets[slot[piece_of]] + within], piece_counts

    def _representatives(self, data, starts, lengths):
        """For each piece, the index of an equal piece (itself where it leads its group)."""
        xp = self.xp
        n = len(starts)
        piece_of = _segment_of(xp, starts, len(data))
        offset = xp.arange(len(data)) - starts[piece_of]
        powers = xp.cumprod(xp.full(int(lengths.max()), HASH_BASE, np.uint64)) if n else xp.empty(0, np.uint64)
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[offset]
        sums = xp.cumsum(terms)
        ends = sums[starts + lengths - 1]
        before = xp.where(starts > 0, sums[xp.maximum(starts - 1, 0)], np.uint64(0))
        keys = (ends - before) ^ (lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        order = xp.argsort(keys)
        sorted_keys = keys[order]
        group_start = xp.concatenate([xp.asarray([True]), sorted_keys[1:] != sorted_keys[:-1]])
        group = xp.cumsum(group_start) - 1
        leaders = order[xp.flatnonzero(group_start)]
        leader = xp.empty(n, np.int64)
        leader[order] = leaders[group]
        # equal hashes, unequal bytes: such a piece stands for itself
        same = (lengths == lengths[leader])
        other = starts[leader][piece_of] + xp.minimum(offset, lengths[leader][piece_of] - 1)
        differs = xp.flatnonzero(data != data[other])
        same[piece_of[differs]] = False
        return xp.where(same, leader, xp.arange(n))

    def _merge(self, data, starts, lengths):
        """(ids of the given pieces, concatenated, ids per piece): BPE by rank."""
        xp = self.xp
        n = len(starts)
        counts = xp.zeros(n, np.int64)
        rows_of = {}
        short = lengths <= LONG_PIECE
        for width in (1, 2, 4, 8, 16, 32, 64, LONG_PIECE):
            low = width // 2
            rows = xp.flatnonzero(short & (lengths > low) & (lengths <= width))
            if len(rows):
                tokens = self._merge_rows(data, starts[rows], lengths[rows], width)
                rows_of[width] = (rows, tokens)
                counts[rows] = (tokens >= 0).sum(axis=1)
        long_rows = _host(xp.flatnonzero(~short))
        long_ids = {}
        if len(long_rows):
            host = _host(data)
            for row, s, l in zip(long_rows, _host(starts[long_rows]), _host(lengths[long_rows])):
                ids = gpt2.reference_array(bytes(host[s:s + l]).decode("utf-8"))
                long_ids[int(row)] = ids
                counts[int(row)] = len(ids)
        offsets = xp.cumsum(counts) - counts
        ids = xp.empty(int(counts.sum()), np.int32)
        for width, (rows, tokens) in rows_of.items():
            valid = tokens >= 0
            position = offsets[rows][:, None] + xp.cumsum(valid, axis=1) - 1
            ids[position[valid]] = tokens[valid]
        for row, part in long_ids.items():
            ids[int(offsets[row]):int(offsets[row]) + len(part)] = xp.asarray(part.astype(np.int32))
        return ids, counts

    def _merge_rows(self, data, starts, lengths, width):
        """(rows, width) final tokens of pieces of at most `width` bytes, -1 after the end."""
        xp = self.xp
        columns = xp.arange(width)
        inside = columns[None, :] < lengths[:, None]
        at = xp.where(inside, starts[:, None] + columns[None, :], 0)
        tokens = xp.where(inside, self.byte_ids[data[at]], -1).astype(np.int32)
        if width == 1:
            return tokens
        ranks = self._pair_ranks(tokens[:, :-1], tokens[:, 1:])
        live = xp.arange(len(tokens))
        done = tokens  # each row's final tokens, written back as it stops merging
        pair_columns = xp.arange(width - 1)
        while len(live):
            # the lowest rank, the leftmost on ties, as one minimum (argmin's ties differ between libraries)
            lowest = (ranks.astype(np.int64) * width + pair_columns[None, :]).min(axis=1)
            best, rank = lowest % width, (lowest // width).astype(np.int32)
            merging = rank != NO_PAIR
            done[live[~merging]] = tokens[~merging]
            live, tokens, ranks, best, rank = live[merging], tokens[merging], ranks[merging], best[merging], rank[merging]
            if not len(live):
                break
            # drop the right token of the pair: columns after `best` take their right neighbour
            source = xp.minimum(columns[None, :] + (columns[None, :] > best[:, None]), width - 1)
            tokens = xp.take_along_axis(tokens, source, axis=1)
            tokens[:, width - 1] = -1
            tokens[xp.arange(len(live)), best] = rank  # GPT-2's ids are the ranks
            pair_source = xp.minimum(pair_columns[None, :] + (pair_columns[None, :] > best[:, None]), width - 2)
            ranks = xp.take_along_axis(ranks, pair_source, axis=1)
            ranks[:, width - 2] = NO_PAIR
            rows = xp.arange(len(live))
            for side in (best - 1, best):  # the pairs beside the merged token
                ok = (side >= 0) & (side < width - 1)
                r, c = rows[ok], side[ok]
                ranks[r, c] = self._pair_ranks(tokens[r, c], tokens[r, c + 1])
        return done

    def _pair_ranks(self, left, right):
        """Rank of each (left, right) token pair; NO_PAIR where they do not merge or one is padding."""
        xp = self.xp
        keys = left.astype(np.int64) * gpt2.VOCAB_SIZE + right
        at = xp.minimum(xp.searchsorted(self.pair_keys, keys), len(self.pair_keys) - 1)
        found = (self.pair_keys[at] == keys) & (left >= 0) & (right >= 0)
        return xp.where(found, self.pair_ranks[at], NO_PAIR).astype(np.int32)


def _code_points(xp, data, lead):
    """The code point starting at each lead byte of valid UTF-8."""
    padded = xp.concatenate([data, xp.zeros(3, np.uint8)]).astype(np.uint32)
    b0, b1, b2, b3 = (padded[lead + k] for k in range(4))
    two = ((b0 & 0x1F) << 6) | (b1 & 0x3F)
    three = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
    four = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
    return xp.where(b0 < 0x80, b0, xp.where(b0 < 0xE0, two, xp.where(b0 < 0xF0, three, four)))


def _segment_of(xp, starts, size: int):
    """For each of `size` positions, the segment holding it; `starts` strictly ascending
    from 0 (pieces are never empty, and neither are their ids)."""
    marks = xp.zeros(size, np.int64)
    marks[starts[1:]] = 1
    return xp.cumsum(marks)


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


@functools.lru_cache(maxsize=2)
def engine(device: str = "auto") -> ArrayBPE:
    """One engine a process and device setting (tables built and uploaded once)."""
    return ArrayBPE(device)
