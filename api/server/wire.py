"""Conversions between Chroma's JSON wire format and the embedded API's values.

Embeddings arrive as lists of numbers or, when the client saw ``supports_base64_encoding``
in the pre-flight checks, as base64 strings of packed little-endian float32 (Chroma's
``pack_embedding_safely``). Results leave as plain JSON: numpy arrays become lists, and a
field the caller did not include is left out, as Chroma's server does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.collection_schema import public_configuration, schema_json
from sedimentdb.engine.engine_types import CollectionInfo
from sedimentdb.errors import InvalidArgumentError
from sedimentdb.http.base64_vectors import decode_embedding as decode_base64
from sedimentdb.schema import SparseVector
from sedimentdb.server.limits import PER_QUERY


def decode_embedding(value: Any, position: int) -> np.ndarray:
    """One embedding from the wire: a list of numbers or a base64 float32 string."""
    if isinstance(value, str):
        return _finite(decode_base64(value, position))
    if isinstance(value, list):  # the request model already checked these are numbers
        return np.asarray(value, dtype=np.float32)
    raise ValueError(f"Expected embedding at position {position} to be a list of numbers or a base64 string")


def _finite(vector: np.ndarray) -> np.ndarray:
    """A decoded base64 vector, refused as Chroma's decoder refuses it when a value is NaN or infinite.

    JSON numbers cannot be NaN (the request model refuses them); base64 floats can, and Chroma's JS
    client sends every embedding as base64.
    """
    bad = np.flatnonzero(~np.isfinite(vector))
    if bad.size:
        index = int(bad[0])
        raise InvalidArgumentError(f"Non-finite float value at embedding index {index}: {_rust_f32(vector[index])}")
    return vector


def _rust_f32(value: np.floating[Any]) -> str:
    """How Rust prints a non-finite f32: ``NaN``, ``inf``, ``-inf``."""
    return "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")


def decode_embeddings(values: Any) -> list[np.ndarray] | None:
    """The ``embeddings`` field of add/update/upsert, or ``None``."""
    if values is None:
        return None
    if not isinstance(values, list):
        raise ValueError("Expected embeddings to be a list")
    return [decode_embedding(v, i) for i, v in enumerate(values)]


def decode_metadatas(values: list[Any] | None) -> list[Any] | None:
    """The ``metadatas`` field of add/update/upsert: an empty object is no metadata, as in Chroma.

    Chroma's server accepts ``{}`` for a record (its Python client refuses it before sending, but
    its JS client sends ``{}`` for ``{key: null}``, dropping null values): stored, it has no keys and
    reads back as ``null``; in an update or upsert it merges nothing. ``None`` means the same to the
    embedded layer, whose client-side rule refuses ``{}``.
    """
    if values is None:
        return None
    return [None if isinstance(value, dict) and not value else value for value in values]


def collection_json(info: CollectionInfo) -> dict[str, Any]:
    """Chroma's ``Collection`` JSON for one collection."""
    return {
        "id": info.id,
        "name": info.name,
        "configuration_json": public_configuration(info.configuration),
        "schema": schema_json(info.configuration),
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
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, SparseVector):
        return value.to_dict()  # Chroma's wire form, which its clients turn back into SparseVector
    return value


def no_results(result: dict[str, Any]) -> dict[str, Any]:
    """A query result with every query's list emptied (``n_results`` 0), the columns kept as they are."""
    return {key: [[] for _ in value] if key in PER_QUERY and value is not None else value
            for key, value in result.items()}


def result_json(result: dict[str, Any], include: list[str]) -> dict[str, Any]:
    """A ``GetResult``/``QueryResult`` as JSON: ids, the included fields, and ``include``."""
    body: dict[str, Any] = {"ids": result["ids"], "include": include}
    for key in ("embeddings", "documents", "uris", "metadatas", "distances"):
        if key in include and result.get(key) is not None:
            body[key] = _plain(result[key])
    return body
