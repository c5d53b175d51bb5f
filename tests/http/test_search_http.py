"""``collection.search`` over HTTP: Chroma's official Python client and SedimentDB's own, against ``sediment run``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import sedimentdb
from tests.http.server_process import ServerProcess

chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
from chromadb import errors as chroma_errors  # noqa: E402
from chromadb.config import Settings  # noqa: E402

VECTORS = [[float(i), float(i % 3), 1.0] for i in range(12)]


def _fill(col: Any) -> None:
    col.add(ids=[f"r{i}" for i in range(12)], embeddings=VECTORS, documents=[f"doc number {i}" for i in range(12)],
            metadatas=[{"group": ["red", "green", "blue"][i % 3], "n": i} for i in range(12)])


def _searches(ex: Any) -> list[Any]:
    """The same batch built from either library's expression classes."""
    K, Knn, Rrf, Search = ex.K, ex.Knn, ex.Rrf, ex.Search
    return [
        Search().where((K("n") >= 2) & (K("group") != "blue")).rank(Knn(query=[4.0, 1.0, 1.0], limit=5))
        .limit(3).select(K.DOCUMENT, K.SCORE, "group"),
        Search().rank(Rrf([Knn(query=[0.0, 0.0, 1.0], return_rank=True, limit=12),
                           Knn(query=[11.0, 2.0, 1.0], return_rank=True, limit=12)], k=10))
        .select(K.SCORE, K.EMBEDDING),
        Search().where(K.ID.is_in(["r1", "r5", "r9"]) & K.DOCUMENT.contains("number"))
        .rank((Knn(query=[5.0, 2.0, 1.0], limit=12) + 1).log() * 2).select_all(),
        Search().rank(Knn(query=[0.0, 0.0, 1.0], limit=12))
        .group_by(ex.GroupBy(keys=K("group"), aggregate=ex.MinK(keys=K.SCORE, k=2))).select("group", K.SCORE),
        Search().limit(4, offset=3),
    ]


def test_chromas_client_search_matches_embedded(server: ServerProcess, unique_name: str) -> None:
    """Chroma's chromadb-client 1.5.9 `collection.search` gets what the embedded search answers."""
    import chromadb.execution.expression as chroma_ex

    import sedimentdb.search as ours

    remote = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    col = remote.create_collection(unique_name, embedding_function=None)
    _fill(col)
    got = col.search(_searches(chroma_ex))
    local = sedimentdb.EphemeralClient().create_collection(unique_name, embedding_function=None)
    _fill(local)
    want = local.search(_searches(ours))
    assert got["ids"] == want["ids"] and got["select"] == want["select"]
    assert got["documents"] == want["documents"] and got["metadatas"] == want["metadatas"]
    for got_scores, want_scores in zip(got["scores"], want["scores"], strict=True):
        assert (got_scores is None) == (want_scores is None)
        assert got_scores is None or got_scores == pytest.approx(want_scores, rel=1e-6)
    assert got["embeddings"][1][0] == pytest.approx(want["embeddings"][1][0])
    assert got["ids"][0] == ["r4", "r3", "r6"] and got["ids"][4] == ["r3", "r4", "r5", "r6"]
    assert [row["id"] for row in got.rows()[2]] == ["r5", "r1", "r9"]


def test_chromas_client_read_level_and_errors(server: ServerProcess, unique_name: str) -> None:
    """ReadLevel travels; bad expressions come back as Chroma's errors, with the message."""
    from chromadb.api.types import ReadLevel
    from chromadb.execution.expression import K, Knn, Search

    remote = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    col = remote.create_collection(unique_name, embedding_function=None)
    _fill(col)
    assert col.search(Search().where(K("n") == 7), read_level=ReadLevel.INDEX_AND_WAL)["ids"] == [["r7"]]
    assert col.search(Search().where(K("n") == 7), read_level=ReadLevel.INDEX_ONLY)["ids"] == [[]]  # not compacted
    with pytest.raises(chroma_errors.InvalidArgumentError, match="dimension of 3, got 2"):
        col.search(Search().rank(Knn(query=[1.0, 2.0])))
    with pytest.raises(chroma_errors.InvalidArgumentError, match="#id filters are supported at the top level"):
        col.search(Search().where((K.ID == "r1") | (K("n") == 2)))


