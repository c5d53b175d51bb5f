"""Plain result and description types the engine hands to its callers (the API layer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Metadata = dict[str, Any]


@dataclass(frozen=True)
class CollectionInfo:
    """What the catalog knows of one collection."""

    id: str
    tenant: str
    database: str
    name: str
    metadata: Metadata | None
    configuration: dict[str, Any]
    dimension: int | None
    # Forks only: [[ancestor id, fork LSN], ...], oldest first (engine/compactor/FORMAT.md, "Forks").
    lineage: list[list[Any]] | None = None


@dataclass(frozen=True)
class DatabaseInfo:
    """One database of a tenant."""

    id: str
    tenant: str
    name: str


@dataclass
class Records:
    """Columnar records, in the order the engine returns them.

    ``embeddings`` is a float32 array of shape (n, dim) (or ``None`` when not requested);
    ``distances`` is set only for query results.
    """

    ids: list[str] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    documents: list[str | None] | None = None
    metadatas: list[Metadata | None] | None = None
    uris: list[str | None] | None = None
    distances: list[float] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Include:
    """Which record fields a read returns (ids always)."""

    embeddings: bool = False
    documents: bool = True
    metadatas: bool = True
    uris: bool = False
    distances: bool = True
