"""Chroma's base64 embedding encoding: packed little-endian float32, one string per vector.

Chroma's Python client sends embeddings this way once the pre-flight checks say
``supports_base64_encoding`` (``pack_embedding_safely``); it is ~4x smaller than JSON
numbers and exact. Both our client and our server use this one codec.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

LITTLE_ENDIAN_F32 = np.dtype("<f4")


def encode_embedding(row: np.ndarray) -> str:
    """One vector as base64 of its little-endian float32 bytes."""
    return base64.b64encode(np.ascontiguousarray(row, dtype=LITTLE_ENDIAN_F32).tobytes()).decode("ascii")


def decode_embedding(text: str, position: int = 0) -> np.ndarray:
    """The float32 vector a base64 string holds; ValueError if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"Embedding at position {position} is not valid base64") from None
    if len(raw) % 4:
        raise ValueError(f"Embedding at position {position} is not a whole number of float32 values")
    return np.frombuffer(raw, dtype=LITTLE_ENDIAN_F32).astype(np.float32)
