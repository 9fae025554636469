"""The one hash behind ids, draws, orders and digests: BLAKE2b of a key.

Consumes keys (strings, or parts joined by ":" into one) and bytes; produces hex ids,
unsigned 64-bit integers, uniform floats in [0, 1) and raw digests. STYLE.md asks that
randomness come from a hash of (seed, document id), never from generator state: Spark
partition order is not stable. Everything in the pipeline that needs such a number takes it
from here, so that one rule (BLAKE2b, UTF-8, ":" between parts) holds everywhere.

The values are fixed forever: document ids, Pareto draws, mixture orders, decontamination
gram hashes and pack fingerprints are computed from them and stored in outputs
(tests/test_hashing.py pins a few).
"""
from __future__ import annotations

import hashlib

ID_BYTES = 12  # 24 hex characters: collisions stay negligible far past 10^9 documents


def key(*parts) -> str:
    """The parts as one string, joined by ":" (str() of each)."""
    return ":".join(map(str, parts))


def digest(data: str | bytes, size: int) -> bytes:
    """BLAKE2b of `size` bytes; a string is UTF-8 encoded (lone surrogates passed through)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=size).digest()


def hex_id(*parts) -> str:
    """A 24-character hex id from the parts' key."""
    return digest(key(*parts), ID_BYTES).hex()


def uint64(*parts, byteorder: str = "big") -> int:
    """An unsigned 64-bit integer from the parts' key."""
    return int.from_bytes(digest(key(*parts), 8), byteorder)


def unit_float(*parts) -> float:
    """A uniform number in [0, 1) from the parts' key: same parts, same number."""
    return uint64(*parts) / 2.0**64
