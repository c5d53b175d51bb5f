"""Chroma's filter semantics over single records (engine/filters.py)."""

from __future__ import annotations

import pytest

from sedimentdb.engine.filters import compile_where, compile_where_document

RECORDS = {
    "int5": {"n": 5},
    "float5": {"n": 5.0},
    "float5.5": {"n": 5.5},
    "true": {"n": True},
    "str5": {"n": "5"},
    "arr": {"n": [5, 6]},
    "other": {"m": 1},
    "none": None,
}


def matching(where) -> set[str]:
    pred = compile_where(where)
    return {name for name, meta in RECORDS.items() if pred(meta)}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"n": 5}, {"int5", "float5"}),
        ({"n": {"$eq": 5.0}}, {"int5", "float5"}),
        ({"n": True}, {"true"}),
        ({"n": 1}, set()),  # True is not 1
        ({"n": "5"}, {"str5"}),
        ({"n": {"$ne": 5}}, {"float5.5", "true", "str5", "arr", "other", "none"}),
        ({"n": {"$gt": 5}}, {"float5.5"}),
        ({"n": {"$gte": 5}}, {"int5", "float5", "float5.5"}),
        ({"n": {"$lt": 5.5}}, {"int5", "float5"}),
        ({"n": {"$lte": 5.5}}, {"int5", "float5", "float5.5"}),
        ({"n": {"$in": [5, "5"]}}, {"int5", "float5", "str5"}),
        ({"n": {"$nin": [5, "5"]}}, {"float5.5", "true", "arr", "other", "none"}),
        ({"n": {"$contains": 6}}, {"arr"}),
        ({"n": {"$contains": "5"}}, set()),
        ({"n": {"$not_contains": 6}}, set(RECORDS) - {"arr"}),
        ({"$and": [{"n": {"$gte": 5}}, {"n": {"$lt": 5.5}}]}, {"int5", "float5"}),
        ({"$or": [{"n": True}, {"m": 1}]}, {"true", "other"}),
        ({"$or": [{"$and": [{"n": 5}, {"n": {"$ne": 5.0}}]}, {"m": {"$in": [1]}}]}, {"other"}),
        ({}, set(RECORDS)),
        (None, set(RECORDS)),
    ],
)
def test_where_semantics(where, expected):
    assert matching(where) == expected


def test_exact_big_int_float_comparisons():
    pred = compile_where({"n": {"$gt": 2**53}})
    assert pred({"n": 2**53 + 1}) and not pred({"n": float(2**53)})
    assert compile_where({"n": 2**53 + 1})({"n": float(2**53)}) is False


def test_several_keys_and_operators_are_anded():
    assert compile_where({"a": 1, "b": 2})({"a": 1, "b": 2})
    assert not compile_where({"a": 1, "b": 2})({"a": 1})
    assert compile_where({"a": {"$gt": 1, "$lt": 3}})({"a": 2})
    assert not compile_where({"a": {"$gt": 1, "$lt": 3}})({"a": 3})


@pytest.mark.parametrize(
    "where",
    [
        {"n": {"$gt": "5"}},
        {"n": {"$gt": True}},
        {"n": {"$in": 5}},
        {"n": {"$in": [[1]]}},
        {"n": {"$bogus": 1}},
        {"n": {}},
        {"n": [1, 2]},
        {"n": None},
        {"$and": {"n": 1}},
        {"$or": [1, 2]},
        {"$not": [{"n": 1}]},
        {1: 2},
        "n = 5",
    ],
)
def test_odd_where_raises_value_error(where):
    with pytest.raises(ValueError):
        compile_where(where)


DOCS = {"a": "Hello World", "b": "hello there", "c": "", "none": None}


def doc_matching(wd) -> set[str]:
    pred = compile_where_document(wd)
    return {name for name, doc in DOCS.items() if pred(doc)}


@pytest.mark.parametrize(
    ("wd", "expected"),
    [
        ({"$contains": "World"}, {"a"}),
        ({"$contains": "world"}, set()),  # case-sensitive
        ({"$not_contains": "World"}, {"b", "c", "none"}),
        ({"$regex": "^[Hh]ello"}, {"a", "b"}),
        ({"$not_regex": "^[Hh]ello"}, {"c", "none"}),
        ({"$regex": "^$"}, {"c"}),
        ({"$and": [{"$contains": "ello"}, {"$not_contains": "W"}]}, {"b"}),
        ({"$or": [{"$contains": "World"}, {"$regex": "there$"}]}, {"a", "b"}),
        ({}, set(DOCS)),
        (None, set(DOCS)),
    ],
)
def test_where_document_semantics(wd, expected):
    assert doc_matching(wd) == expected


@pytest.mark.parametrize(
    "wd",
    [{"$contains": 5}, {"$regex": "("}, {"$like": "x"}, {"$and": "x"}, {"$or": [3]}, ["$contains"]],
)
def test_odd_where_document_raises_value_error(wd):
    with pytest.raises(ValueError):
        compile_where_document(wd)
