"""Sparse vectors and hybrid search over HTTP: Chroma's official chromadb-client 1.5.9 against
``sediment run``. Chroma's client computes the BM25 vectors itself (from the schema it got back)
and sends them as metadata; the server stores, indexes and searches them."""

from __future__ import annotations

import pytest

import sedimentdb
from tests.http.server_process import ServerProcess

chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
pytest.importorskip("mmh3", reason="Chroma's BM25 function needs mmh3 (the test extra)")
pytest.importorskip("snowballstemmer", reason="Chroma's BM25 function needs snowballstemmer (the bm25 extra)")
from chromadb.config import Settings  # noqa: E402

DOCS = ["The quick brown fox jumps over the lazy dog", "A fast auburn fox leaps over a sleepy canine",
        "Machine learning is a subset of artificial intelligence", "Foxes and dogs: a field guide to canines"]
VECTORS = [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]]


def _schema(ns):
    schema = ns.Schema()
    schema.create_index(config=ns.SparseVectorIndexConfig(
        source_key=ns.K.DOCUMENT, embedding_function=ns.ChromaBm25EmbeddingFunction()), key="bm25")
    return schema


def test_bm25_hybrid_search_through_chromas_client(server: ServerProcess, unique_name: str) -> None:
    import chromadb.execution.expression as cx
    from chromadb import K, Knn, Rrf, Schema, Search, SparseVector, SparseVectorIndexConfig
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    class NS:
        pass

    ns = NS()
    ns.Schema, ns.SparseVectorIndexConfig, ns.K = Schema, SparseVectorIndexConfig, K  # type: ignore[attr-defined]
    ns.ChromaBm25EmbeddingFunction = ChromaBm25EmbeddingFunction  # type: ignore[attr-defined]

    remote = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    # chromadb-client 1.5.9 cannot send this schema: serialising it validates the BM25 config against
    # a JSON-schema file the client wheel does not ship (FileNotFoundError ...schemas/embedding_functions/
    # chroma_bm25.json). The collection is created with the same JSON posted directly; Chroma's client
    # does everything else.
    with pytest.raises(FileNotFoundError, match="chroma_bm25.json"):
        remote.create_collection(unique_name, schema=_schema(ns), embedding_function=None)
    import httpx

    created = httpx.post(f"http://127.0.0.1:{server.port}/api/v2/tenants/default_tenant/databases/default_database/"
                         "collections", json={"name": unique_name, "schema": _schema(sedimentdb_ns()).serialize_to_json()})
    assert created.status_code == 200, created.text
    col = remote.get_collection(unique_name, embedding_function=None)
    index = col.schema.keys["bm25"].sparse_vector.sparse_vector_index
    assert index.enabled and index.config.source_key == "#document"
    assert isinstance(index.config.embedding_function, ChromaBm25EmbeddingFunction)
    col.add(ids=[f"d{i}" for i in range(4)], embeddings=VECTORS, documents=DOCS, metadatas=[{"n": i} for i in range(4)])
    stored = col.get(ids=["d0"], include=["metadatas"])["metadatas"][0]["bm25"]
    assert isinstance(stored, SparseVector) and stored == ChromaBm25EmbeddingFunction()([DOCS[0]])[0]

    sparse = col.search(Search().rank(Knn(query="fox", key="bm25")).select(K.SCORE, K.DOCUMENT))
    assert set(sparse["ids"][0]) == {"d0", "d1", "d3"}  # "Foxes" stems to "fox"; d2 shares no token
    assert sparse["scores"][0] == sorted(sparse["scores"][0]) and all(s < 1.0 for s in sparse["scores"][0])

    hybrid = col.search(Search().rank(Rrf([Knn(query=[1.0, 0.0, 0.0], return_rank=True, limit=4),
                                          Knn(query="canine", key="bm25", return_rank=True, limit=4)]))
                        .limit(3).select(K.SCORE))
    # The same collection embedded answers the same.
    local = sedimentdb.EphemeralClient().create_collection(unique_name, schema=_schema(sedimentdb_ns()),
                                                           embedding_function=None)
    local.add(ids=[f"d{i}" for i in range(4)], embeddings=VECTORS, documents=DOCS,
              metadatas=[{"n": i} for i in range(4)])
    import sedimentdb.search as ours

    want = local.search(ours.Search().rank(ours.Rrf([ours.Knn(query=[1.0, 0.0, 0.0], return_rank=True, limit=4),
                                                     ours.Knn(query="canine", key="bm25", return_rank=True, limit=4)]))
                        .limit(3).select(ours.K.SCORE))
    assert hybrid["ids"] == want["ids"]
    assert hybrid["scores"][0] == pytest.approx(want["scores"][0])
    explicit = col.search(Search().rank(Knn(query=SparseVector(indices=stored.indices[:1], values=[1.0]), key="bm25"))
                          .select(K.SCORE))
    assert explicit["ids"][0][0] == "d0"
    assert cx.Knn is Knn


