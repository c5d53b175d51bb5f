"""The fixes Chroma's own test suite asked for, embedded (issue 15; the HTTP side is tests/http)."""

from __future__ import annotations

import pickle
import threading

import pytest

from sedimentdb import errors
from sedimentdb.collection_schema import schema_json
from sedimentdb.engine.rust_regex import translate
from sedimentdb.local_clients import Client

DISABLED_SCHEMA = {
    "keys": {
        "#document": {"string": {"fts_index": {"enabled": False, "config": {}}}},
        "flag": {"bool": {"bool_inverted_index": {"enabled": False, "config": {}}}},
    }
}


def test_already_exists_is_internal_error_and_pickles(client: Client) -> None:
    client.create_collection("dup", embedding_function=None)
    with pytest.raises(errors.InternalError) as info:
        client.create_collection("dup", embedding_function=None)
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone).__name__ == "InternalError" and str(clone) == "Collection [dup] already exists"
    assert isinstance(clone, errors.InternalError)


def test_get_or_create_racing_creates(client: Client) -> None:
    ids: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            ids.append(str(client.get_or_create_collection("raced", embedding_function=None).id))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(set(ids)) == 1


def test_schema_given_embedded_is_kept_and_enforced(client: Client) -> None:
    collection = client.create_collection("schemed", schema=DISABLED_SCHEMA, embedding_function=None)
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["doc"], metadatas=[{"flag": True, "n": 1}])
    assert "_schema" not in collection.configuration_json
    with pytest.raises(errors.InvalidArgumentError, match="full-text search because FTS indexing is disabled"):
        collection.get(where_document={"$contains": "doc"})
    with pytest.raises(errors.InvalidArgumentError, match="key 'flag' with type 'Bool'"):
        collection.query(query_embeddings=[[1.0, 0.0]], where={"$and": [{"n": 1}, {"flag": True}]})
    assert collection.get(where={"n": 1})["ids"] == ["a"]
    reported = schema_json(collection.get_model().configuration)
    assert reported["keys"]["flag"]["bool"]["bool_inverted_index"]["enabled"] is False
    assert reported["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["source_key"] == "#document"


def test_regex_errors_up_front_even_when_empty(client: Client) -> None:
    collection = client.create_collection("empty", embedding_function=None)
    for bad in ("(", r"(a)\1", "(?<=a)b", "(?U)a"):
        with pytest.raises(errors.InvalidArgumentError, match="Regex syntax errror"):
            collection.get(where_document={"$regex": bad})
        with pytest.raises(errors.InvalidArgumentError, match="Regex syntax errror"):
            collection.delete(where_document={"$not_regex": bad})


@pytest.mark.parametrize("rust, python", [
    ("(?i)cat", "(?i:cat)"),
    ("(?i)c(?-i)at", "(?i:c(?-i:at))"),
    ("a(b(?i)c)d", "a(b(?i:c))d"),
    ("(?<word>x)", "(?P<word>x)"),
    (r"end\z", r"end\Z"),
    ("[(?i)]", "[(?i)]"),
])
def test_rust_regex_translation(rust: str, python: str) -> None:
    assert translate(rust) == python


def test_embedded_collection_reports_its_schema(client: Client) -> None:
    collection = client.create_collection("reported", configuration={"hnsw": {"space": "ip"}}, embedding_function=None)
    vector = collection.schema.keys["#embedding"].float_list.vector_index
    assert vector.enabled is True and vector.config.space == "ip"
