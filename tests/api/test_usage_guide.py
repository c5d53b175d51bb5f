"""The code examples of Chroma's usage guide, run unchanged with ``import sedimentdb as chromadb``.

Only the embedding function differs where the guide relies on the default model: those steps
use the deterministic hashing function, and one test runs the default model when it is installed.
"""

from __future__ import annotations

import pytest

import sedimentdb as chromadb
from sedimentdb.utils import embedding_functions


def test_getting_started(tmp_path) -> None:  # type: ignore[no-untyped-def]
    chroma_client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    emb_fn = embedding_functions.HashingEmbeddingFunction(dim=64)
    collection = chroma_client.create_collection(name="my_collection", embedding_function=emb_fn)
    collection.add(
        documents=["This is a document about pineapple", "This is a document about oranges"],
        ids=["id1", "id2"],
    )
    results = collection.query(query_texts=["This is a query document about hawaii pineapple"], n_results=2)
    assert results["ids"][0][0] == "id1"
    assert len(results["documents"][0]) == 2
    assert set(results.keys()) >= {"ids", "distances", "metadatas", "documents", "embeddings", "included"}


def test_client_basics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = chromadb.PersistentClient(path=str(tmp_path / "db"), settings=chromadb.Settings(allow_reset=True))
    assert isinstance(client.heartbeat(), int)
    assert client.reset() is True
    ephemeral = chromadb.EphemeralClient()
    assert ephemeral.list_collections() == []


def test_collections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    emb_fn = embedding_functions.HashingEmbeddingFunction(dim=32)
    collection = client.create_collection(name="my_collection", embedding_function=emb_fn)
    collection = client.get_collection(name="my_collection", embedding_function=emb_fn)
    collection = client.get_or_create_collection(name="test", embedding_function=emb_fn)
    client.delete_collection(name="test")
    collection = client.get_collection(name="my_collection")
    collection.add(ids=["a"], documents=["hello world"])
    assert collection.peek()["ids"] == ["a"]
    assert collection.count() == 1
    collection.modify(name="new_name")
    assert client.get_collection("new_name").count() == 1

    collection = client.create_collection(
        name="collection_name",
        metadata={"hnsw:space": "cosine"},  # l2 is the default
        embedding_function=None,
    )
    assert collection.configuration_json["hnsw"]["space"] == "cosine"
    collection = client.create_collection(
        name="configured", configuration={"hnsw": {"space": "ip", "ef_search": 50}}, embedding_function=None
    )
    assert collection.configuration_json["hnsw"]["ef_search"] == 50


@pytest.fixture
def book(tmp_path):  # type: ignore[no-untyped-def]
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    collection = client.create_collection("book", embedding_function=embedding_functions.HashingEmbeddingFunction(32))
    collection.add(
        documents=["lorem ipsum...", "doc2", "doc3"],
        metadatas=[{"chapter": "3", "verse": "16"}, {"chapter": "3", "verse": "5"}, {"chapter": "29", "verse": "11"}],
        ids=["id1", "id2", "id3"],
    )
    return collection


def test_adding_data(book) -> None:  # type: ignore[no-untyped-def]
    book.add(
        embeddings=[[1.1] * 32, [2.3] * 32],
        metadatas=[{"chapter": "3", "verse": "16"}, {"chapter": "3", "verse": "5"}],
        ids=["id4", "id5"],
    )
    book.add(
        documents=["doc1000101", "doc288822"],
        embeddings=[[1.5] * 32, [2.9] * 32],
        metadatas=[{"chapter": "3", "verse": "16"}, {"chapter": "3", "verse": "5"}],
        ids=["id6", "id7"],
    )
    assert book.count() == 7
    assert book.get(ids=["id6"])["documents"] == ["doc1000101"]


