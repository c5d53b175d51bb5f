"""Sparse vectors in record metadata: checked, computed from a source by the schema's sparse
embedding function at write, stored in Chroma's wire form, and given back as ``SparseVector``.

Chroma keeps a sparse vector as a metadata value. Its client fills the key a schema's sparse
vector index names (``SparseVectorIndexConfig(source_key=..., embedding_function=...)``) for
every record that does not bring one, from ``#document`` or from another metadata key, before
sending the write (``CollectionCommon._apply_sparse_embeddings_to_metadatas``); the embedded
collection does the same here. The engine stores ``{"#type": "sparse_vector", "indices",
"values", "tokens"?}`` inside the metadata JSON and indexes it (engine/segments/sparse.py).
"""

from __future__ import annotations

import math
from typing import Any

from sedimentdb import embedding, errors
from sedimentdb.collection_schema import DOCUMENT_KEY, SCHEMA_KEY
from sedimentdb.schema import SparseVector
from sedimentdb.validation import is_sparse_vector


def sparse_index_configs(configuration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Key -> config of every enabled sparse vector index in a collection's stored schema."""
    schema = configuration.get(SCHEMA_KEY)
    if not isinstance(schema, dict):
        return {}
    found = {}
    for key, value_types in (schema.get("keys") or {}).items():
        index = ((value_types or {}).get("sparse_vector") or {}).get("sparse_vector_index") or {}
        if index.get("enabled") is True:
            found[key] = index.get("config") or {}
    return found


def sparse_function(config: dict[str, Any]) -> Any:
    """The sparse embedding function a stored index config describes, or None."""
    return embedding.rebuild(config.get("embedding_function"))


def embed_sparse_targets(configuration: dict[str, Any], metadatas: list[Any] | None,
                         documents: list[Any] | None, functions: dict[str, Any]) -> list[Any] | None:
    """``metadatas`` with each sparse index's key filled, where missing, from its source.

    ``functions`` caches each key's rebuilt function (the collection keeps it). Chroma's rules:
    a record that already has the key keeps its value; the source must be a string (a document,
    or a string metadata value); an empty metadata stays ``None``.
    """
    targets = {}
    for key, config in sparse_index_configs(configuration).items():
        source = config.get("source_key")
        if source is None:
            continue
        if key not in functions:
            functions[key] = sparse_function(config)
        if functions[key] is not None:
            targets[key] = (source, functions[key])
    if not targets or (metadatas is None and documents is None):
        return metadatas
    n = len(metadatas) if metadatas is not None else len(documents or [])
    updated = [dict(m) if m else {} for m in (metadatas or [None] * n)]
    for key, (source, function) in targets.items():
        positions, inputs = [], []
        for i, meta in enumerate(updated):
            if key in meta:
                continue
            text = (documents[i] if documents is not None and i < len(documents) else None) \
                if source == DOCUMENT_KEY else meta.get(source)
            if isinstance(text, str):
                positions.append(i)
                inputs.append(text)
        if not inputs:
            continue
        vectors = function(inputs)
        if len(vectors) != len(positions):
            raise ValueError("Sparse embedding function returned unexpected number of embeddings.")
        for i, vector in zip(positions, vectors, strict=True):
            updated[i][key] = vector
    return [m or None for m in updated]


def embed_sparse_query(configuration: dict[str, Any], key: str, text: str, functions: dict[str, Any]) -> Any:
    """The sparse vector of a text ``Knn`` query on ``key``, embedded by the key's sparse function.

    ``None`` when ``key`` has no sparse vector index (the caller then treats it as dense).
    """
    config = sparse_index_configs(configuration).get(key)
    if config is None:
        return None
    if key not in functions:
        functions[key] = sparse_function(config)
    function = functions[key]
    if function is None:
        raise ValueError(f"Cannot embed string query for key '{key}': its sparse vector index has no "
                         "embedding function. Please provide a SparseVector.")
    query = getattr(function, "embed_query", function)
    vectors = query([text])
    if not vectors or len(vectors) != 1:
        raise ValueError("Sparse embedding function returned unexpected number of embeddings")
    return vectors[0]


def check_sparse_value(field: str, key: str, value: Any, index: int | None = None) -> dict[str, Any]:
    """A sparse metadata value (object or wire dict) as a checked wire dict.

    Refused in Chroma's words (``SparseVector``'s own checks), plus what JSON cannot carry:
    NaN and infinite values.
    """
    try:
        vector = value if isinstance(value, SparseVector) else SparseVector.from_dict(value)
        vector.__post_init__()  # an object may have been changed after it was built
    except (ValueError, KeyError, TypeError) as exc:
        at = f" at index {index}" if index is not None else ""
        raise errors.InvalidArgumentError(f"Validation error: {field}: Invalid sparse vector{at} for key "
                                          f"'{key}': {exc}") from None
    if not all(math.isfinite(v) for v in vector.values):
        raise errors.InvalidArgumentError(f"Validation error: {field}: sparse vector for key '{key}' holds a "
                                          "NaN or infinite value")
    return vector.to_dict()


def to_wire(metadatas: list[Any] | None, field: str = "metadatas") -> list[Any] | None:
    """Copies of ``metadatas`` with every sparse vector as a checked wire dict."""
    if metadatas is None:
        return None
    out: list[Any] = []
    for i, meta in enumerate(metadatas):
        if not meta or not any(is_sparse_vector(v) for v in meta.values()):
            out.append(meta)
            continue
        out.append({k: check_sparse_value(field, k, v, i) if is_sparse_vector(v) else v for k, v in meta.items()})
    return out


def from_wire(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """``metadata`` with each wire-form sparse vector as a :class:`SparseVector` (what Chroma's clients return)."""
    if not metadata or not any(isinstance(v, dict) and is_sparse_vector(v) for v in metadata.values()):
        return metadata
    return {k: SparseVector.from_dict(v) if isinstance(v, dict) and is_sparse_vector(v) else v
            for k, v in metadata.items()}
