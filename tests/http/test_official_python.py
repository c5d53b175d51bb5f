"""Chroma's own Python client (``chromadb`` / ``chromadb-client`` from PyPI) against ``sediment run``."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.http.scenario import run_scenario
from tests.http.server_process import ServerProcess

chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
from chromadb import errors as chroma_errors  # noqa: E402
from chromadb.config import Settings  # noqa: E402


def _client(server: ServerProcess, **kwargs: object) -> object:
    return chromadb.HttpClient(host="127.0.0.1", port=server.port,
                               settings=Settings(anonymized_telemetry=False), **kwargs)


def test_full_scenario(server: ServerProcess, unique_name: str) -> None:
    """Heartbeat, collections, records, filters, include, update/upsert/delete, modify, errors."""
    client = _client(server)
    assert asyncio.run(run_scenario(client, chroma_errors, unique_name))


def test_version_identity_and_preflight(server: ServerProcess) -> None:
    """The calls the client makes on its own before any user call."""
    client = _client(server)
    assert client.get_version()
    assert client.get_max_batch_size() > 0
    identity = client.get_user_identity()
    assert identity.tenant == "default_tenant" and identity.databases == ["default_database"]


def test_tenants_and_databases(server: ServerProcess, unique_name: str) -> None:
    """AdminClient over HTTP, then a client scoped to the new tenant and database."""
    settings = Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host="127.0.0.1",
                        chroma_server_http_port=server.port, anonymized_telemetry=False)
    admin = chromadb.AdminClient(settings)
    admin.create_tenant(unique_name)
    admin.create_database("db-one", tenant=unique_name)
    assert [d["name"] for d in admin.list_databases(tenant=unique_name)] == ["db-one"]
    with pytest.raises(chroma_errors.NotFoundError):
        admin.get_database("db-missing", tenant=unique_name)
    scoped = _client(server, tenant=unique_name, database="db-one")
    col = scoped.create_collection("inside", embedding_function=None)
    assert col.tenant == unique_name and col.database == "db-one"
    assert scoped.count_collections() == 1
    admin.delete_database("db-one", tenant=unique_name)
    with pytest.raises(chroma_errors.NotFoundError):
        admin.get_database("db-one", tenant=unique_name)


def test_large_batch_round_trips_exactly(server: ServerProcess, unique_name: str) -> None:
    """Base64-packed float32 embeddings arrive bit-exact."""
    client = _client(server)
    col = client.create_collection(unique_name, embedding_function=None, metadata={"hnsw:space": "cosine"})
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((500, 64)).astype(np.float32)
    col.add(ids=[f"id{i}" for i in range(500)], embeddings=vectors)
    got = col.get(ids=["id0", "id499"], include=["embeddings"])
    assert np.array_equal(got["embeddings"], vectors[[0, 499]])
    res = col.query(query_embeddings=vectors[:3], n_results=1)
    assert res["ids"] == [["id0"], ["id1"], ["id2"]]


def test_reset(server: ServerProcess) -> None:
    """The server was started with --allow-reset."""
    client = _client(server)
    client.create_collection("to-be-wiped", embedding_function=None)
    assert client.reset() is True
    assert client.count_collections() == 0


def test_official_async_client(server: ServerProcess, unique_name: str) -> None:
    """Chroma's ``AsyncHttpClient`` runs the same scenario."""

    async def go() -> list:
        client = await chromadb.AsyncHttpClient(host="127.0.0.1", port=server.port,
                                                settings=Settings(anonymized_telemetry=False))
        return await run_scenario(client, chroma_errors, unique_name)

    assert asyncio.run(go())
