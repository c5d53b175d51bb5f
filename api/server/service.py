"""The thin service the HTTP handlers call: the embedded API over one shared engine.

One :class:`Service` per server owns one engine reference (through the same process-wide
cache the embedded clients use), so every request of every tenant shares one engine, which
is thread-safe. Each request gets a short-lived embedded :class:`~sedimentdb.local_clients.Client`
for its tenant and database, which also checks that both exist, then calls the same
``Collection`` methods embedded users call: validation, filter checks and result shaping are
the embedded layer's, not a second copy.

Two operations carry something the embedded API takes as a live object and the wire carries
as a description — the embedding function of a collection's configuration — so they are
composed here from the embedded layer's building blocks instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sedimentdb import embedding
from sedimentdb.collection import Collection
from sedimentdb.collection_config import build_configuration
from sedimentdb.collection_schema import SCHEMA_KEY, apply_schema
from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings
from sedimentdb.engine.database import Database as Engine
from sedimentdb.errors import (
    InvalidArgumentError,
    NotFoundError,
    UniqueConstraintError,
    already_exists,
    engine_boundary,
)
from sedimentdb.local_clients import AdminClient, Client
from sedimentdb.names import validate_collection_name, validate_database_name_over_http
from sedimentdb.server.config import ServerConfig
from sedimentdb.types import UserIdentity
from sedimentdb.validation import MAX_BATCH_SIZE, copy_metadata, validate_metadata

LEGACY_EF = {"type": "legacy"}


class Service:
    """Chroma's server operations over the embedded API."""

    def __init__(self, config: ServerConfig) -> None:
        self.settings = Settings(
            is_persistent=True, persist_directory=config.persist_path, allow_reset=config.allow_reset,
            sediment_durability=config.durability, sediment_read_only=config.read_only,
        )
        self._admin = AdminClient(self.settings)  # holds the engine open for the server's lifetime
        self._clients: dict[tuple[str, str], Client] = {}
        self._clients_lock = threading.Lock()

    # ---- lifecycle and system ---------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The shared engine (for health checks and log context)."""
        return self._admin._embedded_engine()

    def close(self) -> None:
        """Give the engine back; it closes (log synced, lock released) when nothing else holds it."""
        with self._clients_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        self._admin.close()

    @staticmethod
    def heartbeat() -> int:
        """Nanoseconds since the epoch."""
        return time.time_ns()

    def healthy(self) -> bool:
        """Whether the engine is open and accepting work."""
        return self.readiness()[0]

    def readiness(self) -> tuple[bool, str | None]:
        """(ready, why not): not ready once closed or once a fatal write failure (ENOSPC, EIO, a failed
        fsync) makes the engine refuse every write until it is reopened, i.e. until a restart."""
        engine = self.engine
        if engine.closed:
            return False, "the database is closed"
        failure = engine.write_failure
        if failure is not None:
            return False, (f"every write fails until the server restarts: {failure.message} "
                           "(acknowledged writes are safe in the log)")
        return True, None

    @staticmethod
    def pre_flight() -> dict[str, Any]:
        """What Chroma's clients ask before their first write."""
        return {"max_batch_size": MAX_BATCH_SIZE, "supports_base64_encoding": True}

    def reset(self) -> bool:
        """Wipe everything, if the server allows it."""
        with self._client_for(None, None) as client:
            return client.reset()

    # ---- tenants and databases --------------------------------------------------------------

    def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        self._admin.create_tenant(_text(name, "name"))

    def get_tenant(self, name: str) -> dict[str, Any]:
        """The tenant, or NotFoundError."""
        return dict(self._admin.get_tenant(name))

    def create_database(self, tenant: str, name: str) -> None:
        """Create a database in ``tenant``."""
        self._admin.create_database(validate_database_name_over_http(_text(name, "name")), tenant)

    def get_database(self, tenant: str, name: str) -> dict[str, Any]:
        """The database as JSON."""
        return _database_json(self._admin.get_database(name, tenant))

    def list_databases(self, tenant: str, limit: int | None, offset: int | None) -> list[dict[str, Any]]:
        """The tenant's databases."""
        return [_database_json(d) for d in self._admin.list_databases(limit, offset, tenant)]

    def delete_database(self, tenant: str, name: str) -> None:
        """Delete a database and its collections."""
        self._admin.delete_database(name, tenant)

    @staticmethod
    def default_identity() -> UserIdentity:
        """Who an unauthenticated caller is."""
        return UserIdentity(user_id="", tenant="default_tenant", databases=["default_database"])

    # ---- collections ------------------------------------------------------------------------

    @contextmanager
    def _client_for(self, tenant: str | None, database: str | None) -> Iterator[Client]:
        """The embedded client of a tenant and database, after checking both still exist.

        Clients are kept per (tenant, database): building one reads the settings and takes the
        engine cache's lock, which costs more than the request itself.
        """
        key = (tenant or DEFAULT_TENANT, database or DEFAULT_DATABASE)
        with self._clients_lock:
            client = self._clients.get(key)
        if client is None:
            fresh = Client(self.settings, *key)  # checks existence itself
            with self._clients_lock:
                client = self._clients.setdefault(key, fresh)
            if client is not fresh:
                fresh.close()  # another request built one first; give this engine reference back
        else:
            client._get_database(key[1], key[0])
        yield client

    def list_collections(self, tenant: str, database: str, limit: int | None, offset: int | None) -> list[Any]:
        """The database's collections."""
        with self._client_for(tenant, database) as client:
            return [c.get_model() for c in client.list_collections(limit, offset)]

    def count_collections(self, tenant: str, database: str) -> int:
        """How many collections the database holds."""
        with self._client_for(tenant, database) as client:
            return client.count_collections()

    def create_collection(
        self, tenant: str, database: str, name: Any, metadata: Any, configuration: dict[str, Any] | None,
        get_or_create: bool, schema: dict[str, Any] | None = None,
    ) -> Any:
        """Create (or with ``get_or_create`` fetch) a collection; the wire's EF description is stored as sent."""
        with self._client_for(tenant, database) as client:
            if metadata is not None:
                validate_metadata(metadata)
            validate_collection_name(name)
            configuration, stored_schema = apply_schema(schema, dict(configuration or {}))
            ef_description = configuration.pop("embedding_function", None) or LEGACY_EF
            if not isinstance(ef_description, dict):
                raise InvalidArgumentError("configuration.embedding_function must be an object")
            with engine_boundary():
                existing = client._find(name)
                if existing is not None:
                    if get_or_create:
                        return existing
                    raise already_exists(f"Collection [{name}] already exists")
            stored = build_configuration(configuration, metadata, embedding.DEFAULT)
            stored["embedding_function"] = ef_description
            if stored_schema is not None:
                stored[SCHEMA_KEY] = stored_schema
            try:
                with engine_boundary():
                    return client._engine().create_collection(
                        tenant, database, name,
                        metadata=copy_metadata(metadata) if metadata else None,
                        configuration=stored,
                    )
            except UniqueConstraintError:
                return client._found_after_race(name, get_or_create)  # a concurrent create won

    def get_collection(self, tenant: str, database: str, name: str) -> Any:
        """The named collection's model."""
        with self._client_for(tenant, database) as client:
            return client.get_collection(name, embedding_function=None).get_model()

    def get_collection_by_id(self, tenant: str, database: str, collection_id: str) -> Any:
        """The collection's model, by id."""
        with self.collection(tenant, database, collection_id) as collection:
            return collection.get_model()

    def delete_collection(self, tenant: str, database: str, name: str) -> None:
        """Delete the named collection."""
        with self._client_for(tenant, database) as client:
            client.delete_collection(name)

    def modify_collection(
        self, tenant: str, database: str, collection_id: str, new_name: Any, new_metadata: Any,
        new_configuration: dict[str, Any] | None,
    ) -> None:
        """Rename, replace metadata, change runtime HNSW settings and/or the EF description."""
        configuration = dict(new_configuration or {})
        ef_description = configuration.pop("embedding_function", None)
        with self.collection(tenant, database, collection_id) as collection:
            collection.modify(name=new_name, metadata=new_metadata, configuration=configuration or None)
            if ef_description is not None:
                stored = {**collection.get_model().configuration, "embedding_function": ef_description}
                with engine_boundary():
                    self.engine.modify_collection(collection.get_model().id, configuration=stored)

    @contextmanager
    def collection(self, tenant: str, database: str, collection_id: str,
                   missing_prefix: str | None = None) -> Iterator[Collection]:
        """The embedded ``Collection`` for an id in this tenant and database, usable inside the block.

        With ``missing_prefix``, a missing collection is reported in the words Chroma's record
        routes use: ``<prefix>Collection [id] does not exist.`` (the embedded handle's words).
        """
        try:
            uuid.UUID(collection_id)
        except ValueError:
            raise InvalidArgumentError(f"Invalid collection id: {collection_id}") from None
        with self._client_for(tenant, database) as client:
            try:
                collection = client.get_collection_by_id(collection_id, embedding_function=embedding.DEFAULT)
                if collection.tenant != tenant or collection.database != database:
                    raise NotFoundError(f"Collection [{collection_id}] does not exist")
            except NotFoundError:
                if missing_prefix is None:
                    raise
                raise NotFoundError(f"{missing_prefix}Collection [{collection_id}] does not exist.") from None
            yield collection


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"Expected {field} to be a string")
    return value


def _database_json(database: Any) -> dict[str, Any]:
    return {"id": str(database["id"]), "name": database["name"], "tenant": database["tenant"]}
