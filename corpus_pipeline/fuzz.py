"""Mutation fuzzing of real inputs: seeded damage to bytes, for the reader, extractor and ingest.

Consumes the bytes of a real file and a seeded `random.Random`; produces the damaged bytes
and the range of the original that the damage touched (flip, insert, delete, truncate, or
duplicate a run of bytes, as disks, transfers and broken crawlers do), or the same records
stored anew (recompressed as one gzip stream, or decompressed), which must read the same. Used by the short
fuzz test in tests/test_ingest.py and the long run of bench/fuzz_bench.py.
"""
from __future__ import annotations

import gzip
import zlib

MUTATIONS = ("flip", "insert", "delete", "truncate", "duplicate", "recompress")


def mutate(data: bytes, rng) -> tuple[bytes, int, int]:
    """One random damage: (damaged data, first and last byte position touched in the
    original; last is len(data) for a cut; -1, -1 when no record is touched)."""
    pos = rng.randrange(len(data))
    kind = rng.choice(MUTATIONS)
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ rng.randrange(1, 256)]) + data[pos + 1:], pos, pos + 1
    if kind == "insert":
        return data[:pos] + rng.randbytes(rng.randrange(1, 64)) + data[pos:], pos, pos
    if kind == "delete":
        size = rng.randrange(1, 512)
        return data[:pos] + data[pos + size:], pos, pos + size
    if kind == "truncate":
        return data[:pos], pos, len(data)
    if kind == "recompress":
        return recompressed(data, rng), -1, -1
    start = rng.randrange(len(data))
    return data[:pos] + data[start:start + rng.randrange(1, 4096)] + data[pos:], pos, pos


def recompressed(data: bytes, rng) -> bytes:
    """The same bytes stored another way: a gzip file (one member per record or one stream)
    decompressed or made one stream; a plain file gzipped as one stream."""
    try:
        plain = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):  # not gzip
        return gzip.compress(data, mtime=0)
    return plain if rng.random() < 0.5 else gzip.compress(plain, mtime=0)
