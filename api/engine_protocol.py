"""``EngineProtocol``: the seam between the API layer and an engine.

The clients and :class:`~sedimentdb.collection.Collection` validate, embed and shape results,
then make exactly these calls. Two classes implement them: the embedded
:class:`sedimentdb.engine.database.Database`, and :class:`sedimentdb.http.remote_engine.RemoteEngine`,
which turns each call into one request to a server (whose route runs the embedded code again).
mypy checks both against this protocol where the clients return them from ``_engine()``;
tests/api/test_engine_protocol.py compares their signatures with it.

Inputs are already valid when they get here (the API checked them in Chroma's words); the
engine's own checks are a last line, and its errors (``sedimentdb.engine.storage_errors``)
are translated by :func:`sedimentdb.errors.engine_boundary`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from sedimentdb.engine.engine_types import CollectionInfo, DatabaseInfo, Include, Records

Metadatas = list[dict[str, Any] | None]


@runtime_checkable
class EngineProtocol(Protocol):
    """The catalog and record calls the API layer makes on an engine, embedded or remote."""

    # ---- tenants and databases ----------------------------------------------------------------

    def has_tenant(self, name: str) -> bool:
        """Whether the tenant exists."""
        ...

    def create_tenant(self, name: str) -> None:
        """Create a tenant (the engine's AlreadyExistsError if it exists)."""
        ...

    def create_database(self, tenant: str, name: str) -> DatabaseInfo:
        """Create a database in an existing tenant."""
        ...

    def get_database(self, tenant: str, name: str) -> DatabaseInfo:
        """The database, or the engine's NotFoundError."""
        ...

    def list_databases(self, tenant: str, limit: int | None = None, offset: int = 0) -> list[DatabaseInfo]:
        """The tenant's databases in creation order, paged."""
        ...

    def delete_database(self, tenant: str, name: str) -> None:
        """Delete a database and every collection in it."""
        ...

    def reset(self) -> None:
        """Delete everything, leaving the default tenant and database."""
        ...

    # ---- collections --------------------------------------------------------------------------

    def create_collection(self, tenant: str, database: str, name: str, *, metadata: dict | None = None,
                          configuration: dict | None = None) -> CollectionInfo:
        """Create a collection with the configuration the API layer built."""
        ...

    def get_collection(self, tenant: str, database: str, name: str) -> CollectionInfo:
        """The named collection, or the engine's NotFoundError."""
        ...

    def get_collection_by_id(self, collection_id: str) -> CollectionInfo:
        """The collection with this id, or the engine's NotFoundError."""
        ...

    def list_collections(self, tenant: str, database: str, limit: int | None = None,
                         offset: int = 0) -> list[CollectionInfo]:
        """The database's collections, ordered by id, paged."""
        ...

    def count_collections(self, tenant: str, database: str) -> int:
        """How many collections the database holds."""
        ...

    def modify_collection(self, collection_id: str, *, name: str | None = None, metadata: dict | None = None,
                          configuration: dict | None = None) -> CollectionInfo:
        """Rename, replace the metadata, or replace the whole configuration; the new description."""
        ...

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and its records."""
        ...

    def fork_collection(self, collection_id: str, new_name: str) -> CollectionInfo:
        """A new collection ``new_name`` holding the collection's records now (docs/FORK.md)."""
        ...

    def fork_count(self, collection_id: str) -> int:
        """Forks made in the collection's lineage."""
        ...

    # ---- records ------------------------------------------------------------------------------

    def add(self, collection_id: str, ids: list[str], embeddings: np.ndarray | None,
            documents: list[str | None] | None = None, metadatas: Metadatas | None = None,
            uris: list[str | None] | None = None) -> int:
        """Add records (existing ids are ignored); ``embeddings`` is float32 (n, dim). An LSN, or 0."""
        ...

    def update(self, collection_id: str, ids: list[str], embeddings: np.ndarray | None = None,
               documents: list[str | None] | None = None, metadatas: Metadatas | None = None,
               uris: list[str | None] | None = None) -> int:
        """Update existing records (missing ids are ignored; metadata merges). An LSN, or 0."""
        ...

    def upsert(self, collection_id: str, ids: list[str], embeddings: np.ndarray | None = None,
               documents: list[str | None] | None = None, metadatas: Metadatas | None = None,
               uris: list[str | None] | None = None) -> int:
        """Insert new ids, update existing ones. An LSN, or 0."""
        ...

    def delete(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
               where_document: dict | None = None, limit: int | None = None) -> int:
        """Delete by ids and/or filters (intersected); how many records were deleted."""
        ...

    def count(self, collection_id: str, read_level: str = "index_and_wal") -> int:
        """Live records in the collection, at ``read_level`` (engine/read_levels.py)."""
        ...

    def get(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
            where_document: dict | None = None, limit: int | None = None, offset: int = 0,
            include: Include = Include()) -> Records:
        """Records matching ids and filters in insertion order, paged."""
        ...

    def query(self, collection_id: str, embeddings: np.ndarray, n_results: int, where: dict | None = None,
              where_document: dict | None = None, ids: list[str] | None = None,
              include: Include = Include()) -> list[Records]:
        """The ``n_results`` nearest live records for each query row, nearest first."""
        ...


@runtime_checkable
class SearchEngineProtocol(EngineProtocol, Protocol):
    """An engine that runs the Search API's plans itself: the calls above plus sparse ``Knn``.

    Only the embedded engine is one; a remote client sends the whole search batch to the server,
    which runs it on its embedded engine. Its reads take a ``read_level`` (engine/read_levels.py).
    """

    def get(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
            where_document: dict | None = None, limit: int | None = None, offset: int = 0,
            include: Include = Include(), read_level: str = "index_and_wal") -> Records:
        """Records matching ids and filters in insertion order, paged, at ``read_level``."""
        ...

    def query(self, collection_id: str, embeddings: np.ndarray, n_results: int, where: dict | None = None,
              where_document: dict | None = None, ids: list[str] | None = None,
              include: Include = Include(), read_level: str = "index_and_wal") -> list[Records]:
        """The ``n_results`` nearest records for each query row at ``read_level``, nearest first."""
        ...

    def sparse_query(self, collection_id: str, key: str, indices: list[int], values: list[float], n_results: int,
                     where: dict | None = None, where_document: dict | None = None, ids: list[str] | None = None,
                     include: Include = Include(), read_level: str = "index_and_wal") -> Records:
        """The ``n_results`` live records whose sparse vector under ``key`` has the largest dot product
        with the query (``indices``, ``values``), as distances ``1 - dot``, nearest first."""
        ...
