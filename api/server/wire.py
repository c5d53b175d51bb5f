"""Conversions between Chroma's JSON wire format and the embedded API's values.

Embeddings arrive as lists of numbers or, when the client saw ``supports_base64_encoding``
in the pre-flight checks, as base64 strings of packed little-endian float32 (Chroma's
``pack_embedding_safely``). Results leave as plain JSON: numpy arrays become lists, and a
field the caller did not include is left out, as Chroma's server does.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from sedimentdb.engine.types import CollectionInfo

_LITTLE_ENDIAN_F32 = np.dtype("<f4")


def decode_embedding(value: Any, position: int) -> np.ndarray:
    """One embedding from the wire: a list of numbers or a base64 float32 string."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"Embedding at position {position} is not valid base64") from None
        if len(raw) % 4:
            raise ValueError(f"Embedding at position {position} is not a whole number of float32 values")
        return np.frombuffer(raw, dtype=_LITTLE_ENDIAN_F32).astype(np.float32)
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=np.float32)
    raise ValueError(f"Expected embedding at position {position} to be a list of numbers or a base64 string")


def decode_embeddings(values: Any) -> list[np.ndarray] | None:
    """The ``embeddings`` field of add/update/upsert, or ``None``."""
    if values is None:
        return None
    if not isinstance(values, list):
        raise ValueError("Expected embeddings to be a list")
    return [decode_embedding(v, i) for i, v in enumerate(values)]


def encode_embedding(row: np.ndarray) -> str:
    """The base64 wire form of one float32 vector (what Chroma's Python client sends)."""
    return base64.b64encode(np.ascontiguousarray(row, dtype=_LITTLE_ENDIAN_F32).tobytes()).decode("ascii")


def collection_json(info: CollectionInfo) -> dict[str, Any]:
    """Chroma's ``Collection`` JSON for one collection."""
    return {
        "id": info.id,
        "name": info.name,
        "configuration_json": info.configuration,
        "schema": None,
        "metadata": info.metadata or None,
        "dimension": info.dimension,
        "tenant": info.tenant,
        "database": info.database,
        "log_position": 0,
        "version": 0,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def result_json(result: dict[str, Any], include: list[str]) -> dict[str, Any]:
    """A ``GetResult``/``QueryResult`` as JSON: ids, the included fields, and ``include``."""
    body: dict[str, Any] = {"ids": result["ids"], "include": include}
    for key in ("embeddings", "documents", "uris", "metadatas", "distances"):
        if key in include and result.get(key) is not None:
            body[key] = _plain(result[key])
    return body
