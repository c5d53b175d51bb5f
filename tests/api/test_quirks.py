"""Chroma's documented quirks (chroma-api.md §11), each reproduced on purpose."""

from __future__ import annotations

import numpy as np
import pytest

import sedimentdb as chromadb
from sedimentdb.collection import Collection
from sedimentdb.local_clients import Client


def test_add_of_an_existing_id_is_a_silent_no_op(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["first"])
    collection.add(ids=["a"], embeddings=[[0.0, 1.0]], documents=["second"])
    got = collection.get(include=["embeddings", "documents"])
    assert got["documents"] == ["first"]
    np.testing.assert_array_equal(got["embeddings"], [[1.0, 0.0]])
    assert collection.count() == 1


def test_update_of_a_missing_id_is_a_silent_no_op(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]])
    collection.update(ids=["missing"], embeddings=[[0.0, 1.0]], documents=["x"])
    assert collection.get()["ids"] == ["a"]


def test_update_merges_metadata_and_none_deletes_a_key(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"keep": 1, "drop": 2, "change": "x"}])
    collection.update(ids=["a"], metadatas=[{"drop": None, "change": "y", "new": True}])
    assert collection.get()["metadatas"] == [{"keep": 1, "change": "y", "new": True}]


def test_upsert_merges_metadata_of_existing_records(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"keep": 1, "drop": 2}], documents=["doc"])
    collection.upsert(ids=["a", "b"], embeddings=[[0.5, 0.5], [0.0, 1.0]], metadatas=[{"drop": None}, {"n": 1}])
    got = collection.get(include=["metadatas", "documents", "embeddings"])
    assert got["ids"] == ["a", "b"]
    assert got["metadatas"] == [{"keep": 1}, {"n": 1}]
    assert got["documents"] == ["doc", None]  # a document is replaced only when given
    np.testing.assert_allclose(got["embeddings"], [[0.5, 0.5], [0.0, 1.0]])


def test_update_without_embeddings_keeps_the_vector(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["doc"])
    collection.update(ids=["a"], metadatas=[{"k": 1}])
    got = collection.get(include=["embeddings", "documents", "metadatas"])
    np.testing.assert_array_equal(got["embeddings"], [[1.0, 0.0]])
    assert got["documents"] == ["doc"]


def test_modify_metadata_replaces_it(client: Client) -> None:
    col = client.create_collection("coll1", metadata={"a": 1, "b": 2}, embedding_function=None)
    col.modify(metadata={"c": 3})
    assert col.metadata == {"c": 3}
    assert client.get_collection("coll1").metadata == {"c": 3}


def test_modify_cannot_change_the_distance_function(client: Client) -> None:
    col = client.create_collection("coll1", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    with pytest.raises(ValueError) as info:
        col.modify(metadata={"hnsw:space": "l2"})
    assert str(info.value) == (
        "Changing the distance function of a collection once it is created is not supported currently."
    )


def test_get_returns_insertion_order_not_request_order(collection: Collection) -> None:
    collection.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0]] * 3)
    assert collection.get(ids=["c", "a", "b"])["ids"] == ["a", "b", "c"]


def test_re_added_record_goes_to_the_end(collection: Collection) -> None:
    collection.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0]] * 3)
    collection.delete(ids=["a"])
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]])
    assert collection.get()["ids"] == ["b", "c", "a"]


def test_missing_ids_are_simply_absent_from_get(collection: Collection) -> None:
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]])
    assert collection.get(ids=["a", "zzz"])["ids"] == ["a"]


def test_query_short_lists_when_fewer_than_n_results_match(collection: Collection) -> None:
    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, {"k": 2}])
    res = collection.query(query_embeddings=[[1.0, 0.0]], n_results=10)
    assert res["ids"] == [["a", "b"]]
    res = collection.query(query_embeddings=[[1.0, 0.0]], n_results=10, where={"k": 2})
    assert res["ids"] == [["b"]]


