"""Coerce whatever an embedding function returned into Chroma's ``Embeddings`` and check it.

Chroma wraps every subclass's ``__call__`` with these two steps, so user code may return
lists of lists or a 2-D array and callers still always see a list of 1-D numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.utils.embedding_functions.value_types import Embeddings

_ALLOWED_DTYPES = (np.float16, np.float32, np.float64, np.int32, np.int64)


def normalize_embeddings(target: Any) -> Embeddings:
    """Turn a 1-D/2-D array, one flat list of numbers, or a list of vectors into a list of arrays.

    Plain Python numbers become float32 (Chroma's storage type); arrays keep their dtype so
    a caller's precision is not silently changed.
    """
    if isinstance(target, np.ndarray):
        if target.ndim == 1:
            return [target]
        if target.ndim == 2:
            return list(target)
        raise ValueError(f"Expected embeddings to be 1-D or 2-D, got a {target.ndim}-D array")
    if isinstance(target, (list, tuple)):
        if len(target) == 0:
            return []
        first = target[0]
        if _is_number(first):
            return [np.asarray(target, dtype=np.float32)]
        return [e if isinstance(e, np.ndarray) else np.asarray(e, dtype=np.float32) for e in target]
    raise ValueError(f"Expected embeddings to be a list or numpy array, got {type(target).__name__}")


def validate_embeddings(embeddings: Embeddings) -> Embeddings:
    """Check a non-empty list of non-empty 1-D numeric arrays; return it unchanged."""
    if not isinstance(embeddings, list):
        raise ValueError(f"Expected embeddings to be a list, got {type(embeddings).__name__}")
    if len(embeddings) == 0:
        raise ValueError("Expected embeddings to be a list with at least one item, got 0 embeddings")
    for i, embedding in enumerate(embeddings):
        if not isinstance(embedding, np.ndarray):
            raise ValueError(
                f"Expected each embedding to be a numpy array, got {type(embedding).__name__} at pos {i}"
            )
        if embedding.ndim != 1:
            raise ValueError(f"Expected a 1-dimensional array at pos {i}, got {embedding.ndim} dimensions")
        if embedding.size == 0:
            raise ValueError(f"Expected a 1-dimensional numpy array with at least one value at pos {i}")
        if embedding.dtype not in _ALLOWED_DTYPES:
            raise ValueError(
                f"Expected each value in the embedding to be an int or float, got {embedding.dtype}"
            )
    return embeddings


def _is_number(value: Any) -> bool:
    # bool is an int subclass; a list of bools is not a vector.
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
