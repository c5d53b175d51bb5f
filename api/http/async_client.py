"""``AsyncClient``/``AsyncCollection``: the HTTP client's API as coroutines (Chroma's ``AsyncClientAPI``).

Each coroutine runs the synchronous client's method in a worker thread. That keeps one
implementation of validation, embedding and result shaping for all three clients (embedded,
HTTP, async HTTP), and embedding functions — which are synchronous and CPU-bound — never
block the event loop. The connection pool is httpx's, shared by the threads.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from sedimentdb.collection import Collection
from sedimentdb.config import Settings
from sedimentdb.http.remote_clients import RemoteClient


def _in_thread(function: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    return run


class AsyncCollection:
    """A collection whose record methods are coroutines."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        # Properties (id, name, metadata, configuration, tenant, ...) read the cached model.
        return getattr(self._collection, name)

    def __repr__(self) -> str:
        return f"AsyncCollection(name={self._collection.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncCollection) and self._collection == other._collection

    __hash__ = None  # type: ignore[assignment]

    async def add(self, *args: Any, **kwargs: Any) -> None:
        """See ``Collection.add``."""
        await asyncio.to_thread(self._collection.add, *args, **kwargs)

    async def update(self, *args: Any, **kwargs: Any) -> None:
        """See ``Collection.update``."""
        await asyncio.to_thread(self._collection.update, *args, **kwargs)

    async def upsert(self, *args: Any, **kwargs: Any) -> None:
        """See ``Collection.upsert``."""
        await asyncio.to_thread(self._collection.upsert, *args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        """See ``Collection.delete``."""
        return await asyncio.to_thread(self._collection.delete, *args, **kwargs)

    async def count(self, *args: Any, **kwargs: Any) -> int:
        """See ``Collection.count``."""
        return await asyncio.to_thread(self._collection.count, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        """See ``Collection.get``."""
        return await asyncio.to_thread(self._collection.get, *args, **kwargs)

    async def peek(self, *args: Any, **kwargs: Any) -> Any:
        """See ``Collection.peek``."""
        return await asyncio.to_thread(self._collection.peek, *args, **kwargs)

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        """See ``Collection.query``."""
        return await asyncio.to_thread(self._collection.query, *args, **kwargs)

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        """See ``Collection.search``."""
        return await asyncio.to_thread(self._collection.search, *args, **kwargs)

    async def modify(self, *args: Any, **kwargs: Any) -> None:
        """See ``Collection.modify``."""
        await asyncio.to_thread(self._collection.modify, *args, **kwargs)

    async def fork(self, *args: Any, **kwargs: Any) -> AsyncCollection:
        """See ``Collection.fork``."""
        return AsyncCollection(await asyncio.to_thread(self._collection.fork, *args, **kwargs))

    async def fork_count(self, *args: Any, **kwargs: Any) -> int:
        """See ``Collection.fork_count``."""
        return int(await asyncio.to_thread(self._collection.fork_count, *args, **kwargs))


_PLAIN = ("heartbeat", "get_version", "get_max_batch_size", "get_user_identity", "count_collections",
          "reset", "set_tenant", "set_database", "get_pre_flight_checks")
_RETURNS_COLLECTION = ("create_collection", "get_collection", "get_collection_by_id", "get_or_create_collection")


class AsyncClient:
    """The client API as coroutines; build it with ``await AsyncHttpClient(...)``."""

    def __init__(self, client: RemoteClient) -> None:
        self._client = client

    @classmethod
    async def create(cls, settings: Settings, tenant: str, database: str) -> AsyncClient:
        """Connect (identity, tenant and database checks) without blocking the loop."""
        return cls(await asyncio.to_thread(RemoteClient, settings, tenant, database))

    @property
    def tenant(self) -> str:
        """The current tenant."""
        return self._client.tenant

    @property
    def database(self) -> str:
        """The current database."""
        return self._client.database

    def get_settings(self) -> Settings:
        """The settings the client was built with."""
        return self._client.get_settings()

    def __getattr__(self, name: str) -> Any:
        if name in _PLAIN:
            return _in_thread(getattr(self._client, name))
        if name in _RETURNS_COLLECTION:
            method = getattr(self._client, name)

            async def wrapped(*args: Any, **kwargs: Any) -> AsyncCollection:
                return AsyncCollection(await asyncio.to_thread(method, *args, **kwargs))

            return wrapped
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    async def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[AsyncCollection]:
        """The database's collections."""
        found = await asyncio.to_thread(self._client.list_collections, limit, offset)
        return [AsyncCollection(c) for c in found]

    async def delete_collection(self, name: str) -> None:
        """Delete the named collection."""
        await asyncio.to_thread(self._client.delete_collection, name)

    async def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
