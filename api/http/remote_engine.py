"""An engine-shaped proxy: the embedded ``Client``/``Collection`` call it, it calls the server.

It implements :class:`sedimentdb.engine_protocol.EngineProtocol`, the calls the API layer makes
on the embedded :class:`sedimentdb.engine.database.Database`, one HTTP request per call (and
``run_searches``, which the remote client uses to send a whole search batch at once). A 404 becomes the engine's ``NotFoundError`` (which the API layer
looks for, then translates); every other error answer is already the API's exception class.
Collections are remembered by id as they pass through, because record routes are addressed
by tenant and database as well as id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from sedimentdb import errors
from sedimentdb.collection_schema import SCHEMA_KEY
from sedimentdb.engine import storage_errors as engine_errors
from sedimentdb.engine.engine_types import CollectionInfo, DatabaseInfo, Include, Records
from sedimentdb.http.base64_vectors import encode_embedding
from sedimentdb.http.transport import Transport
from sedimentdb.sparse_vectors import sparse_index_configs

Scope = Callable[[], tuple[str, str]]


def _include_list(include: Include, with_distances: bool) -> list[str]:
    chosen = [name for name in ("documents", "embeddings", "metadatas", "uris") if getattr(include, name)]
    if with_distances and include.distances:
        chosen.append("distances")
    return chosen


def _records(body: dict[str, Any], index: int | None = None) -> Records:
    def column(key: str) -> Any:
        value = body.get(key)
        return value if value is None or index is None else value[index]

    embeddings = column("embeddings")
    return Records(
        ids=list(column("ids")),
        embeddings=None if embeddings is None else np.asarray(embeddings, dtype=np.float32),
        documents=column("documents"),
        metadatas=column("metadatas"),
        uris=column("uris"),
        distances=column("distances"),
    )


class RemoteEngine:
    """The engine calls of the API layer, served by a remote server."""

    closed = False

    def __init__(self, transport: Transport, scope: Scope) -> None:
        self._http = transport
        self._scope = scope  # the client's current (tenant, database), for lookups by id alone
        self._known: dict[str, CollectionInfo] = {}
        self._lock = threading.Lock()

    # ---- plumbing ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            return self._http.request(method, path, body, params)
        except errors.NotFoundError as exc:
            raise engine_errors.NotFoundError(exc.message()) from None

    def _remember(self, body: dict[str, Any]) -> CollectionInfo:
        configuration = dict(body.get("configuration_json") or {})
        schema = body.get("schema")
        if isinstance(schema, dict) and sparse_index_configs({SCHEMA_KEY: schema}):
            # The client fills sparse keys and embeds sparse text queries itself, as Chroma's does:
            # it needs the schema's sparse index (other schema parts stay the server's business).
            configuration[SCHEMA_KEY] = schema
        info = CollectionInfo(
            id=str(body["id"]), tenant=body["tenant"], database=body["database"], name=body["name"],
            metadata=body.get("metadata") or None, configuration=configuration,
            dimension=body.get("dimension"),
        )
        with self._lock:
            self._known[info.id] = info
        return info

    @staticmethod
    def _db(tenant: str, database: str) -> str:
        return f"/tenants/{tenant}/databases/{database}"

    def _info(self, collection_id: str) -> CollectionInfo:
        with self._lock:
            info = self._known.get(str(collection_id))
        return info if info is not None else self.get_collection_by_id(collection_id)

    def _records_path(self, collection_id: str, op: str) -> str:
        info = self._info(collection_id)
        return f"{self._db(info.tenant, info.database)}/collections/{info.id}/{op}"

    # ---- tenants and databases --------------------------------------------------------------

    def has_tenant(self, name: str) -> bool:
        """Whether the tenant exists."""
        try:
            self._call("GET", f"/tenants/{name}")
        except engine_errors.NotFoundError:
            return False
        return True

    def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        self._call("POST", "/tenants", {"name": name})

    def create_database(self, tenant: str, name: str) -> DatabaseInfo:
        """Create a database."""
        self._call("POST", f"/tenants/{tenant}/databases", {"name": name})
        return self.get_database(tenant, name)

    def get_database(self, tenant: str, name: str) -> DatabaseInfo:
        """The database, or the engine's NotFoundError."""
        body = self._call("GET", self._db(tenant, name))
        return DatabaseInfo(id=str(body["id"]), tenant=body["tenant"], name=body["name"])

    def list_databases(self, tenant: str, limit: int | None = None, offset: int = 0) -> list[DatabaseInfo]:
        """The tenant's databases."""
        found = self._call("GET", f"/tenants/{tenant}/databases", params={"limit": limit, "offset": offset})
        return [DatabaseInfo(id=str(d["id"]), tenant=d["tenant"], name=d["name"]) for d in found]

    def delete_database(self, tenant: str, name: str) -> None:
        """Delete a database."""
        self._call("DELETE", self._db(tenant, name))

    def reset(self) -> None:
        """Wipe the server (if it allows it)."""
        self._call("POST", "/reset")
        with self._lock:
            self._known.clear()

    # ---- collections ------------------------------------------------------------------------

    def create_collection(self, tenant: str, database: str, name: str, *, metadata: dict | None = None,
                          configuration: dict | None = None) -> CollectionInfo:
        """Create a collection with the configuration the API layer built."""
        configuration = dict(configuration or {})
        schema = configuration.pop(SCHEMA_KEY, None)  # the API layer keeps it inside; the wire has its own field
        body = {"name": name, "metadata": metadata, "configuration": configuration, "get_or_create": False}
        if schema is not None:
            body["schema"] = schema
        return self._remember(self._call("POST", f"{self._db(tenant, database)}/collections", body))

    def get_collection(self, tenant: str, database: str, name: str) -> CollectionInfo:
        """The named collection."""
        return self._remember(self._call("GET", f"{self._db(tenant, database)}/collections/{name}"))

    def get_collection_by_id(self, collection_id: str) -> CollectionInfo:
        """The collection with this id, looked up in the client's tenant and database."""
        tenant, database = self._scope()
        return self._remember(self._call("GET", f"{self._db(tenant, database)}/collections/by-id/{collection_id}"))

    def list_collections(self, tenant: str, database: str, limit: int | None = None,
                         offset: int = 0) -> list[CollectionInfo]:
        """The database's collections."""
        found = self._call("GET", f"{self._db(tenant, database)}/collections",
                           params={"limit": limit, "offset": offset or None})
        return [self._remember(c) for c in found]

    def count_collections(self, tenant: str, database: str) -> int:
        """How many collections the database holds."""
        return int(self._call("GET", f"{self._db(tenant, database)}/collections_count"))

    def modify_collection(self, collection_id: str, *, name: str | None = None, metadata: dict | None = None,
                          configuration: dict | None = None) -> CollectionInfo:
        """Send what changed; the API layer passes the whole new configuration, the wire wants the update."""
        info = self._info(collection_id)
        body: dict[str, Any] = {"new_name": name, "new_metadata": metadata}
        if configuration is not None:
            body["new_configuration"] = _configuration_update(info.configuration, configuration)
        self._call("PUT", f"{self._db(info.tenant, info.database)}/collections/{info.id}", body)
        return self._remember(self._call(
            "GET", f"{self._db(info.tenant, info.database)}/collections/by-id/{info.id}"))

    def delete_collection(self, collection_id: str) -> None:
        """Delete by name, as the route wants."""
        info = self._info(collection_id)
        self._call("DELETE", f"{self._db(info.tenant, info.database)}/collections/{info.name}")
        with self._lock:
            self._known.pop(info.id, None)

    def fork_collection(self, collection_id: str, new_name: str) -> CollectionInfo:
        """POST .../collections/{id}/fork; the new collection's description."""
        info = self._info(collection_id)
        return self._remember(self._call("POST", f"{self._db(info.tenant, info.database)}/collections/{info.id}/fork",
                                         {"new_name": new_name}))

    def fork_count(self, collection_id: str) -> int:
        """GET .../collections/{id}/fork_count."""
        info = self._info(collection_id)
        found = self._call("GET", f"{self._db(info.tenant, info.database)}/collections/{info.id}/fork_count")
        return int(found["count"])

    # ---- records ----------------------------------------------------------------------------

    def _write(self, op: str, collection_id: str, ids: list[str], embeddings: Any, documents: Any,
               metadatas: Any, uris: Any) -> int:
        body = {
            "ids": ids,
            "embeddings": None if embeddings is None else [encode_embedding(row) for row in embeddings],
            "metadatas": metadatas, "documents": documents, "uris": uris,
        }
        self._call("POST", self._records_path(collection_id, op), body)
        return 0  # the server does not return an LSN

    def add(self, collection_id: str, ids: list[str], embeddings: Any, documents: Any = None,
            metadatas: Any = None, uris: Any = None) -> int:
        """POST .../add."""
        return self._write("add", collection_id, ids, embeddings, documents, metadatas, uris)

    def update(self, collection_id: str, ids: list[str], embeddings: Any = None, documents: Any = None,
               metadatas: Any = None, uris: Any = None) -> int:
        """POST .../update."""
        return self._write("update", collection_id, ids, embeddings, documents, metadatas, uris)

    def upsert(self, collection_id: str, ids: list[str], embeddings: Any = None, documents: Any = None,
               metadatas: Any = None, uris: Any = None) -> int:
        """POST .../upsert."""
        return self._write("upsert", collection_id, ids, embeddings, documents, metadatas, uris)

    def delete(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
               where_document: dict | None = None, limit: int | None = None) -> int:
        """POST .../delete; how many were deleted."""
        body: dict[str, Any] = {"ids": ids, "where": where, "where_document": where_document}
        if limit is not None:
            body["limit"] = limit
        return int(self._call("POST", self._records_path(collection_id, "delete"), body).get("deleted", 0))

    def count(self, collection_id: str, read_level: str = "index_and_wal") -> int:
        """GET .../count?read_level=..., as Chroma's client sends it."""
        return int(self._call("GET", self._records_path(collection_id, "count"), params={"read_level": read_level}))

    def get(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
            where_document: dict | None = None, limit: int | None = None, offset: int = 0,
            include: Include = Include()) -> Records:
        """POST .../get."""
        body = {"ids": ids, "where": where, "where_document": where_document, "limit": limit,
                "offset": offset or None, "include": _include_list(include, with_distances=False)}
        return _records(self._call("POST", self._records_path(collection_id, "get"), body))

    def query(self, collection_id: str, embeddings: Any, n_results: int, where: dict | None = None,
              where_document: dict | None = None, ids: list[str] | None = None,
              include: Include = Include()) -> list[Records]:
        """POST .../query; one ``Records`` per query row."""
        matrix = np.asarray(embeddings, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        body = {"query_embeddings": matrix.tolist(), "n_results": n_results, "where": where,
                "where_document": where_document, "ids": ids,
                "include": _include_list(include, with_distances=True)}
        answer = self._call("POST", self._records_path(collection_id, "query"), body)
        return [_records(answer, i) for i in range(len(answer["ids"]))]

    def run_searches(self, collection_id: str, payloads: list[dict[str, Any]], read_level: str) -> dict[str, Any]:
        """POST .../search: the whole batch in one request, answered with the ``SearchResult`` columns."""
        body = {"searches": payloads, "read_level": read_level}
        return dict(self._call("POST", self._records_path(collection_id, "search"), body))


def _configuration_update(existing: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Only the HNSW values that changed, and the embedding function if it did."""
    old_hnsw, new_hnsw = existing.get("hnsw") or {}, new.get("hnsw") or {}
    update: dict[str, Any] = {}
    changed = {k: v for k, v in new_hnsw.items() if old_hnsw.get(k) != v}
    if changed:
        update["hnsw"] = changed
    if new.get("embedding_function") != existing.get("embedding_function"):
        update["embedding_function"] = new.get("embedding_function")
    return update
