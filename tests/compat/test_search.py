"""Search expressions construct like Chroma's and serialize to the same dictionaries (fixture from chromadb)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

import sedimentdb
from sedimentdb.search import Knn, Limit, Rrf, Search
from tests.compat.helpers import HERE, load_fixture


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location("record_chromadb_names", HERE / "record_chromadb_names.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sets(value: Any) -> Any:
    """Chroma serializes ``Select(keys=set)`` in set order: compare selections as sets."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == "keys" and isinstance(v, list) else _sets(v) for k, v in value.items()}
    return [_sets(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("case", sorted(load_fixture("chromadb_search.json")))
def test_to_dict_equals_chromas(case: str) -> None:
    """The recorder's expressions, built from SedimentDB's classes, give Chroma's dictionaries."""
    ours = _recorder().record_search(sedimentdb)[case]
    assert _sets(ours) == _sets(load_fixture("chromadb_search.json")[case])


def test_bad_arguments_are_clear_errors() -> None:
    """Chroma's constructor checks: a type error names the argument; RRF refuses empty or mismatched input."""
    with pytest.raises(TypeError, match="where must be a Where object"):
        Search(where="status = 1")
    with pytest.raises(ValueError, match="at least one rank"):
        Rrf([])
    with pytest.raises(ValueError, match="Number of weights"):
        Rrf([Knn(query=[1.0])], weights=[1.0, 2.0])
    with pytest.raises(TypeError, match="Cannot combine a rank expression with str"):
        Knn(query=[1.0]) + "x"


def test_builder_returns_new_searches() -> None:
    """Chaining never changes the search it starts from."""
    base = Search()
    limited = base.limit(3)
    assert base.to_dict()["limit"] == Limit().to_dict()
    assert limited.to_dict()["limit"] == {"offset": 0, "limit": 3}