def sedimentdb_ns():
    from sedimentdb import K, Schema, SparseVectorIndexConfig
    from sedimentdb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    class NS:
        pass

    ns = NS()
    ns.Schema, ns.SparseVectorIndexConfig, ns.K = Schema, SparseVectorIndexConfig, K  # type: ignore[attr-defined]
    ns.ChromaBm25EmbeddingFunction = ChromaBm25EmbeddingFunction  # type: ignore[attr-defined]
    return ns


def test_sparse_metadata_given_directly_and_bad_ones_refused(server: ServerProcess, unique_name: str) -> None:
    from chromadb import K, Knn, Search, SparseVector
    from chromadb import errors as chroma_errors

    remote = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    col = remote.create_collection(unique_name, embedding_function=None)
    col.add(ids=["a", "b", "c"], embeddings=VECTORS[:3],
            metadatas=[{"sv": SparseVector(indices=[1, 4], values=[1.0, 2.0])},
                       {"sv": SparseVector(indices=[4], values=[3.0])}, {"other": 1}])
    got = col.search(Search().rank(Knn(query=SparseVector(indices=[4], values=[1.0]), key="sv")).select(K.SCORE))
    assert got["ids"] == [["b", "a"]] and got["scores"][0] == pytest.approx([1 - 3.0, 1 - 2.0])
    with pytest.raises(ValueError, match="strictly ascending"):  # Chroma's client checks first
        col.add(ids=["z"], embeddings=[VECTORS[0]],
                metadatas=[{"sv": {"#type": "sparse_vector", "indices": [3, 2], "values": [1.0, 1.0]}}])
    import httpx  # the server checks too, for clients that do not

    answer = httpx.post(f"http://127.0.0.1:{server.port}/api/v2/tenants/default_tenant/databases/default_database/"
                        f"collections/{col.id}/add",
                        json={"ids": ["z"], "embeddings": [VECTORS[0]], "metadatas": [
                            {"sv": {"#type": "sparse_vector", "indices": [3, 2], "values": [1.0, 1.0]}}]})
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidArgumentError"
    assert "Invalid sparse vector at index 0 for key 'sv'" in answer.json()["message"]
    assert chroma_errors.InvalidArgumentError


def test_sedimentdb_http_client_sparse_schema_and_text_queries(server: ServerProcess, unique_name: str) -> None:
    """SedimentDB's own HttpClient sends the schema at create, fills BM25 keys and embeds text queries."""
    from sedimentdb import K, Knn, Search

    client = sedimentdb.HttpClient(host="127.0.0.1", port=server.port)
    col = client.create_collection(unique_name, schema=_schema(sedimentdb_ns()), embedding_function=None)
    index = col.schema.keys["bm25"].sparse_vector.sparse_vector_index
    assert index.enabled and index.config.source_key == "#document"
    col.add(ids=[f"d{i}" for i in range(4)], embeddings=VECTORS, documents=DOCS)
    local = sedimentdb.EphemeralClient().create_collection(unique_name, schema=_schema(sedimentdb_ns()),
                                                           embedding_function=None)
    local.add(ids=[f"d{i}" for i in range(4)], embeddings=VECTORS, documents=DOCS)
    search = Search().rank(Knn(query="fox canine", key="bm25")).select(K.SCORE, K.METADATA)
    assert col.search(search) == local.search(search)
    assert col.get(ids=["d1"])["metadatas"] == local.get(ids=["d1"])["metadatas"]
