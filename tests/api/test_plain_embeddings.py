"""``plain_embeddings``, the query's shortcut past the per-row embedding checks: for every
input it takes, the same float32 matrix the full checks produce; every other input is left to
the full checks and their errors (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

import sedimentdb
from sedimentdb.validation import (
    normalize_embeddings,
    plain_embeddings,
    stack_embeddings,
    validate_base_record_set,
)

TAKEN = [
    [[1, 2, 3]],
    [[1.5, -2.0, 3.25], [4.0, 5.0, 6.0]],
    [[1, "2", 3.5]],  # numpy converts the string, row by row as well
    [[1.0, None, 3.0]],  # NaN both ways (a query may hold NaN: Chroma checks only stored vectors)
    [[1e39, 0.0, 1.0]],  # beyond float32: inf both ways
    [[0.1, 0.2], np.array([0.3, 0.4])],
    np.arange(3, dtype=np.float64),
    np.ones((2, 3), dtype=np.float16),
    np.arange(6, dtype=np.int64).reshape(2, 3),
    np.arange(6, dtype=np.float32).reshape(3, 2)[:, ::-1],  # not contiguous
    np.full((1, 2), 1e300),
]
LEFT = [
    [],
    [[]],
    [[1, 2], [3]],
    [[[1.0], [2.0]]],
    [[True, 1.0]],
    [1.0, 2.0],
    [np.ones(3)],
    "abc",
    np.ones((2, 3), dtype=np.uint8),
    np.ones((0, 3)),
    np.ones((2, 0)),
    np.ones((1, 2, 3)),
    np.array(["a", "b"]),
]


def _checked(target):
    rows = normalize_embeddings(target)
    validate_base_record_set({"embeddings": rows, "documents": None, "images": None, "uris": None})
    return stack_embeddings(rows, check_finite=False)


@pytest.mark.parametrize("target", TAKEN, ids=range(len(TAKEN)))
def test_a_plain_batch_gives_what_the_full_checks_give(target):
    with np.errstate(over="ignore"):
        want = _checked(target)
        got = plain_embeddings(target)
    assert got is not None and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", LEFT, ids=range(len(LEFT)))
def test_anything_else_is_left_to_the_full_checks(target):
    assert plain_embeddings(target) is None


def test_a_query_still_refuses_what_the_full_checks_refuse(tmp_path):
    col = sedimentdb.PersistentClient(path=str(tmp_path)).create_collection("docs")
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(sedimentdb.errors.InvalidArgumentError, match="Inconsistent dimensions"):
        col.query(query_embeddings=[[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match=r"Expected include item to be one of .* in query\.$"):
        col.query(query_embeddings=[[1.0, 0.0]], include=["nope"])
    with pytest.raises(TypeError, match=r"cannot be negative, or zero\. in query\.$"):
        col.query(query_embeddings=np.ones((1, 2)), n_results=0)
    assert col.query(query_embeddings=[[1.0, 0.1]], n_results=1)["ids"] == [["a"]]
