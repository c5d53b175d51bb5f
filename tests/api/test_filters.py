"""``where``/``where_document``: the grammar's messages and the semantics users rely on (chroma-api.md §5)."""

from __future__ import annotations

from typing import Any

import pytest

from sedimentdb.collection import Collection

WHERE_REJECTED: list[tuple[Any, str]] = [
    (["not", "a", "dict"], "Expected where to be a dict, got ['not', 'a', 'dict']"),
    ({}, "Expected where to have exactly one operator, got {}"),
    ({"a": 1, "b": 2}, "Expected where to have exactly one operator, got {'a': 1, 'b': 2}"),
    ({1: "v"}, "Expected where key to be a str, got 1"),
    ({"$contains": "x"}, "Expected where key to be a metadata field name or a logical operator ($and, $or), got $contains"),
    ({"tags": ["a", "b"]}, "Expected where value to be a str, int, float, or operator expression, got ['a', 'b']"),
    ({"$and": "x"}, "Expected where value for $and or $or to be a list of where expressions, got x"),
    ({"$or": [{"a": 1}]},
     "Expected where value for $and or $or to be a list with at least two where expressions, got [{'a': 1}]"),
    ({"a": {"$gt": "3"}}, "Expected operand value to be an int or a float for operator $gt, got 3"),
    ({"a": {"$in": "x"}}, "Expected operand value to be an list for operator $in, got x"),
    ({"a": {"$in": []}},
     "Expected where operand value to be a non-empty list, and all values to be of the same type got []"),
    ({"a": {"$nin": ["x", 1]}},
     "Expected where operand value to be a non-empty list, and all values to be of the same type got ['x', 1]"),
    ({"a": {"$contains": ["x"]}},
     "Expected operand value to be a str, int, float, or bool for operator $contains, got ['x']"),
    ({"#document": {"$contains": 1}}, "Expected operand value to be a str for operator $contains on #document, got 1"),
    ({"a": {"$between": [1, 2]}},
     "Expected where operator to be one of $gt, $gte, $lt, $lte, $ne, $eq, $in, $nin, $contains, $not_contains, "
     "got $between"),
    ({"a": {"$regex": "x"}},
     "Expected where operator to be one of $gt, $gte, $lt, $lte, $ne, $eq, $in, $nin, $contains, $not_contains, "
     "got $regex"),
    ({"a": {"$gt": 1, "$lt": 5}}, "Expected operator expression to have exactly one operator, got {'$gt': 1, '$lt': 5}"),
    ({"a": {"$eq": None}}, "Expected where operand value to be a str, int, float, or list of those type, got None"),
]

WHERE_DOCUMENT_REJECTED: list[tuple[Any, str]] = [
    ("text", "Expected where document to be a dictionary, got text"),
    ({}, "Expected where document to have exactly one operator, got {}"),
    ({"$like": "x"},
     "Expected where document operator to be one of $contains, $not_contains, $regex, $not_regex, $and, $or, "
     "got $like"),
    ({"$contains": ""}, "Expected where document operand value for operator $contains to be a non-empty str"),
    ({"$contains": 3}, "Expected where document operand value for operator $contains to be a str, got 3"),
    ({"$and": {"$contains": "a"}},
     "Expected document value for $and or $or to be a list of where document expressions, got {'$contains': 'a'}"),
    ({"$or": [{"$contains": "a"}]},
     "Expected document value for $and or $or to be a list with at least two where document expressions, "
     "got [{'$contains': 'a'}]"),
]


@pytest.fixture
def filled(collection: Collection) -> Collection:
    collection.add(
        ids=["a", "b", "c", "d", "e"],
        embeddings=[[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.0, 1.0]],
        metadatas=[
            {"color": "red", "n": 1, "tags": ["x", "y"]},
            {"color": "blue", "n": 2.5, "flag": True},
            {"color": "red", "n": 3},
            None,
            {"n": 5, "flag": False, "tags": ["z"]},
        ],
        documents=["The quick brown fox", "lazy dog", None, "quick thinking", "Quick"],
    )
    return collection


def _filter_by(collection: Collection, op: str, where: Any) -> None:
    """Run ``op`` (get, query or delete) with the metadata filter ``where``."""
    if op == "get":
        collection.get(where=where)
    elif op == "query":
        collection.query(query_embeddings=[[1.0, 0.0]], where=where)
    else:
        collection.delete(where=where)


