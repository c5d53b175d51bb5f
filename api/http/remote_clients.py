"""``RemoteClient`` and ``RemoteAdminClient``: the embedded clients over a :class:`RemoteEngine`.

The embedded ``Client`` and ``AdminClient`` (``sedimentdb.local_clients``) do their work through
``self._engine()``; here that is a remote engine, so validation, embedding and result shaping
are the embedded code itself. What differs is only what a server answers instead of the
process: heartbeat, version, identity, batch limit and whether reset is allowed.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings
from sedimentdb.errors import ChromaError
from sedimentdb.http.remote_engine import RemoteEngine
from sedimentdb.http.transport import Transport
from sedimentdb.local_clients import AdminClient, Client, _SharedEngineClient
from sedimentdb.search_plan import SearchPlan
from sedimentdb.types import UserIdentity

NOT_RUNNING = "Could not connect to a Chroma server. Are you sure it is running?"


class _RemoteEngineOwner(_SharedEngineClient):
    """Holds a transport and a remote engine instead of a shared local engine."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._transport = Transport(settings)
        self._remote_engine = RemoteEngine(self._transport, self._scope)
        self._closed = False

    def _scope(self) -> tuple[str, str]:
        return getattr(self, "tenant", DEFAULT_TENANT), getattr(self, "database", DEFAULT_DATABASE)

    def _engine(self) -> RemoteEngine:
        """The remote engine (an ``EngineProtocol``: mypy checks it here) in place of the embedded one."""
        if self._closed:
            raise RuntimeError("This client has been closed")
        return self._remote_engine

    def close(self) -> None:
        """Close the connection pool. Idempotent."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    def heartbeat(self) -> int:
        """The server's time in nanoseconds since the epoch."""
        return int(self._transport.request("GET", "/heartbeat")["nanosecond heartbeat"])

    def get_version(self) -> str:
        """The server's version."""
        return str(self._transport.request("GET", "/version"))


class RemoteClient(Client, _RemoteEngineOwner):
    """The collection API of one tenant and database on a server (what ``HttpClient`` returns)."""

    def __init__(
        self, settings: Settings, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> None:
        self._max_batch_size: int | None = None
        self._batch_lock = threading.Lock()
        try:
            _RemoteEngineOwner.__init__(self, settings)
            identity = self.get_user_identity()
            if settings.chroma_overwrite_singleton_tenant_database_access_from_auth:
                tenant, database = _singleton_scope(identity, str(tenant), str(database))
            self.tenant, self.database = str(tenant), str(database)
            self._get_database(self.database, self.tenant)
        except httpx.TransportError:
            self.close()
            raise ValueError(NOT_RUNNING) from None
        except ChromaError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ValueError(f"Could not connect to tenant {tenant}. Are you sure it exists?") from exc

    def get_user_identity(self) -> UserIdentity:
        """Who the server says this client is."""
        body = self._transport.request("GET", "/auth/identity")
        return UserIdentity(user_id=body.get("user_id", ""), tenant=body.get("tenant"),
                            databases=list(body.get("databases") or []))

    def get_max_batch_size(self) -> int:
        """The server's batch limit (its pre-flight checks, asked once)."""
        with self._batch_lock:
            if self._max_batch_size is None:
                self._max_batch_size = int(self._transport.request("GET", "/pre-flight-checks")["max_batch_size"])
            return self._max_batch_size

    def reset(self) -> bool:
        """Ask the server to wipe everything; it decides whether that is allowed."""
        self._engine().reset()
        return True

    def _search(
        self, collection_id: str, payloads: list[dict[str, Any]], plans: list[SearchPlan], read_level: str
    ) -> dict[str, Any]:
        """The checked batch goes to the server in one request (``plans`` were only the client's check)."""
        return self._engine().run_searches(collection_id, payloads, read_level)

    def get_pre_flight_checks(self) -> dict[str, Any]:
        """The server's limits and encodings."""
        return dict(self._transport.request("GET", "/pre-flight-checks"))


class RemoteAdminClient(AdminClient, _RemoteEngineOwner):
    """Tenants and databases on a server."""

    def __init__(self, settings: Settings) -> None:
        _RemoteEngineOwner.__init__(self, settings)


def _singleton_scope(identity: UserIdentity, tenant: str, database: str) -> tuple[str, str]:
    """Chroma Cloud's rule: a key for exactly one tenant (and database) picks them when left default."""
    if tenant == DEFAULT_TENANT and identity.tenant:
        tenant = identity.tenant
    if database == DEFAULT_DATABASE and len(identity.databases) == 1 and identity.databases[0] != "*":
        database = identity.databases[0]
    return tenant, database