def test_querying(book) -> None:  # type: ignore[no-untyped-def]
    q = [[0.1] * 32, [0.2] * 32]
    res = book.query(query_embeddings=q, n_results=2, where={"chapter": "3"})
    assert [len(ids) for ids in res["ids"]] == [2, 2]
    assert all(i in ("id1", "id2") for i in res["ids"][0])
    res = book.query(query_texts=["doc10", "thus spake zarathustra"], n_results=3,
                     where={"verse": "11"}, where_document={"$contains": "doc"})
    assert res["ids"] == [["id3"], ["id3"]]
    got = book.get(ids=["id1", "id2", "id3"], where={"chapter": "3"})
    assert got["ids"] == ["id1", "id2"]
    got = book.get(include=["documents"])
    assert got["documents"] == ["lorem ipsum...", "doc2", "doc3"] and got["metadatas"] is None
    res = book.query(query_embeddings=q[:1], include=["documents", "distances"])
    assert res["metadatas"] is None and len(res["distances"][0]) == 3


def test_filters(book) -> None:  # type: ignore[no-untyped-def]
    assert book.get(where={"chapter": {"$eq": "3"}})["ids"] == ["id1", "id2"]
    assert book.get(where={"chapter": {"$ne": "3"}})["ids"] == ["id3"]
    assert book.get(where={"$and": [{"chapter": {"$eq": "3"}}, {"verse": {"$eq": "5"}}]})["ids"] == ["id2"]
    assert book.get(where={"$or": [{"chapter": "29"}, {"verse": "5"}]})["ids"] == ["id2", "id3"]
    assert book.get(where={"verse": {"$in": ["16", "11"]}})["ids"] == ["id1", "id3"]
    assert book.get(where={"verse": {"$nin": ["16", "11"]}})["ids"] == ["id2"]
    assert book.get(where_document={"$contains": "doc"})["ids"] == ["id2", "id3"]
    assert book.get(where_document={"$not_contains": "doc"})["ids"] == ["id1"]
    book.add(ids=["n1", "n2"], embeddings=[[0.0] * 32] * 2, metadatas=[{"year": 2020}, {"year": 2024}])
    assert book.get(where={"year": {"$gte": 2021}})["ids"] == ["n2"]
    assert book.get(where={"year": {"$lt": 2021}})["ids"] == ["n1"]


def test_updating_and_deleting(book) -> None:  # type: ignore[no-untyped-def]
    book.update(
        ids=["id1", "id2", "id3"],
        embeddings=[[1.1] * 32, [2.3] * 32, [4.5] * 32],
        metadatas=[{"chapter": "3", "verse": "16"}, {"chapter": "3", "verse": "5"}, {"chapter": "29", "verse": "11"}],
        documents=["doc1", "doc2", "doc3"],
    )
    assert book.get()["documents"] == ["doc1", "doc2", "doc3"]
    book.upsert(
        ids=["id1", "id2", "id9"],
        embeddings=[[1.1] * 32, [2.3] * 32, [4.5] * 32],
        metadatas=[{"chapter": "3", "verse": "16"}, {"chapter": "3", "verse": "5"}, {"chapter": "20", "verse": "1"}],
        documents=["doc1", "doc2", "doc9"],
    )
    assert book.count() == 4
    book.delete(ids=["id1", "id2", "id3"], where={"chapter": "20"})
    assert book.count() == 4  # ids and where intersect: nothing matched both
    book.delete(where={"chapter": "20"})
    assert book.get()["ids"] == ["id1", "id2", "id3"]


def test_default_embedding_function_when_available(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ef = embedding_functions.DefaultEmbeddingFunction()
    try:
        ef(["probe"])
    except embedding_functions.EmbeddingExtraMissingError as exc:
        pytest.skip(f"the default model is not installed here: {exc}")
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    collection = client.create_collection(name="my_collection")
    collection.add(documents=["This is a document about cats", "Stock markets fell today"], ids=["a", "b"])
    assert collection.query(query_texts=["kittens"], n_results=1)["ids"] == [["a"]]