@pytest.mark.parametrize("where", [None, {"k": 2}])
def test_huge_n_results_costs_what_the_collection_holds(collection: Collection, where) -> None:  # type: ignore[no-untyped-def]
    """Chroma answers n_results=10**9 on a small collection with what it has. The engine sized
    its result arrays by n_results, so 10**9 was gigabytes and the process was killed (OOM)."""
    import tracemalloc

    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, {"k": 2}])
    tracemalloc.start()
    try:
        res = collection.query(query_embeddings=[[1.0, 0.0]], n_results=1_000_000, where=where)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res["ids"] == ([["a", "b"]] if where is None else [["b"]])
    assert peak < 2_000_000, f"a 2-record query with n_results=10**6 allocated {peak:,} bytes"


def test_query_on_an_empty_collection_gives_empty_inner_lists(collection: Collection) -> None:
    res = collection.query(query_embeddings=[[1.0, 0.0], [0.0, 1.0]], n_results=3)
    assert res["ids"] == [[], []]
    assert res["distances"] == [[], []]


def test_query_with_ids_restricts_candidates(collection: Collection) -> None:
    collection.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    res = collection.query(query_embeddings=[[1.0, 0.0]], ids=["b", "c"], n_results=5)
    assert res["ids"] == [["b", "c"]]


def test_query_with_an_id_lacking_a_vector_raises(collection: Collection) -> None:
    empty = [[]]
    assert collection.query(query_embeddings=[[1.0, 0.0]], ids=["ghost"])["ids"] == empty  # no reader yet
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"k": 1}])
    with pytest.raises(chromadb.errors.ChromaError, match="Error finding id"):
        collection.query(query_embeddings=[[1.0, 0.0]], ids=["a", "ghost"])
    # Chroma pre-filters when a filter is given: the unknown id is then no error.
    assert collection.query(query_embeddings=[[1.0, 0.0]], ids=["a", "ghost"], where={"k": 1})["ids"] == [["a"]]
    assert collection.query(query_embeddings=[[1.0, 0.0]], ids=["ghost"],
                            where_document={"$contains": "z"})["ids"] == empty


def test_deleted_collection_handle_words_as_chroma(client) -> None:  # type: ignore[no-untyped-def]
    gone = client.create_collection("gone", embedding_function=None)
    gone.add(ids=["a"], embeddings=[[1.0, 0.0]])
    client.delete_collection("gone")
    missing = f"Collection [{gone.id}] does not exist."
    for read in (gone.count, gone.get):
        with pytest.raises(chromadb.errors.NotFoundError) as info:
            read()
        assert str(info.value) == missing
    with pytest.raises(chromadb.errors.NotFoundError) as info:
        gone.add(ids=["b"], embeddings=[[1.0, 0.0]])
    assert str(info.value) == "Error getting collection: " + missing
    with pytest.raises(chromadb.errors.NotFoundError) as info:
        gone.query(query_embeddings=[[1.0, 0.0]])
    assert str(info.value) == "Error getting collection: " + missing


@pytest.mark.parametrize("name, message", [
    ("192.168.1.1", "Expected a name that is not a valid ip address. Got 192.168.1.1"),
    ("ab..cd", "Expected a name that does not contains two consecutive periods (..). Got ab..cd"),
])
def test_collection_name_messages(client, name: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(chromadb.errors.InvalidArgumentError) as info:
        client.create_collection(name)
    assert str(info.value) == "Validation error: name: " + message


def test_result_shapes(collection: Collection) -> None:
    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, None],
                   documents=[None, "doc b"])
    got = collection.get(include=["embeddings", "metadatas", "documents"])
    assert isinstance(got["embeddings"], np.ndarray) and got["embeddings"].shape == (2, 2)
    assert got["metadatas"] == [{"k": 1}, None]  # no metadata is None, never {}
    assert got["documents"] == [None, "doc b"]
    assert got["uris"] is None and got["data"] is None
    assert got["included"] == ["embeddings", "metadatas", "documents"]
    default = collection.get()
    assert default["embeddings"] is None
    assert default["included"] == ["metadatas", "documents"]
    res = collection.query(query_embeddings=[[1.0, 0.0]], n_results=2, include=["embeddings", "distances"])
    assert isinstance(res["embeddings"], list) and isinstance(res["embeddings"][0], np.ndarray)
    assert res["embeddings"][0].shape == (2, 2)
    assert res["documents"] is None and res["metadatas"] is None
    assert res["distances"][0][0] == pytest.approx(0.0)
    assert all(isinstance(d, float) for d in res["distances"][0])


