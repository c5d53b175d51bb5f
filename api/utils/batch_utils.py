"""``chromadb.utils.batch_utils``: split a large write into batches the client accepts."""

from __future__ import annotations

from typing import Any

from sedimentdb.local_clients import Client as BaseAPI  # noqa: F401  (Chroma's annotation of ``api``)
from sedimentdb.types import Documents, Embeddings, IDs, Metadatas  # noqa: F401


def create_batches(
    api: Any,
    ids: list[str],
    embeddings: list[Any] | None = None,
    metadatas: list[Any] | None = None,
    documents: list[Any] | None = None,
) -> list[tuple[list[str], Any, Any, Any]]:
    """``(ids, embeddings, metadatas, documents)`` tuples of at most ``api.get_max_batch_size()`` records."""
    size = api.get_max_batch_size()
    batches = []
    for start in range(0, len(ids), size):
        end = start + size
        batches.append((
            ids[start:end],
            embeddings[start:end] if embeddings is not None else None,
            metadatas[start:end] if metadatas is not None else None,
            documents[start:end] if documents is not None else None,
        ))
    return batches
