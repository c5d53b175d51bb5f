"""A light, deterministic embedding function for tests and examples (no model, no extra).

Features are the lower-cased words of a text and the character 3-grams of each word
(with boundary marks, so "cat" and "cats" share most features). Each feature is hashed
with BLAKE2b -- not Python's ``hash``, which is salted per process -- into one of ``dim``
buckets with a +1/-1 sign, the counts are summed and the vector is L2-normalised. The
result is stable across processes and machines, and texts sharing words land close.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction
from sedimentdb.utils.embedding_functions.registry import register_embedding_function
from sedimentdb.utils.embedding_functions.value_types import Documents, Embedding, Embeddings, Space

_WORD = re.compile(r"\w+", re.UNICODE)
_PERSON = b"sediment-hash-v1"
# A text with no word characters still gets a unit vector, so cosine distance stays defined.
_EMPTY_FEATURE = "\x00empty"


@register_embedding_function
class HashingEmbeddingFunction(EmbeddingFunction[Documents]):
    """Hashed words and character 3-grams, L2-normalised float32 vectors of ``dim`` dimensions."""

    def __init__(self, dim: int = 384) -> None:
        """``dim`` defaults to 384, the default model's width, so collections are interchangeable."""
        self.validate_config({"dim": dim})
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:
        """Embed each text independently; the same text always gives the same vector."""
        return [self._embed_one(text) for text in input]

    @staticmethod
    def name() -> str:
        """Registry name stored in collection configurations."""
        return "sediment_hashing"

    def get_config(self) -> dict[str, Any]:
        """``{"dim": ...}``."""
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbeddingFunction:
        """Inverse of :meth:`get_config`."""
        HashingEmbeddingFunction.validate_config(config)
        return HashingEmbeddingFunction(dim=config.get("dim", 384))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """``dim`` must be a positive integer."""
        dim = config.get("dim", 384)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"sediment_hashing: dim must be a positive integer, got {dim!r}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Changing ``dim`` would make stored vectors incomparable with new ones."""
        if new_config.get("dim", old_config.get("dim")) != old_config.get("dim"):
            raise ValueError("sediment_hashing: dim cannot be changed once vectors are stored")

    def default_space(self) -> Space:
        """Vectors are unit length, so cosine is the natural space."""
        return "cosine"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashingEmbeddingFunction) and other.dim == self.dim

    def __hash__(self) -> int:
        return hash((self.name(), self.dim))

    def __repr__(self) -> str:
        return f"HashingEmbeddingFunction(dim={self.dim})"

    def _embed_one(self, text: str) -> Embedding:
        vector = np.zeros(self.dim, dtype=np.float64)
        for feature in _features(text):
            bucket, sign = _bucket(feature, self.dim)
            vector[bucket] += sign
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            # Every feature cancelled out (possible, if unlikely): fall back to the sentinel.
            bucket, sign = _bucket(_EMPTY_FEATURE, self.dim)
            vector[bucket], norm = sign, 1.0
        return (vector / norm).astype(np.float32)


def _features(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    if not words:
        return [_EMPTY_FEATURE]
    features = [f"w:{w}" for w in words]
    for word in words:
        marked = f"<{word}>"
        features.extend(f"g:{marked[i : i + 3]}" for i in range(len(marked) - 2))
    return features


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    value = int.from_bytes(digest, "little")
    return (value >> 1) % dim, (1.0 if value & 1 else -1.0)