def test_delete_returns_requested_count_for_ids_only(collection: Collection) -> None:
    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0]] * 2, metadatas=[{"k": 1}, {"k": 2}])
    assert collection.delete(ids=["a", "ghost1", "ghost2"]) == {"deleted": 3}
    assert collection.get()["ids"] == ["b"]
    assert collection.delete(ids=["b", "ghost"], where={"k": 2}) == {"deleted": 1}
    assert collection.count() == 0


def test_delete_by_filter_with_limit(collection: Collection) -> None:
    collection.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0]] * 3, metadatas=[{"k": 1}] * 3)
    assert collection.delete(where={"k": 1}, limit=2) == {"deleted": 2}
    assert collection.get()["ids"] == ["c"]


def test_dimension_is_fixed_by_the_first_write_not_by_queries(collection: Collection) -> None:
    assert collection.query(query_embeddings=[[1.0, 2.0, 3.0]])["ids"] == [[]]
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]])
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        collection.add(ids=["b"], embeddings=[[1.0, 0.0, 0.0]])


def test_all_ephemeral_clients_share_one_database() -> None:
    first = chromadb.EphemeralClient()
    second = chromadb.Client()
    first.create_collection("shared", embedding_function=None)
    assert [c.name for c in second.list_collections()] == ["shared"]
    first.close()
    second.close()


def test_reserved_chroma_metadata_keys_are_stripped_from_results(collection: Collection) -> None:
    # Only the API writes chroma:* keys; put one in through the engine to see it filtered.
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"k": 1}])
    engine = collection._client._engine()
    engine.update(collection._model.id, ["a"], None, None, [{"chroma:internal": "x"}], None)
    assert collection.get()["metadatas"] == [{"k": 1}]


def test_peek_returns_first_records_with_embeddings(collection: Collection) -> None:
    collection.add(ids=[f"id{i}" for i in range(15)], embeddings=np.arange(30, dtype=np.float32).reshape(15, 2))
    peek = collection.peek()
    assert peek["ids"] == [f"id{i}" for i in range(10)]
    assert isinstance(peek["embeddings"], np.ndarray) and peek["embeddings"].shape == (10, 2)
    assert collection.peek(limit=3)["ids"] == ["id0", "id1", "id2"]


def test_get_limit_and_offset_page_in_insertion_order(collection: Collection) -> None:
    collection.add(ids=[f"id{i}" for i in range(6)], embeddings=[[1.0, 0.0]] * 6)
    assert collection.get(limit=2, offset=3)["ids"] == ["id3", "id4"]
    assert collection.get(offset=4)["ids"] == ["id4", "id5"]


def test_metadata_types_round_trip(collection: Collection) -> None:
    meta = {"i": 1, "f": 1.0, "b": True, "s": "x", "li": [1, 2], "ls": ["a"], "lb": [True, False], "lf": [0.5]}
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[meta])
    got = collection.get()["metadatas"][0]
    assert got == meta
    assert type(got["i"]) is int and type(got["f"]) is float and type(got["b"]) is bool


def test_caller_mutation_after_add_changes_nothing(collection: Collection) -> None:
    meta = {"tags": ["a"], "k": 1}
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[meta])
    meta["tags"].append("b")
    meta["k"] = 2
    got = collection.get()["metadatas"][0]
    got["tags"].append("c")
    assert collection.get()["metadatas"] == [{"tags": ["a"], "k": 1}]
