"""The value types an embedding function consumes and produces, as Chroma names them.

They are the aliases of :mod:`sedimentdb.types` (Chroma's ``chromadb.api.types``), re-exported
so that both import paths name the very same types.
"""

from __future__ import annotations

from sedimentdb.types import Document, Documents, Embedding, Embeddings, Space

ALL_SPACES: list[Space] = ["cosine", "l2", "ip"]
"""Every distance space, in Chroma's order (what ``supported_spaces()`` returns by default)."""

__all__ = ["ALL_SPACES", "Document", "Documents", "Embedding", "Embeddings", "Space"]
