"""The factories of ``chromadb/__init__.py`` that talk to a server: HttpClient, AsyncHttpClient, CloudClient."""

from __future__ import annotations

import os
from typing import Any

from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings
from sedimentdb.http.async_client import AsyncClient
from sedimentdb.http.remote_clients import RemoteAdminClient, RemoteClient

FASTAPI_IMPL = "chromadb.api.fastapi.FastAPI"
ASYNC_FASTAPI_IMPL = "chromadb.api.async_fastapi.AsyncFastAPI"
TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthClientProvider"


def _http_settings(host: str, port: int, ssl: bool, headers: dict[str, str] | None,
                   settings: Settings | None, impl: str) -> Settings:
    """Chroma's merge: the arguments fill the settings, and may not contradict them."""
    settings = settings if settings is not None else Settings()
    if settings.chroma_server_host and settings.chroma_server_host != host:
        raise ValueError(
            f"Chroma server host provided in settings[{settings.chroma_server_host}] is different to the one "
            f"provided in HttpClient: [{host}]"
        )
    if settings.chroma_server_http_port and settings.chroma_server_http_port != port:
        raise ValueError(
            f"Chroma server http port provided in settings[{settings.chroma_server_http_port}] is different to "
            f"the one provided in HttpClient: [{port}]"
        )
    return settings.copy(chroma_api_impl=impl, chroma_server_host=host, chroma_server_http_port=int(port),
                         chroma_server_ssl_enabled=ssl, chroma_server_headers=headers)


def HttpClient(  # noqa: N802 - Chroma's factory names are part of the API
    host: str = "localhost",
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> RemoteClient:
    """A client of the server at ``host`` (a name, or a full ``http(s)://`` URL) and ``port``."""
    return RemoteClient(_http_settings(host, port, ssl, headers, settings, FASTAPI_IMPL), str(tenant), str(database))


async def AsyncHttpClient(  # noqa: N802
    host: str = "localhost",
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
) -> AsyncClient:
    """The async client of a server (to be awaited)."""
    settings = _http_settings(host, port, ssl, headers, settings, ASYNC_FASTAPI_IMPL)
    return await AsyncClient.create(settings, str(tenant), str(database))


def HttpAdminClient(  # noqa: N802
    host: str = "localhost", port: int = 8000, ssl: bool = False, headers: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> RemoteAdminClient:
    """Tenant and database administration on a server."""
    return RemoteAdminClient(_http_settings(host, port, ssl, headers, settings, FASTAPI_IMPL))


def CloudClient(  # noqa: N802
    tenant: str | None = None,
    database: str | None = None,
    api_key: str | None = None,
    settings: Settings | None = None,
    *,
    cloud_host: str = "api.trychroma.com",
    cloud_port: int = 443,
    enable_ssl: bool = True,
) -> RemoteClient:
    """A client of Chroma Cloud, or of any compatible server that takes an ``X-Chroma-Token`` key."""
    api_key = api_key or os.environ.get("CHROMA_API_KEY")
    if not api_key:
        raise ValueError(
            "Missing required arguments: api_key. Provide it as an argument or set CHROMA_API_KEY."
        )
    tenant = tenant or os.environ.get("CHROMA_TENANT") or DEFAULT_TENANT
    database = database or os.environ.get("CHROMA_DATABASE") or DEFAULT_DATABASE
    base: Any = settings if settings is not None else Settings()
    merged = base.copy(
        chroma_api_impl=FASTAPI_IMPL, chroma_server_host=cloud_host, chroma_server_http_port=int(cloud_port),
        chroma_server_ssl_enabled=enable_ssl, chroma_client_auth_provider=TOKEN_PROVIDER,
        chroma_client_auth_credentials=api_key, chroma_auth_token_transport_header="X-Chroma-Token",
        chroma_overwrite_singleton_tenant_database_access_from_auth=True,
    )
    return RemoteClient(merged, str(tenant), str(database))
