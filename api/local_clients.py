"""Local clients (``chromadb.api.client``): ``Client`` for collections, ``AdminClient`` for tenants.

A client holds a reference to a shared engine (:mod:`sedimentdb.system`) plus the tenant and
database it works in. Construction is not lazy, as in Chroma: the engine is opened and the
tenant and database are checked at once, so a locked or missing directory fails here.

With ``Settings(sediment_read_only=True)`` the engine is opened read-only (no writer lock):
every engine call first catches up with the writer's files, at most once every
``sediment_refresh_interval`` seconds, and every write raises :class:`~sedimentdb.errors.ReadOnlyError`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sedimentdb import embedding, system
from sedimentdb.collection import Collection
from sedimentdb.collection_config import build_configuration
from sedimentdb.collection_schema import SCHEMA_KEY, apply_schema
from sedimentdb.config import CHROMA_VERSION, DEFAULT_DATABASE, DEFAULT_TENANT, Settings
from sedimentdb.engine.database import Database as EmbeddedEngine
from sedimentdb.engine.engine_types import CollectionInfo, DatabaseInfo
from sedimentdb.engine.storage_errors import NotFoundError as EngineNotFoundError
from sedimentdb.engine_protocol import EngineProtocol
from sedimentdb.errors import (
    AuthorizationError,
    NotFoundError,
    UniqueConstraintError,
    already_exists,
    engine_boundary,
    read_only,
)
from sedimentdb.names import validate_collection_name, validate_database_name, validate_tenant_name
from sedimentdb.search_eval import run_search
from sedimentdb.search_plan import SEARCH_COLUMNS, SearchPlan
from sedimentdb.types import Database, Tenant, UserIdentity
from sedimentdb.validation import MAX_BATCH_SIZE, check_collection_metadata, copy_metadata


class _SharedEngineClient:
    """Owns one reference to a shared engine; ``close()`` and ``with`` give it back."""

    # Class defaults: remote clients skip this __init__ (their server decides what is writable).
    _read_only = False
    _refresh_interval = 0.0
    _refreshed_at: float | None = None

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._system_key, self._database_engine = system.acquire(settings)
        self._closed = False
        self._read_only = bool(settings.sediment_read_only)
        self._refresh_interval = float(settings.sediment_refresh_interval)
        self._refreshed_at: float | None = None  # monotonic time of this client's last refresh

    def _engine(self) -> EngineProtocol:
        """The engine every API call goes through: here the shared embedded one (remote clients override)."""
        return self._embedded_engine()

    def _embedded_engine(self) -> EmbeddedEngine:
        """The shared embedded engine; a read-only one first catches up with its writer when due.

        Callers run inside ``engine_boundary()``, so a refresh that fails surfaces as a Chroma error.
        """
        if self._closed:
            raise RuntimeError("This client has been closed")
        if self._read_only:
            now = time.monotonic()
            if self._refreshed_at is None or now - self._refreshed_at >= self._refresh_interval:
                self._database_engine.refresh()
                self._refreshed_at = now
        return self._database_engine

    def _require_writable(self, operation: str) -> None:
        """ReadOnlyError naming ``operation`` if this client was opened read-only."""
        if self._read_only:
            raise read_only(operation)

    @property
    def is_read_only(self) -> bool:
        """Whether this client was opened with ``sediment_read_only=True`` (every write is refused)."""
        return self._read_only

    def close(self) -> None:
        """Release this client's engine reference; the last client on a path closes the engine. Idempotent."""
        if not self._closed:
            self._closed = True
            system.release(self._system_key, self._database_engine)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def clear_system_cache() -> None:
        """Forget (and close) every shared engine of this process."""
        system.clear()

    def get_settings(self) -> Settings:
        """The settings this client was built with."""
        return self._settings

    def heartbeat(self) -> int:
        """The current time in nanoseconds since the epoch."""
        self._engine()
        return time.time_ns()

    def get_version(self) -> str:
        """The Chroma version whose API this implements (clients use it to pick features)."""
        return CHROMA_VERSION

    # ---- tenants and databases (shared by both clients) ----------------------------------

    def _require_tenant(self, name: str) -> None:
        with engine_boundary():
            exists = self._engine().has_tenant(name)
        if not exists:
            raise NotFoundError(f"Tenant [{name}] not found")

    def _get_database(self, name: str, tenant: str) -> DatabaseInfo:
        self._require_tenant(tenant)
        try:
            with engine_boundary():
                return self._engine().get_database(tenant, name)
        except NotFoundError:
            raise NotFoundError(f"Database [{name}] not found. Are you sure it exists?") from None


