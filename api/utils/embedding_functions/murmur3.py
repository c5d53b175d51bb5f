"""MurmurHash3 x86 32-bit (Austin Appleby's public-domain algorithm), as ``mmh3.hash`` computes it.

Chroma's BM25 function hashes each token with ``abs(mmh3.hash(token, seed=0))``; this pure-Python
version gives the same numbers without the ``mmh3`` extension (tested against Chroma's outputs).
"""

from __future__ import annotations

import functools

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _scramble(k: int) -> int:
    k = (k * _C1) & _MASK
    k = _rotl(k, 15)
    return (k * _C2) & _MASK


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """The signed 32-bit hash of ``data`` (``mmh3.hash`` of bytes)."""
    h = seed & _MASK
    n = len(data)
    end = n - n % 4
    for i in range(0, end, 4):
        h ^= _scramble(int.from_bytes(data[i:i + 4], "little"))
        h = _rotl(h, 13)
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = data[end:]
    if tail:
        h ^= _scramble(int.from_bytes(tail, "little"))
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


@functools.lru_cache(maxsize=1 << 16)  # a corpus repeats its words: hashing is pure Python
def token_hash(token: str, seed: int = 0) -> int:
    """Chroma's BM25 token id: ``abs`` of the signed hash of the token's UTF-8 bytes."""
    return abs(murmur3_32(token.encode("utf-8"), seed))
