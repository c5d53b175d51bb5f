"""What Chroma's own test suite needs of ``sediment run``, through Chroma's own client (issue 15).

Each test is one cause the suite found (docs/COMPATIBILITY.md): collection schema, Rust-dialect
``$regex``, SPANN on a single node, the get_or_create race, the ``chroma-trace-id`` header.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.http.server_process import ServerProcess

chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
from chromadb import Schema  # noqa: E402
from chromadb import errors as chroma_errors  # noqa: E402
from chromadb.api.types import (  # noqa: E402
    FtsIndexConfig,
    IntInvertedIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
)
from chromadb.config import Settings  # noqa: E402


def _client(server: ServerProcess) -> Any:
    return chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))


def _vector_config(schema: Any, where: str) -> Any:
    types = schema.defaults if where == "defaults" else schema.keys["#embedding"]
    return types.float_list.vector_index


def test_default_schema_is_chromas_and_hnsw_modify_works(server: ServerProcess, unique_name: str) -> None:
    collection = _client(server).create_collection(unique_name, embedding_function=None,
                                                   configuration={"hnsw": {"space": "ip"}})
    schema = collection.schema
    assert set(schema.keys) == {"#document", "#embedding"}
    assert schema.keys["#document"].string.fts_index.enabled is True
    embedding = _vector_config(schema, "#embedding")
    assert embedding.enabled is True and embedding.config.space == "ip"
    assert embedding.config.source_key == "#document" and embedding.config.hnsw.ef_search == 100
    assert _vector_config(schema, "defaults").enabled is False
    # Chroma's client rewrites the schema it holds: this failed while the server sent none.
    collection.modify(configuration={"hnsw": {"ef_search": 33}})
    again = _client(server).get_collection(unique_name, embedding_function=None)
    assert again.configuration_json["hnsw"]["ef_search"] == 33
    assert _vector_config(again.schema, "#embedding").config.hnsw.ef_search == 33
    assert "_schema" not in again.configuration_json


def test_schema_at_create_sets_space_and_is_kept(server: ServerProcess, unique_name: str) -> None:
    schema = Schema()
    schema.create_index(config=VectorIndexConfig(space="cosine"))
    schema.delete_index(key="color", config=StringInvertedIndexConfig())
    created = _client(server).create_collection(unique_name, schema=schema, embedding_function=None)
    assert created.configuration_json["hnsw"]["space"] == "cosine"
    reloaded = _client(server).get_collection(unique_name, embedding_function=None)
    assert _vector_config(reloaded.schema, "#embedding").config.space == "cosine"
    assert reloaded.schema.keys["color"].string.string_inverted_index.enabled is False


def test_disabled_indexes_refuse_filters_as_chroma_does(server: ServerProcess, unique_name: str) -> None:
    schema = Schema()
    schema.delete_index(key="#document", config=FtsIndexConfig())
    schema.delete_index(key="color", config=StringInvertedIndexConfig())
    schema.delete_index(key="n", config=IntInvertedIndexConfig())
    collection = _client(server).create_collection(unique_name, schema=schema, embedding_function=None)
    collection.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["hello"], metadatas=[{"color": "red", "n": 1}])
    refused = {
        "Cannot filter using full-text search because FTS indexing is disabled": {
            "where_document": {"$contains": "hello"}},
        "Cannot filter using metadata key 'color' with type 'Str' because indexing is disabled": {
            "where": {"color": "red"}},
        "Cannot filter using metadata key 'n' with type 'Int' because indexing is disabled": {
            "where": {"n": {"$gt": 0}}},
    }
    for message, kwargs in refused.items():
        with pytest.raises(chroma_errors.InvalidArgumentError, match=message):
            collection.get(**kwargs)
        with pytest.raises(chroma_errors.InvalidArgumentError, match=message):
            collection.query(query_embeddings=[[1.0, 2.0]], **kwargs)
    with pytest.raises(chroma_errors.InvalidArgumentError, match="key 'color'"):
        collection.delete(where={"color": "red"})
    assert collection.get(where={"other": "x"})["ids"] == []  # keys left indexed still filter


def test_schema_and_non_default_configuration_conflict(server: ServerProcess, unique_name: str) -> None:
    schema = Schema()
    schema.create_index(config=VectorIndexConfig(space="cosine"))
    with pytest.raises(Exception, match="Cannot set both collection config and schema simultaneously"):
        _client(server).create_collection(unique_name, schema=schema, configuration={"hnsw": {"ef_search": 7}},
                                          embedding_function=None)


def test_spann_on_a_single_node_keeps_only_the_space(server: ServerProcess, unique_name: str) -> None:
    collection = _client(server).create_collection(
        unique_name, embedding_function=None,
        configuration={"spann": {"space": "ip", "ef_search": 7, "ef_construction": 9, "max_neighbors": 5}})
    hnsw = collection.configuration_json["hnsw"]
    assert hnsw["space"] == "ip"
    assert (hnsw["ef_search"], hnsw["ef_construction"], hnsw["max_neighbors"]) == (100, 100, 16)
    assert collection.configuration_json["spann"] is None


def test_spann_with_a_space_ignores_legacy_hnsw_metadata(server: ServerProcess, unique_name: str) -> None:
    """Chroma's property/test_schema examples: a SPANN space wins over every hnsw:* metadata key; without one
    the metadata still counts."""
    client = _client(server)
    named = client.create_collection(unique_name, embedding_function=None, configuration={"spann": {"space": "l2"}},
                                     metadata={"hnsw:resize_factor": 1.0, "hnsw:sync_threshold": 2})
    hnsw = named.configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["resize_factor"], hnsw["sync_threshold"]) == ("l2", 1.2, 1000)
    unnamed = client.create_collection(unique_name + "-b", embedding_function=None, configuration={"spann": {}},
                                       metadata={"hnsw:sync_threshold": 2})
    assert unnamed.configuration_json["hnsw"]["sync_threshold"] == 2


def test_regex_is_rusts_dialect_and_validated_up_front(server: ServerProcess, unique_name: str) -> None:
    collection = _client(server).create_collection(unique_name, embedding_function=None)
    with pytest.raises(chroma_errors.InvalidArgumentError, match="Regex syntax errror"):
        collection.get(where_document={"$regex": "(unclosed"})  # no documents yet: refused all the same
    with pytest.raises(chroma_errors.InvalidArgumentError, match="Regex syntax errror"):
        collection.get(where_document={"$regex": "(?=look)ahead"})  # Python would accept it; Rust does not
    collection.add(ids=["1", "2", "3"], embeddings=[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]],
                   documents=["cat", "Cat", "CAT"], metadatas=[{"t": 10}, {"t": 20}, {"t": 30}])
    assert sorted(collection.get(where_document={"$regex": "(?i)cat"})["ids"]) == ["1", "2", "3"]
    got = collection.get(where={"t": {"$ne": 10}}, where_document={"$regex": "(?i)c(?-i)at"})
    assert got["ids"] == ["2"]


def test_get_or_create_racing_creates_never_fails(server: ServerProcess, unique_name: str) -> None:
    ids: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        client = _client(server)
        start.wait()
        try:
            ids.append(str(client.get_or_create_collection(unique_name, embedding_function=None).id))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(set(ids)) == 1 and len(ids) == 8


def test_every_answer_carries_a_trace_id(server: ServerProcess) -> None:
    ok = httpx.get(server.url + "/api/v2/heartbeat")
    missing = httpx.get(server.url + "/api/v2/tenants/default_tenant/databases/default_database/collections/nope")
    assert ok.headers["chroma-trace-id"] == "0" * 32
    assert missing.status_code == 404 and missing.headers["chroma-trace-id"] == "0" * 32
    with pytest.raises(chroma_errors.NotFoundError) as info:
        _client(server).get_collection("nope-nope")
    assert info.value.trace_id == "0" * 32


def test_deleted_collection_handle_words_as_chroma(server: ServerProcess, unique_name: str) -> None:
    client = _client(server)
    gone = client.create_collection(unique_name, embedding_function=None)
    gone.add(ids=["a"], embeddings=[[1.0, 0.0]])
    client.delete_collection(unique_name)
    missing = f"Collection [{gone.id}] does not exist."
    for read in (gone.count, gone.get, lambda: gone.delete(ids=["a"])):
        with pytest.raises(chroma_errors.NotFoundError) as info:
            read()
        assert str(info.value) == missing
    for write in (lambda: gone.add(ids=["b"], embeddings=[[1.0, 0.0]]),
                  lambda: gone.query(query_embeddings=[[1.0, 0.0]])):
        with pytest.raises(chroma_errors.NotFoundError) as info:
            write()
        assert str(info.value) == "Error getting collection: " + missing


def test_sparse_vector_index_is_accepted_unlike_chroma_single_node(server: ServerProcess, unique_name: str) -> None:
    """Chroma single-node refuses this schema ("Sparse vector indexing is not enabled in local"); SedimentDB
    builds the index (issue 19, docs/COMPATIBILITY.md "Deliberate differences")."""
    from chromadb.api.types import SparseVectorIndexConfig

    schema = Schema()
    schema.create_index(key="sparse_metadata", config=SparseVectorIndexConfig())
    col = _client(server).create_collection(unique_name, schema=schema, embedding_function=None)
    assert col.schema.keys["sparse_metadata"].sparse_vector.sparse_vector_index.enabled