def _database(info: DatabaseInfo) -> Database:
    return Database(id=uuid.UUID(info.id), name=info.name, tenant=info.tenant)


class AdminClient(_SharedEngineClient):
    """Tenant and database administration (``chromadb.AdminClient``)."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings if settings is not None else Settings())

    def create_tenant(self, name: str) -> None:
        """Create a tenant (names have at least three characters)."""
        self._require_writable("create_tenant")
        validate_tenant_name(name)
        with engine_boundary():
            if self._engine().has_tenant(name):
                raise already_exists(f"Tenant [{name}] already exists")
            self._engine().create_tenant(name)

    def get_tenant(self, name: str) -> Tenant:
        """The tenant; NotFoundError if missing."""
        self._require_tenant(name)
        return Tenant(name=name)

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in a tenant."""
        self._require_writable("create_database")
        validate_database_name(name)
        self._require_tenant(tenant)
        with engine_boundary():
            self._engine().create_database(tenant, name)

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> Database:
        """The database; NotFoundError if missing."""
        return _database(self._get_database(name, tenant))

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database and every collection in it."""
        self._require_writable("delete_database")
        try:
            self._get_database(name, tenant)
        except NotFoundError:
            raise NotFoundError(f"Database [{name}] not found") from None
        with engine_boundary():
            self._engine().delete_database(tenant, name)

    def list_databases(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT
    ) -> list[Database]:
        """The tenant's databases, paged."""
        self._require_tenant(tenant)
        with engine_boundary():
            found = self._engine().list_databases(tenant, limit, offset or 0)
        return [_database(d) for d in found]