def test_read_levels_over_http(tmp_path: Any) -> None:
    """Chroma's client: INDEX_ONLY skips the log tail until `sediment compact` folds it into
    segments; INDEX_AND_BOUNDED_WAL reads the server-configured number of tail records."""
    from chromadb.api.types import ReadLevel
    from chromadb.execution.expression import K, Knn, Search

    env = {"SEDIMENT_BOUNDED_WAL_RECORDS": "1"}
    near_r7 = Search().rank(Knn(query=VECTORS[7], limit=3)).select(K.DOCUMENT)

    def ids(col: Any, level: ReadLevel, search: Any = near_r7) -> list[str]:
        return col.search(search, read_level=level)["ids"][0]

    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log", env=env).start()
    try:
        remote = chromadb.HttpClient(host="127.0.0.1", port=proc.port, settings=Settings(anonymized_telemetry=False))
        col = remote.create_collection("levels", embedding_function=None)
        _fill(col)  # one log record
        col.add(ids=["late"], embeddings=[VECTORS[7]])  # a second: beyond the bound of 1
        assert ids(col, ReadLevel.INDEX_AND_WAL)[:2] == ["late", "r7"]  # equal scores: id order
        assert ids(col, ReadLevel.INDEX_ONLY) == []
        assert "late" not in ids(col, ReadLevel.INDEX_AND_BOUNDED_WAL)
        assert ids(col, ReadLevel.INDEX_AND_BOUNDED_WAL)[0] == "r7"
        total = col.count()
        assert col.count(read_level=ReadLevel.INDEX_AND_WAL) == total
        assert col.count(read_level=ReadLevel.INDEX_ONLY) == 0  # Chroma's client sends ?read_level=
        assert col.count(read_level=ReadLevel.INDEX_AND_BOUNDED_WAL) == total - 1  # "late" is past the bound
    finally:
        proc.stop()
    done = subprocess.run([sys.executable, "-m", "sedimentdb", "compact", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    proc = ServerProcess(tmp_path / "data", tmp_path / "server2.log", env=env).start()
    try:
        remote = chromadb.HttpClient(host="127.0.0.1", port=proc.port, settings=Settings(anonymized_telemetry=False))
        col = remote.get_collection("levels", embedding_function=None)
        col.delete(ids=["r7"])  # a tail delete of a compacted record: hidden only with the tail read
        assert "r7" in ids(col, ReadLevel.INDEX_ONLY) and "late" in ids(col, ReadLevel.INDEX_ONLY)
        assert "r7" not in ids(col, ReadLevel.INDEX_AND_WAL)
        assert "r7" not in ids(col, ReadLevel.INDEX_AND_BOUNDED_WAL)  # the delete is the first tail record
    finally:
        proc.stop()


def test_sedimentdb_http_client_search(server: ServerProcess, unique_name: str) -> None:
    """SedimentDB's own HttpClient sends the batch to /search and gets the embedded answer."""
    from sedimentdb import K, Knn, Search

    client = sedimentdb.HttpClient(host="127.0.0.1", port=server.port)
    col = client.create_collection(unique_name, embedding_function=None)
    _fill(col)
    result = col.search(Search().where(K("group") == "green").rank(Knn(query=[7.0, 1.0, 1.0], limit=3))
                        .select(K.SCORE, K.METADATA))
    assert result["ids"] == [["r7", "r10", "r4"]]  # the tie at 9.0 breaks by id
    assert result["scores"][0] == pytest.approx([0.0, 9.0, 9.0])
    assert result["metadatas"][0][0] == {"group": "green", "n": 7}
    import sedimentdb.search as ours

    local = sedimentdb.EphemeralClient().create_collection(unique_name, embedding_function=None)
    _fill(local)
    got, want = col.search(_searches(ours)), local.search(_searches(ours))
    assert got["ids"] == want["ids"] and got["metadatas"] == want["metadatas"] and got["select"] == want["select"]
    with pytest.raises(sedimentdb.errors.InvalidArgumentError, match="sparse vector index"):  # checked before sending
        col.search(Search().rank({"$knn": {"query": {"#type": "sparse_vector", "indices": [0], "values": [1.0]}}}))


def test_async_clients_search(server: ServerProcess, unique_name: str) -> None:
    """Chroma's AsyncHttpClient and SedimentDB's answer `await collection.search(...)` alike."""
    import asyncio

    import chromadb.execution.expression as chroma_ex

    import sedimentdb.search as ours

    async def run() -> tuple[Any, Any]:
        theirs = await chromadb.AsyncHttpClient(host=server.url, settings=Settings(anonymized_telemetry=False))
        col = await theirs.create_collection(unique_name, embedding_function=None)
        await col.add(ids=[f"r{i}" for i in range(12)], embeddings=VECTORS)
        mine = await (await sedimentdb.AsyncHttpClient(host=server.url)).get_collection(unique_name)
        search = [chroma_ex.Search().rank(chroma_ex.Knn(query=[3.0, 0.0, 1.0], limit=3)).select(chroma_ex.K.SCORE)]
        return await col.search(search), await mine.search([ours.Search().rank(ours.Knn(query=[3.0, 0.0, 1.0],
                                                                                        limit=3)).select(ours.K.SCORE)])

    got, mine = asyncio.run(run())
    assert got["ids"] == mine["ids"] == [["r3", "r4", "r2"]]
    assert got["scores"][0] == pytest.approx(mine["scores"][0])
