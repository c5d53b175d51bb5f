"""Segment.match (vectorised per-key columns) agrees with compile_where row by row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.filters import compile_where, compile_where_document
from sedimentdb.engine.memfs import MemoryFileSystem
from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, SegmentDescriptor, write_segment

KEYS = ["a", "b", "c"]
# Values chosen to hit the hard cases: bool vs int, int vs float, int64 and 2**53 edges,
# NaN and infinities, strings that look like numbers.
INTS = st.sampled_from([0, 1, -1, 5, 2**53, 2**53 + 1, 2**63 - 1, -(2**63), 2**64, -(2**70)]) | st.integers(-3, 3)
FLOATS = st.sampled_from([0.0, -0.0, 1.0, 5.0, 5.5, 2.0**53, 2.0**63, math.inf, -math.inf, math.nan, 1e-300])
STRS = st.sampled_from(["", "a", "b", "5", "A", "ü"])
BOOLS = st.booleans()
SCALARS = BOOLS | INTS | FLOATS | STRS
ARRAYS = st.lists(BOOLS, min_size=1, max_size=3) | st.lists(INTS, min_size=1, max_size=3) | st.lists(
    FLOATS, min_size=1, max_size=3) | st.lists(STRS, min_size=1, max_size=3)
VALUES = SCALARS | ARRAYS | st.just({"nested": [1, "x"]}) | st.just(
    {"#type": "sparse_vector", "indices": [1, 5], "values": [5.0, 1.0]})  # indexed as an empty object
METADATA = st.none() | st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3)
DOCS = st.none() | st.text(alphabet="abAB ü5", max_size=8)

NUMBERS = INTS | FLOATS


def _leaf(key: str) -> st.SearchStrategy:
    eq = st.sampled_from(["$eq", "$ne"]).flatmap(lambda op: SCALARS.map(lambda v: {key: {op: v}}))
    short = SCALARS.map(lambda v: {key: v})
    order = st.sampled_from(["$gt", "$gte", "$lt", "$lte"]).flatmap(lambda op: NUMBERS.map(lambda v: {key: {op: v}}))
    member = st.sampled_from(["$in", "$nin"]).flatmap(
        lambda op: st.lists(SCALARS, min_size=1, max_size=3).map(lambda v: {key: {op: v}}))
    contains = st.sampled_from(["$contains", "$not_contains"]).flatmap(
        lambda op: SCALARS.map(lambda v: {key: {op: v}}))
    return eq | short | order | member | contains


LEAVES = st.sampled_from(KEYS + ["missing"]).flatmap(_leaf)
WHERE = st.recursive(
    LEAVES,
    lambda children: st.sampled_from(["$and", "$or"]).flatmap(
        lambda op: st.lists(children, min_size=1, max_size=3).map(lambda cs: {op: cs})),
    max_leaves=6,
)
DOC_LEAF = st.sampled_from(["$contains", "$not_contains", "$regex", "$not_regex"]).flatmap(
    lambda op: st.sampled_from(["a", "b", "A", "ü", "5", " ", "^a", "b$", "[ab]+"]).map(lambda v: {op: v}))
WHERE_DOCUMENT = st.recursive(
    DOC_LEAF,
    lambda children: st.sampled_from(["$and", "$or"]).flatmap(
        lambda op: st.lists(children, min_size=1, max_size=3).map(lambda cs: {op: cs})),
    max_leaves=4,
)


def _segment(directory: str, metadatas: list, documents: list, *, persisted_index: bool = True,
             fs=None) -> Segment:
    n = len(metadatas)
    data = SegmentData(
        ids=[str(i) for i in range(n)], ordinals=np.arange(n, dtype=np.uint64),
        versions=np.ones(n, dtype=np.uint64), vectors=np.zeros((n, 2), dtype=np.float32),
        documents=documents, metadatas=metadatas, uris=[None] * n,
    )
    fs = fs or OsFileSystem()
    desc = write_segment(fs, directory, "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)
    if not persisted_index:
        # A segment without filter.idx: the index is rebuilt from metadata.col on first use.
        files = {k: v for k, v in desc.files.items() if k != "filter.idx"}
        desc = SegmentDescriptor(**{**desc.__dict__, "files": files})
    return Segment.open(fs, directory, desc)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.tuples(METADATA, DOCS), min_size=1, max_size=25),
    wheres=st.lists(WHERE, min_size=1, max_size=4),
    where_documents=st.lists(st.none() | WHERE_DOCUMENT, min_size=1, max_size=2),
)
def test_match_agrees_with_compile_where(records, wheres, where_documents):
    metadatas = [m or None for m, _ in records]
    documents = [d for _, d in records]
    # The in-memory file system (the one ephemeral clients use) keeps the examples fast.
    fs = MemoryFileSystem()
    persisted = _segment("/a", metadatas, documents, fs=fs)
    rebuilt = _segment("/b", metadatas, documents, persisted_index=False, fs=fs)
    for where in wheres:
        for wd in where_documents:
            pred, dpred = compile_where(where), compile_where_document(wd)
            expected = [pred(m) and dpred(d) for m, d in zip(metadatas, documents, strict=True)]
            assert persisted.match(where, wd).tolist() == expected, (where, wd)
            assert rebuilt.match(where, wd).tolist() == expected, (where, wd)


@pytest.mark.parametrize("where, expected", [
    ({"c": {"$gt": 2.0**53}}, [True, False]),
    ({"c": {"$gte": 2.0**53}}, [True, True]),
    ({"c": {"$eq": 2.0**53}}, [False, True]),
    ({"c": {"$lte": 2.0**53}}, [False, True]),
])
def test_an_int_just_past_float_precision_compares_exactly_with_a_float(where, expected):
    # Found by test_match_agrees_with_compile_where: 2**53 + 1 was taken for a float-exact
    # int (the check itself went through float64, where it rounds to 2**53), so the
    # persisted index said it was not greater than 2.0**53.
    metadatas = [{"c": 2**53 + 1}, {"c": 2**53}]
    assert [compile_where(where)(m) for m in metadatas] == expected
    segment = _segment("/a", metadatas, [None, None], fs=MemoryFileSystem())
    assert segment.match(where, None).tolist() == expected


def test_match_without_filters_is_all_rows(tmp_path):
    seg = _segment(str(tmp_path), [None, {"a": 1}], ["x", None])
    assert seg.match(None, None).tolist() == [True, True]
    assert seg.match({}, {}).tolist() == [True, True]


def test_match_raises_value_error_like_compile_where(tmp_path):
    seg = _segment(str(tmp_path), [{"a": 1}], ["x"])
    with pytest.raises(ValueError):
        seg.match({"a": {"$gt": "x"}}, None)
    with pytest.raises(ValueError):
        seg.match(None, {"$regex": "("})


EDGE_VALUES = [
    True, False, 0, 1, -1, 5, 2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, -(2**63), 2**64, -(2**70),
    0.0, -0.0, 1.0, 5.0, 5.5, 2.0**53, 2.0**63, -(2.0**63), 2.0**64, math.inf, -math.inf, math.nan,
    "", "5", "a", [1, 2], [True], [5.0], ["a"], {"n": 1},
]
SCALAR_EDGES = [v for v in EDGE_VALUES if not isinstance(v, (list, dict))]
NUMBER_EDGES = [v for v in SCALAR_EDGES if isinstance(v, (int, float)) and not isinstance(v, bool)]


@pytest.mark.parametrize("persisted_index", [True, False], ids=["filter.idx", "rebuilt"])
def test_every_operator_against_every_edge_value(tmp_path, persisted_index):
    """Exhaustive: each edge value stored under one key, every operator with every operand."""
    metadatas = [{"a": v} for v in EDGE_VALUES] + [None, {"b": 1}, {"a": [2**64, {"x": 1}, [1]]}]
    documents = [None] * len(metadatas)
    seg = _segment(str(tmp_path), metadatas, documents, persisted_index=persisted_index)
    wheres = [{"a": {op: x}} for op in ("$eq", "$ne", "$contains", "$not_contains") for x in SCALAR_EDGES]
    wheres += [{"a": {op: x}} for op in ("$gt", "$gte", "$lt", "$lte") for x in NUMBER_EDGES]
    wheres += [{"a": {op: [x, "zz"]}} for op in ("$in", "$nin") for x in SCALAR_EDGES]
    for where in wheres:
        pred = compile_where(where)
        assert seg.match(where, None).tolist() == [pred(m) for m in metadatas], where