class Client(_SharedEngineClient):
    """The collection API of one tenant and database (``chromadb.api.ClientAPI``)."""

    def __init__(
        self, settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> None:
        super().__init__(settings if settings is not None else Settings())
        self.tenant = str(tenant)
        self.database = str(database)
        try:
            self._get_database(self.database, self.tenant)
        except BaseException:
            self.close()
            raise

    # ---- client-level -----------------------------------------------------------------------

    def get_max_batch_size(self) -> int:
        """The largest number of records one call may carry."""
        return MAX_BATCH_SIZE

    def get_user_identity(self) -> UserIdentity:
        """A local client is the anonymous user of the default tenant."""
        return UserIdentity(user_id="", tenant=DEFAULT_TENANT, databases=[DEFAULT_DATABASE])

    def set_tenant(self, tenant: str, database: str = DEFAULT_DATABASE) -> None:
        """Switch tenant (and database) after checking they exist."""
        self._get_database(str(database), str(tenant))
        self.tenant, self.database = str(tenant), str(database)

    def set_database(self, database: str) -> None:
        """Switch database within the current tenant after checking it exists."""
        self._get_database(str(database), self.tenant)
        self.database = str(database)

    def reset(self) -> bool:
        """Delete everything; only when the settings allow it."""
        self._require_writable("reset")
        if not self._settings.allow_reset:
            raise AuthorizationError("Reset is disabled by config")
        with engine_boundary():
            self._engine().reset()
        return True

    def _search(
        self, collection_id: str, payloads: list[dict[str, Any]], plans: list[SearchPlan], read_level: str
    ) -> dict[str, Any]:
        """Chroma's Search API: the checked plans run here, over the engine's ``get`` and ``query``.

        A remote client sends ``payloads`` instead, to be run by the server in one request.
        """
        engine = self._embedded_engine()
        columns = [run_search(engine, collection_id, plan, read_level) for plan in plans]
        return {key: [c[key] for c in columns] for key in SEARCH_COLUMNS}

    # ---- collections ------------------------------------------------------------------------

    def _wrap(self, info: CollectionInfo, embedding_function: Any = embedding.DEFAULT, data_loader: Any = None) -> Collection:
        return Collection(self, info, embedding_function, data_loader)

    def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[Collection]:
        """The database's collections (objects, as in Chroma 1.x), ordered by id, paged."""
        with engine_boundary():
            found = self._engine().list_collections(self.tenant, self.database, limit, offset or 0)
        return [self._wrap(info) for info in found]

    def count_collections(self) -> int:
        """How many collections the database holds."""
        with engine_boundary():
            return self._engine().count_collections(self.tenant, self.database)

    def create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = embedding.DEFAULT,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> Collection:
        """Create a collection; with ``get_or_create`` an existing one is returned unchanged."""
        if not get_or_create:
            self._require_writable("create_collection")
        embedding.validate_signature(embedding_function)
        configuration_ef = (configuration or {}).get("embedding_function")
        embedding.check_conflict_on_create(embedding_function, configuration_ef)
        check_collection_metadata(metadata)
        configuration, stored_schema = apply_schema(schema, dict(configuration or {}))
        if isinstance(configuration.get("embedding_function"), dict):  # named by the schema
            configuration_ef = embedding.rebuild(configuration["embedding_function"])
        stored = build_configuration(
            {k: v for k, v in configuration.items() if k != "embedding_function"}, metadata,
            configuration_ef if configuration_ef is not None else embedding_function,
        )
        if stored_schema is not None:
            stored[SCHEMA_KEY] = stored_schema
        validate_collection_name(name)
        with engine_boundary():
            existing = self._find(name)
        if existing is not None:
            if get_or_create:  # only reads: a read-only client may get an existing collection this way
                return self._existing(existing, embedding_function, data_loader)
            raise already_exists(f"Collection [{name}] already exists")
        self._require_writable("get_or_create_collection")
        chosen_ef = configuration_ef if configuration_ef is not None else embedding_function
        try:
            with engine_boundary():
                info = self._engine().create_collection(
                    self.tenant, self.database, name,
                    metadata=copy_metadata(metadata) if metadata else None, configuration=stored,
                )
        except UniqueConstraintError:
            # Another caller created it between the lookup above and this create.
            raced = self._found_after_race(name, get_or_create)
            return self._existing(raced, embedding_function, data_loader)
        return self._wrap(info, chosen_ef, data_loader)

    def _found_after_race(self, name: str, get_or_create: bool) -> CollectionInfo:
        """The collection a concurrent create made, for get_or_create; otherwise the error stands."""
        with engine_boundary():
            existing = self._find(name) if get_or_create else None
        if existing is None:
            raise already_exists(f"Collection [{name}] already exists")
        return existing

    def _find(self, name: str) -> CollectionInfo | None:
        try:
            return self._engine().get_collection(self.tenant, self.database, name)
        except EngineNotFoundError:
            return None

    def _existing(self, info: CollectionInfo, embedding_function: Any, data_loader: Any) -> Collection:
        embedding.check_conflict_on_get(embedding_function, info.configuration.get("embedding_function"))
        return self._wrap(info, embedding_function, data_loader)

    def get_collection(
        self, name: str, embedding_function: Any = embedding.DEFAULT, data_loader: Any = None
    ) -> Collection:
        """The named collection; NotFoundError if missing."""
        with engine_boundary():
            info = self._find(name)
        if info is None:
            raise NotFoundError(f"Collection [{name}] does not exist")
        return self._existing(info, embedding_function, data_loader)

    def get_collection_by_id(
        self, id: uuid.UUID | str, embedding_function: Any = embedding.DEFAULT, data_loader: Any = None
    ) -> Collection:
        """The collection with this id; NotFoundError if missing."""
        with engine_boundary():
            info = self._engine().get_collection_by_id(str(id))
        return self._existing(info, embedding_function, data_loader)

    def get_or_create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = embedding.DEFAULT,
        data_loader: Any = None,
    ) -> Collection:
        """The named collection, created first if missing (metadata/configuration only apply then)."""
        return self.create_collection(
            name, schema, configuration, metadata, embedding_function, data_loader, get_or_create=True
        )

    def delete_collection(self, name: str) -> None:
        """Delete the named collection and its records."""
        self._require_writable("delete_collection")
        with engine_boundary():
            info = self._find(name)
            if info is None:
                raise NotFoundError(f"Collection [{name}] does not exist")
            self._engine().delete_collection(info.id)
