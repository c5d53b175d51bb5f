"""Every validation rule of chroma-api.md §3-§4 raises Chroma's class with Chroma's exact message,
and a rejected call writes nothing.

The expected messages were checked against chromadb 1.5.9 itself, except where Chroma's text
depends on set iteration order (duplicate ids, "Exactly one of ..."), which varies per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sedimentdb import errors
from sedimentdb.collection import Collection

Case = tuple[str, Callable[[Collection], Any], type[BaseException], str]

E2 = [[0.1, 0.2]]
NAN = "Validation error: embeddings: Embeddings must not contain NaN or Infinity values"

CASES: list[Case] = [
    # ids
    ("empty ids in add", lambda c: c.add(ids=[], embeddings=[]),
     ValueError, "Expected Embeddings to be non-empty list or numpy array, got [] in add."),
    ("empty ids without embeddings", lambda c: c.add(ids=[], documents=["a"]),
     ValueError, "Non-empty lists are required for ['ids'] in add."),
    ("non-str id", lambda c: c.add(ids=[1], embeddings=E2),
     ValueError, "Expected ID to be a str, got 1 in add."),
    ("duplicate ids", lambda c: c.add(ids=["a", "a"], embeddings=E2 * 2),
     errors.DuplicateIDError, "Expected IDs to be unique, found duplicates of: a in add."),
    ("many duplicate ids", lambda c: c.upsert(ids=[str(i) for i in range(12)] * 2, embeddings=E2 * 24),
     errors.DuplicateIDError,
     "Expected IDs to be unique, found 12 duplicated IDs: 0, 1, 2, 3, 4, ..., 6, 7, 8, 9, 10 in upsert."),
    ("empty-string id", lambda c: c.add(ids=[""], embeddings=E2),
     errors.InvalidArgumentError, "Empty ID, ID must have at least one character"),
    ("get with empty ids", lambda c: c.get(ids=[]),
     ValueError, "Expected IDs to be a non-empty list, got 0 IDs in get."),
    ("delete with empty ids", lambda c: c.delete(ids=[]),
     ValueError, "Expected IDs to be a non-empty list, got 0 IDs in delete."),
    # lengths
    ("unequal lengths", lambda c: c.add(ids=["a", "b"], embeddings=E2 * 3),
     ValueError, "Unequal lengths for fields: ids: 2, embeddings: 3 in add."),
    ("unequal lengths with metadata", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"k": 1}, {"k": 2}]),
     ValueError, "Unequal lengths for fields: ids: 1, metadatas: 2, embeddings: 1 in add."),
    # embeddings
    ("query with empty embeddings", lambda c: c.query(query_embeddings=[]),
     ValueError, "Expected Embeddings to be non-empty list or numpy array, got [] in query."),
    ("bool embedding", lambda c: c.add(ids=["a"], embeddings=[[True, False]]),
     ValueError,
     "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array, or a list of numpy "
     "arrays, got [[True, False]] in add."),
    ("bool ndarray", lambda c: c.add(ids=["a"], embeddings=np.array([[True, False]])),
     ValueError,
     "Expected each value in the embedding to be a int or float, got an embedding with bool - [ True False] in add."),
    ("empty embedding", lambda c: c.add(ids=["a"], embeddings=[[]]),
     IndexError, "list index out of range in add."),  # Chroma's own slip, reproduced
    ("empty ndarray row", lambda c: c.add(ids=["a"], embeddings=np.zeros((1, 0))),
     ValueError,
     "Expected each embedding in the embeddings to be a 1-dimensional numpy array with at least 1 int/float "
     "value. Got a 1-dimensional numpy array with no values at pos 0 in add."),
    ("mixed embedding kinds", lambda c: c.add(ids=["a", "b"], embeddings=[np.array([1.0, 2.0]), [1.0, 2.0]]),
     ValueError, "Expected each embedding in the embeddings to be a numpy array, got ['list', 'ndarray'] in add."),
    ("NaN", lambda c: c.add(ids=["a"], embeddings=[[float("nan"), 1.0]]),
     errors.InvalidArgumentError, NAN),
    ("infinity", lambda c: c.upsert(ids=["a"], embeddings=[[float("inf"), 1.0]]),
     errors.InvalidArgumentError, NAN),
    ("beyond float32", lambda c: c.add(ids=["a"], embeddings=np.array([[1e300, 1.0]])),
     errors.InvalidArgumentError, NAN),
    ("inconsistent dimensions", lambda c: c.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [1.0]]),
     errors.InvalidArgumentError, "Inconsistent dimensions in provided embeddings"),
    ("wrong dimension on add", lambda c: c.add(ids=["a"], embeddings=[[1.0, 2.0, 3.0]]),
     errors.InvalidArgumentError, "Collection expecting embedding with dimension of 2, got 3"),
    ("wrong dimension on update", lambda c: c.update(ids=["seed"], embeddings=[[1.0]]),
     errors.InvalidArgumentError, "Collection expecting embedding with dimension of 2, got 1"),
    ("wrong dimension on query", lambda c: c.query(query_embeddings=[[1.0, 2.0, 3.0]]),
     errors.InvalidArgumentError, "Collection expecting embedding with dimension of 2, got 3"),
    # documents
    ("non-str document", lambda c: c.add(ids=["a"], documents=[3]),
     ValueError, "Expected document to be a str, got 3 in add."),
    ("None document without embeddings", lambda c: c.upsert(ids=["a"], documents=[None]),
     ValueError, "Expected document to be a str, got None in upsert."),
    # metadata
    ("empty metadata", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{}]),
     ValueError, "Expected metadata to be a non-empty dict, got 0 metadata attributes in add."),
    ("metadata not a dict", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=["x"]),
     AttributeError, "'str' object has no attribute 'items' in add."),
    ("reserved key", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"chroma:document": "x"}]),
     ValueError, "Expected metadata to not contain the reserved key chroma:document in add."),
    ("non-str key", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{1: "x"}]),
     TypeError, "Expected metadata key to be a str, got 1 which is a int in add."),
    ("dict value", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"k": {"a": 1}}]),
     ValueError,
     "Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, got {'a': 1} which is "
     "a dict in add."),
    ("empty list value", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"tags": []}]),
     ValueError, "Expected metadata list value for key 'tags' to be non-empty in add."),
    ("mixed list value", lambda c: c.update(ids=["seed"], metadatas=[{"tags": ["a", 1]}]),
     ValueError,
     "Expected metadata list value for key 'tags' to contain only str, int, float, or bool and all elements must "
     "be the same type, got ['a', 1] in update."),
    ("nested list value", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"tags": [["a"]]}]),
     ValueError,
     "Expected metadata list value for key 'tags' to contain only str, int, float, or bool and all elements must "
     "be the same type, got [['a']] in add."),
    ("key starting with #", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"#k": 1}]),
     errors.InvalidArgumentError, "Validation error: metadatas: Invalid metadata at index 0"),
    ("key starting with $", lambda c: c.upsert(ids=["a", "b"], embeddings=E2 * 2, metadatas=[None, {"$k": 1}]),
     errors.InvalidArgumentError, "Validation error: metadatas: Invalid metadata at index 1"),
    ("empty key", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"": 1}]),
     errors.InvalidArgumentError, "Validation error: metadatas: Invalid metadata at index 0"),
    ("None value in add", lambda c: c.add(ids=["a"], embeddings=E2, metadatas=[{"k": None}]),
     TypeError, "argument 'metadatas': Cannot convert Python object to MetadataValue"),
    ("malformed sparse vector value",  # well-formed ones are stored (issue 19; Chroma single-node refuses them)
     lambda c: c.add(ids=["a"], embeddings=E2,
                     metadatas=[{"sv": {"#type": "sparse_vector", "indices": [2, 1], "values": [1.0, 2.0]}}]),
     errors.InvalidArgumentError, "Validation error: metadatas: Invalid sparse vector at index 0 for key 'sv': "
     "SparseVector indices must be sorted in strictly ascending order, found indices[1]=1 <= indices[0]=2"),
    # what to embed
    ("nothing to embed", lambda c: c.add(ids=["a"]),
     ValueError, "Exactly one of documents, images, uris must be provided in add."),
    ("two things to embed", lambda c: c.add(ids=["a"], documents=["d"], uris=["u"]),
     ValueError, "Exactly one of documents, images, uris must be provided in add."),
    ("upsert nothing to embed", lambda c: c.upsert(ids=["a"]),
     ValueError, "Exactly one of documents, images must be provided in upsert."),
    ("uris without data loader", lambda c: c.add(ids=["a"], uris=["u"]),
     ValueError, "You must set a data loader on the collection if loading from URIs. in add."),
    # reads
    ("distances in get", lambda c: c.get(include=["distances"]),
     ValueError, "Include item cannot be one of distances, got distances in get."),
    ("unknown include", lambda c: c.query(query_embeddings=E2, include=["everything"]),
     ValueError,
     "Expected include item to be one of documents, embeddings, metadatas, distances, uris, data, got everything"
     " in query."),
    ("include not a list", lambda c: c.get(include="documents"),
     ValueError, "Expected include to be a list, got documents in get."),
    ("data without loader", lambda c: c.get(include=["data"]),
     ValueError, "You must set a data loader on the collection if loading from URIs. in get."),
    ("n_results zero", lambda c: c.query(query_embeddings=E2, n_results=0),
     TypeError, "Number of requested results 0, cannot be negative, or zero. in query."),
    ("n_results negative", lambda c: c.query(query_embeddings=E2, n_results=-3),
     TypeError, "Number of requested results -3, cannot be negative, or zero. in query."),
    ("n_results not int", lambda c: c.query(query_embeddings=E2, n_results=2.5),
     ValueError, "Expected requested number of results to be a int, got 2.5 in query."),
    ("query id without a vector", lambda c: c.query(query_embeddings=E2, ids=["nope"]),
     errors.InternalError, "Error executing plan: Internal error: Error finding id"),
    ("boolean range operand", lambda c: c.get(where={"k": {"$gt": True}}),
     errors.InvalidArgumentError, "Invalid where clause"),
    ("negative limit", lambda c: c.get(limit=-1),
     OverflowError, "out of range integral type conversion attempted"),
    # delete
    ("delete nothing", lambda c: c.delete(),
     ValueError, "At least one of ids, where, or where_document must be provided in delete."),
    ("delete limit without filter", lambda c: c.delete(ids=["seed"], limit=1),
     ValueError, "limit can only be specified when a where or where_document clause is provided in delete."),
    ("delete negative limit", lambda c: c.delete(where={"k": 1}, limit=-1),
     ValueError, "limit must be a non-negative integer in delete."),
    ("delete non-int limit", lambda c: c.delete(where={"k": 1}, limit="2"),
     TypeError, "limit must be a non-negative integer in delete."),
    # lone surrogates: Chroma's bindings raise UnicodeEncodeError; ours names the field too
    ("lone surrogate in an id", lambda c: c.add(ids=["ok", "\ud800"], embeddings=E2 * 2),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed (in ids[1])"),
    ("lone surrogate in a document", lambda c: c.upsert(ids=["d"], embeddings=E2, documents=["x\udc00"]),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\udc00' in position 1: surrogates not allowed (in documents[0])"),
    ("lone surrogate in a metadata key", lambda c: c.update(ids=["seed"], metadatas=[{"\ud800k": 1}]),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed (in metadatas[0])"),
    ("lone surrogate in a metadata list", lambda c: c.add(ids=["m"], embeddings=E2, metadatas=[{"k": ["a", "\ud800"]}]),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed (in metadatas[0])"),
    ("lone surrogate in a uri", lambda c: c.add(ids=["u"], embeddings=E2, uris=["\udfff"]),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\udfff' in position 0: surrogates not allowed (in uris[0])"),
    ("lone surrogate in collection metadata", lambda c: c.modify(metadata={"k": "\ud800"}),
     UnicodeEncodeError,
     "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed (in metadata[0])"),
    # batch size
    ("batch too large", lambda c: c.add(ids=[str(i) for i in range(5462)], embeddings=np.ones((5462, 2))),
     errors.InternalError, "ValueError: Batch size of 5462 is greater than max batch size of 5461"),
]


@pytest.fixture
def seeded(collection: Collection) -> Collection:
    collection.add(ids=["seed"], embeddings=[[1.0, 1.0]], metadatas=[{"k": 1}], documents=["seed doc"])
    return collection


@pytest.mark.parametrize(("label", "call", "exc_type", "message"), CASES, ids=[c[0] for c in CASES])
def test_rejected_with_chromas_class_and_message(
    seeded: Collection, label: str, call: Callable[[Collection], Any], exc_type: type[BaseException], message: str
) -> None:
    before = seeded.get(include=["embeddings", "metadatas", "documents"])
    with pytest.raises(exc_type) as info:
        call(seeded)
    assert str(info.value) == message
    after = seeded.get(include=["embeddings", "metadatas", "documents"])
    assert after["ids"] == before["ids"] == ["seed"]
    assert after["metadatas"] == before["metadatas"]
    assert after["documents"] == before["documents"]
    np.testing.assert_array_equal(after["embeddings"], before["embeddings"])


def test_chroma_errors_carry_name_and_code(seeded: Collection) -> None:
    with pytest.raises(errors.DuplicateIDError) as info:
        seeded.add(ids=["x", "x"], embeddings=E2 * 2)
    assert info.value.name() == "DuplicateID"
    assert info.value.code() == 400
    assert isinstance(info.value, errors.ChromaError)


def test_single_items_are_accepted_as_one_element_lists(seeded: Collection) -> None:
    seeded.add(ids="one", embeddings=[0.5, 0.5], metadatas={"k": 2}, documents="a document")
    got = seeded.get(ids="one", include=["embeddings", "metadatas", "documents"])
    assert got["ids"] == ["one"]
    assert got["metadatas"] == [{"k": 2}]
    assert got["documents"] == ["a document"]
    np.testing.assert_allclose(got["embeddings"], [[0.5, 0.5]])


@pytest.mark.parametrize(
    "embeddings",
    [
        np.array([[0.5, 0.5], [0.25, 0.75]]),
        [np.array([0.5, 0.5]), np.array([0.25, 0.75])],
        [[0.5, 0.5], [0.25, 0.75]],
        np.array([[1, 2], [3, 4]], dtype=np.int64),
        np.array([[1, 2], [3, 4]], dtype=np.float16),
    ],
    ids=["2-D ndarray", "list of ndarrays", "list of lists", "int64", "float16"],
)
def test_embedding_forms_are_accepted(collection: Collection, embeddings: Any) -> None:
    collection.add(ids=["a", "b"], embeddings=embeddings)
    got = collection.get(include=["embeddings"])
    np.testing.assert_allclose(got["embeddings"], np.asarray(embeddings, dtype=np.float32))


def test_a_collection_with_a_lone_surrogate_in_its_metadata_is_not_created(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnicodeEncodeError, match=r"surrogates not allowed \(in metadata\[0\]\)"):
        client.create_collection("surrogates", metadata={"\udc80": "x"})
    assert "surrogates" not in [c.name for c in client.list_collections()]


def test_non_ascii_text_that_utf8_encodes_is_stored(collection: Collection) -> None:
    text = "é 日本 \U0001f600"
    collection.add(ids=[text], embeddings=E2, documents=[text], metadatas=[{text: [text]}], uris=[text])
    got = collection.get(ids=[text], include=["documents", "metadatas", "uris"])
    assert (got["documents"], got["metadatas"], got["uris"]) == ([text], [{text: [text]}], [text])
