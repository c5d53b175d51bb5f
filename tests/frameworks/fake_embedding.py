"""A deterministic bag-of-words embedding: texts sharing words are near, so rankings are meaningful.

Each word is hashed (crc32, stable across processes, unlike ``hash``) into one of ``DIM`` buckets;
the vector is L2-normalized.
"""

from __future__ import annotations

import math
import re
import zlib

DIM = 64


def embed(text: str) -> list[float]:
    """The embedding of ``text``."""
    vector = [0.0] * DIM
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[zlib.crc32(word.encode()) % DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
