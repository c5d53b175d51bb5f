"""The client factories of ``chromadb/__init__.py``: ``Client``, ``EphemeralClient``, ``PersistentClient``, ``AdminClient``."""

from __future__ import annotations

import os
from typing import Any

from sedimentdb import local_clients as client_module
from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings

_module_settings = Settings()


def configure(**kwargs: Any) -> None:
    """Replace the settings ``Client()`` uses by default."""
    global _module_settings
    _module_settings = _module_settings.copy(**kwargs)


def get_settings() -> Settings:
    """The settings ``Client()`` uses by default."""
    return _module_settings


_HTTP_IMPL = "chromadb.api.fastapi.FastAPI"


def Client(  # noqa: N802 - Chroma's factory names are part of the API
    settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
) -> client_module.Client:
    """A client as the settings describe it: in memory unless ``is_persistent``, HTTP for the FastAPI impl."""
    settings = settings if settings is not None else _module_settings
    if settings.chroma_api_impl == _HTTP_IMPL:
        from sedimentdb.http.remote_clients import RemoteClient  # needs httpx, which embedded users may lack

        return RemoteClient(settings, str(tenant), str(database))
    return client_module.Client(settings, str(tenant), str(database))


def EphemeralClient(  # noqa: N802
    settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
) -> client_module.Client:
    """An in-memory client; every ephemeral client of the process shares one database."""
    settings = (settings if settings is not None else Settings()).copy(is_persistent=False)
    return client_module.Client(settings, str(tenant), str(database))


def PersistentClient(  # noqa: N802
    path: str | os.PathLike[str] = "./chroma",
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> client_module.Client:
    """A client on the data directory ``path`` (created if missing)."""
    settings = (settings if settings is not None else Settings()).copy(
        persist_directory=os.fspath(path), is_persistent=True
    )
    return client_module.Client(settings, str(tenant), str(database))


def AdminClient(settings: Settings | None = None) -> client_module.AdminClient:  # noqa: N802
    """A client for tenants and databases (over HTTP when the settings name the FastAPI impl)."""
    settings = settings if settings is not None else Settings()
    if settings.chroma_api_impl == _HTTP_IMPL:
        from sedimentdb.http.remote_clients import RemoteAdminClient

        return RemoteAdminClient(settings)
    return client_module.AdminClient(settings)
