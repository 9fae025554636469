"""Mutation fuzzing of real inputs: seeded damage to bytes, for the reader, extractor and ingest.

Consumes the bytes of a real file and a seeded `random.Random`; produces the damaged bytes
and the range of the original that the damage touched (flip, insert, delete, truncate, or
duplicate a run of bytes, as disks, transfers and broken crawlers do). Used by the short
fuzz test in tests/test_ingest.py and the long run of bench/fuzz_bench.py.
"""
from __future__ import annotations

MUTATIONS = ("flip", "insert", "delete", "truncate", "duplicate")


def mutate(data: bytes, rng) -> tuple[bytes, int, int]:
    """One random damage: (damaged data, first and last byte position touched in the
    original; last is len(data) for a cut)."""
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
    start = rng.randrange(len(data))
    return data[:pos] + data[start:start + rng.randrange(1, 4096)] + data[pos:], pos, pos
