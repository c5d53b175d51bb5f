"""The same API scenario against the embedded client, the HTTP client and the async HTTP client.

Each mode must pass the scenario's assertions, and all three must produce the same transcript
(results and error messages), so the clients cannot drift apart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import sedimentdb as chromadb
from sedimentdb import errors
from tests.http.scenario import run_scenario
from tests.http.server_process import ServerProcess

MODES = ("embedded", "http", "async_http")


async def _client(mode: str, server: ServerProcess, tmp_path: Path) -> Any:
    if mode == "embedded":
        return chromadb.PersistentClient(path=str(tmp_path / "embedded"),
                                         settings=chromadb.Settings(sediment_durability="off"))
    if mode == "http":
        return chromadb.HttpClient(host="127.0.0.1", port=server.port)
    return await chromadb.AsyncHttpClient(host=server.url)  # a full URL: the port is not appended


def _transcript(mode: str, server: ServerProcess, tmp_path: Path, name: str) -> list[Any]:
    async def go() -> list[Any]:
        client = await _client(mode, server, tmp_path)
        try:
            return await run_scenario(client, errors, name)
        finally:
            closing = client.close()
            if asyncio.iscoroutine(closing):
                await closing

    return asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_scenario(mode: str, server: ServerProcess, tmp_path: Path, unique_name: str) -> None:
    """Every client passes the scenario."""
    assert _transcript(mode, server, tmp_path, unique_name)


def test_transcripts_are_identical(server: ServerProcess, tmp_path: Path, unique_name: str) -> None:
    """Embedded, HTTP and async HTTP give the same results and the same error messages."""
    transcripts = {
        mode: _transcript(mode, server, tmp_path / mode, f"{unique_name}-{i}")
        for i, mode in enumerate(MODES)
    }
    # Error messages name the collection; make the per-mode names alike before comparing.
    normalised = {mode: repr(t).replace(f"{unique_name}-{i}", "NAME") for i, (mode, t) in enumerate(transcripts.items())}
    assert normalised["http"] == normalised["embedded"]
    assert normalised["async_http"] == normalised["embedded"]


def test_http_admin_client(server: ServerProcess, unique_name: str) -> None:
    """Tenants and databases over HTTP, then a client scoped to them; errors as embedded."""
    from sedimentdb.http import HttpAdminClient

    admin = HttpAdminClient(host="127.0.0.1", port=server.port)
    admin.create_tenant(unique_name)
    assert admin.get_tenant(unique_name) == {"name": unique_name}
    admin.create_database("alpha", tenant=unique_name)
    with pytest.raises(errors.UniqueConstraintError, match=r"Database \[alpha\] already exists"):
        admin.create_database("alpha", tenant=unique_name)
    assert [d["name"] for d in admin.list_databases(tenant=unique_name)] == ["alpha"]
    scoped = chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant=unique_name, database="alpha")
    scoped.create_collection("scoped-coll", embedding_function=None)
    assert scoped.count_collections() == 1
    with pytest.raises(errors.NotFoundError, match="Database \\[nope\\] not found"):
        scoped.set_database("nope")
    admin.delete_database("alpha", tenant=unique_name)
    with pytest.raises(errors.NotFoundError):
        admin.get_database("alpha", tenant=unique_name)
    with pytest.raises(errors.NotFoundError):
        chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant="missing-tenant")
    with pytest.raises(ValueError, match="Could not connect to a Chroma server"):
        chromadb.HttpClient(host="127.0.0.1", port=1)
