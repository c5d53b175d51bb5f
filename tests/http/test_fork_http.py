"""``collection.fork`` and ``fork_count`` over HTTP: Chroma's official Python client and SedimentDB's own,
against ``sediment run``."""

from __future__ import annotations

import pytest

import sedimentdb
from tests.http.server_process import ServerProcess

chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
from chromadb import errors as chroma_errors  # noqa: E402
from chromadb.config import Settings  # noqa: E402


def test_chromas_client_forks_and_counts_forks(server: ServerProcess, unique_name: str) -> None:
    """chromadb-client 1.5.9: fork answers a Collection, writes stay on their side, fork_count is shared."""
    client = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    src = client.create_collection(unique_name, embedding_function=None, metadata={"team": "a"})
    src.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], documents=["x", "y", "z"])
    fork = src.fork(f"{unique_name}-fork")
    assert fork.name == f"{unique_name}-fork" and fork.id != src.id and fork.metadata == {"team": "a"}
    assert sorted(fork.get()["ids"]) == ["a", "b", "c"]
    fork.delete(ids=["a"])
    fork.add(ids=["d"], embeddings=[[2.0, 2.0]])
    src.update(ids=["b"], metadatas=[{"changed": True}])
    assert sorted(src.get()["ids"]) == ["a", "b", "c"] and sorted(fork.get()["ids"]) == ["b", "c", "d"]
    assert fork.get(ids=["b"])["metadatas"] == [None] and src.get(ids=["b"])["metadatas"] == [{"changed": True}]
    assert fork.query(query_embeddings=[[2.0, 2.0]], n_results=1)["ids"] == [["d"]]
    assert src.fork_count() == fork.fork_count() == 1
    assert client.get_collection(f"{unique_name}-fork").count() == 3


def test_chromas_client_fork_errors(server: ServerProcess, unique_name: str) -> None:
    """An existing name, a bad name and a deleted source: Chroma's error classes and messages."""
    client = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    src = client.create_collection(unique_name, embedding_function=None)
    with pytest.raises(chroma_errors.ChromaError, match=rf"Collection \[{unique_name}\] already exists"):
        src.fork(unique_name)
    with pytest.raises(chroma_errors.InvalidArgumentError, match="new_name"):
        src.fork("x")
    client.delete_collection(unique_name)
    with pytest.raises(chroma_errors.NotFoundError, match="does not exist"):
        src.fork(f"{unique_name}-2")
    with pytest.raises(chroma_errors.NotFoundError, match="does not exist"):
        src.fork_count()


def test_sedimentdb_http_client_forks(server: ServerProcess, unique_name: str) -> None:
    """SedimentDB's own HttpClient reaches the same routes."""
    client = sedimentdb.HttpClient(host="127.0.0.1", port=server.port)
    src = client.create_collection(unique_name, embedding_function=None)
    src.add(ids=["a"], embeddings=[[1.0, 2.0]])
    fork = src.fork(f"{unique_name}-f")
    fork.add(ids=["b"], embeddings=[[3.0, 4.0]])
    assert src.count() == 1 and fork.count() == 2 and fork.fork_count() == 1


def test_async_clients_fork(server: ServerProcess, unique_name: str) -> None:
    """Chroma's AsyncHttpClient and SedimentDB's: `await collection.fork(...)` and `fork_count()`."""
    import asyncio

    async def run() -> tuple[int, int, int, int]:
        theirs = await chromadb.AsyncHttpClient(host=server.url, settings=Settings(anonymized_telemetry=False))
        col = await theirs.create_collection(unique_name, embedding_function=None)
        await col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        fork = await col.fork(f"{unique_name}-a")
        await fork.delete(ids=["a"])
        mine = await (await sedimentdb.AsyncHttpClient(host=server.url)).get_collection(unique_name)
        second = await mine.fork(f"{unique_name}-b")
        return await fork.count(), await col.count(), await second.count(), await second.fork_count()

    assert asyncio.run(run()) == (1, 2, 2, 2)