@pytest.mark.parametrize(("where", "message"), WHERE_REJECTED, ids=[m[:50] for _, m in WHERE_REJECTED])
@pytest.mark.parametrize("op", ["get", "query", "delete"])
def test_where_grammar(filled: Collection, op: str, where: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        _filter_by(filled, op, where)
    assert str(info.value) == f"{message} in {op}."
    assert filled.count() == 5


@pytest.mark.parametrize(("where_document", "message"), WHERE_DOCUMENT_REJECTED,
                         ids=[m[:50] for _, m in WHERE_DOCUMENT_REJECTED])
def test_where_document_grammar(filled: Collection, where_document: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        filled.get(where_document=where_document)
    assert str(info.value) == f"{message} in get."


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"color": "red"}, ["a", "c"]),
        ({"color": {"$eq": "red"}}, ["a", "c"]),
        ({"color": {"$ne": "red"}}, ["b", "d", "e"]),  # $ne matches records without the key
        ({"n": {"$gt": 2}}, ["b", "c", "e"]),  # int and float compare numerically
        ({"n": {"$lte": 2.5}}, ["a", "b"]),
        ({"color": {"$in": ["blue", "green"]}}, ["b"]),
        ({"color": {"$nin": ["red"]}}, ["b", "d", "e"]),
        ({"flag": True}, ["b"]),
        ({"n": {"$eq": 1}}, ["a"]),
        ({"tags": {"$contains": "x"}}, ["a"]),
        ({"tags": {"$not_contains": "x"}}, ["b", "c", "d", "e"]),
        ({"$and": [{"color": "red"}, {"n": {"$gte": 2}}]}, ["c"]),
        ({"$or": [{"color": "blue"}, {"n": 5}]}, ["b", "e"]),
    ],
)
def test_where_semantics(filled: Collection, where: Any, expected: list[str]) -> None:
    assert filled.get(where=where)["ids"] == expected


@pytest.mark.parametrize(
    ("where_document", "expected"),
    [
        ({"$contains": "quick"}, ["a", "d"]),  # case-sensitive
        ({"$not_contains": "quick"}, ["b", "c", "e"]),  # a record without a document matches $not_contains
        ({"$regex": "^[Qq]uick"}, ["d", "e"]),
        ({"$not_regex": "o"}, ["c", "d", "e"]),  # no document matches a negation
        ({"$or": [{"$contains": "dog"}, {"$contains": "fox"}]}, ["a", "b"]),
        ({"$and": [{"$contains": "quick"}, {"$contains": "fox"}]}, ["a"]),
    ],
)
def test_where_document_semantics(filled: Collection, where_document: Any, expected: list[str]) -> None:
    assert filled.get(where_document=where_document)["ids"] == expected


def test_where_and_where_document_are_anded(filled: Collection) -> None:
    assert filled.get(where={"color": "red"}, where_document={"$contains": "fox"})["ids"] == ["a"]
    res = filled.query(query_embeddings=[[0.0, 1.0]], n_results=5, where={"n": {"$gte": 1}},
                       where_document={"$contains": "uick"})
    assert res["ids"] == [["e", "a"]]


def test_document_contains_through_where(filled: Collection) -> None:
    assert filled.get(where={"#document": {"$contains": "lazy"}})["ids"] == ["b"]
    both = {"$and": [{"color": "red"}, {"#document": {"$not_contains": "fox"}}]}
    assert filled.get(where=both)["ids"] == ["c"]
    assert filled.get(where=both, where_document={"$contains": "z"})["ids"] == []
    res = filled.query(query_embeddings=[[1.0, 0.0]], where={"#document": {"$contains": "quick"}}, n_results=5)
    assert res["ids"] == [["a", "d"]]


def test_delete_by_where_document(filled: Collection) -> None:
    assert filled.delete(where_document={"$contains": "quick"}) == {"deleted": 2}
    assert filled.get()["ids"] == ["b", "c", "e"]


@pytest.mark.parametrize("op", ["get", "query", "delete"])
def test_unknown_logical_operator_is_chromas_invalid_argument(filled: Collection, op: str) -> None:
    """chromadb 1.5.9 answers {"$n": 1} with InvalidArgumentError("Invalid where clause"); ours
    was a bare ValueError from the engine, which `except InvalidArgumentError` did not catch."""
    from sedimentdb import errors

    where = {"$and": [{"color": "red"}, {"$n": 1}]}
    with pytest.raises(errors.InvalidArgumentError, match=r"Invalid where clause.*\$n") as info:
        _filter_by(filled, op, where)
    assert isinstance(info.value, ValueError)
    assert filled.count() == 5
