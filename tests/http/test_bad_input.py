"""Bad input over HTTP and embedded (issue 16, items 9-11): refused with a clear error, nothing stored.

* 9: a where/where_document nested deeper than ``MAX_FILTER_NESTING`` gave HTTP 500 (RecursionError).
* 10: one query's work is bounded; a large query runs in chunks so it does not hold the engine.
* 11: NaN/Infinity/1e400 in metadata, booleans and numeric strings as embeddings, and a batch
  over the size limit (a 500) are each refused with a 400 naming the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import sedimentdb
from sedimentdb.filters import MAX_FILTER_NESTING, FilterTooDeepError
from sedimentdb.server import ServerConfig, create_app, limits
from sedimentdb.validation import MAX_BATCH_SIZE

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    """An in-process app (durability off), 500s answered rather than raised."""
    config = ServerConfig(persist_path=str(tmp_path / "data"), durability="off")
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def cid(http: TestClient) -> str:
    """A collection holding records a (metadata k=1) and b, dimension 2."""
    cid = http.post(COLLECTIONS, json={"name": "bad-input"}).json()["id"]
    r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ["a", "b"], "embeddings": [[1.0, 2.0], [3.0, 4.0]],
                                                    "metadatas": [{"k": 1}, None]})
    assert r.status_code == 201, r.text
    return cid


def _raw(http: TestClient, url: str, body: str) -> Any:
    return http.post(url, content=body, headers={"content-type": "application/json"})


def _all(http: TestClient, cid: str) -> dict[str, Any]:
    r = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": ["metadatas", "embeddings"]})
    assert r.status_code == 200
    return r.json()


def _nested_where(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"k": 1}
    for _ in range(levels):
        where = {"$and": [where, {"k": 1}]}
    return where


def _nested_document(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"$contains": "x"}
    for _ in range(levels):
        where = {"$or": [where, {"$contains": "y"}]}
    return where


def _invalid(r: Any, *fragments: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == "InvalidArgumentError", body
    for fragment in fragments:
        assert fragment in body["message"], body


# ---- item 9: filter depth -----------------------------------------------------------------------


@pytest.mark.parametrize("route", ["get", "delete", "query"])
@pytest.mark.parametrize("levels", [64, 170, 400])
def test_deep_filters_are_a_400_naming_the_limit(http: TestClient, cid: str, route: str, levels: int) -> None:
    """Past the documented depth: Chroma's error JSON (400 InvalidArgumentError), never a 500."""
    for field, value in (("where", _nested_where(levels)), ("where_document", _nested_document(levels))):
        body: dict[str, Any] = {field: value}
        if route == "query":
            body["query_embeddings"] = [[1.0, 2.0]]
        _invalid(http.post(f"{COLLECTIONS}/{cid}/{route}", json=body), f"at most {MAX_FILTER_NESTING}")
    assert len(_all(http, cid)["ids"]) == 2  # the delete removed nothing


def test_deep_search_filter_is_a_400(http: TestClient, cid: str) -> None:
    """The Search API's filter (and rank) are checked before their recursive parsers run."""
    deep = {"k": {"$eq": 1}}
    for _ in range(200):
        deep = {"$and": [deep, {"k": {"$eq": 1}}]}
    r = http.post(f"{COLLECTIONS}/{cid}/search", json={"searches": [{"filter": deep}]})
    _invalid(r, f"at most {MAX_FILTER_NESTING}")


def test_filters_at_the_documented_depth_work(http: TestClient, cid: str) -> None:
    """63 levels of $and fit in the limit and are evaluated."""
    r = http.post(f"{COLLECTIONS}/{cid}/get", json={"where": _nested_where(63)})
    assert r.status_code == 200 and r.json()["ids"] == ["a"]


def test_absurdly_deep_json_is_a_400(http: TestClient, cid: str) -> None:
    """Nesting past what Python's JSON parser takes is refused too (the body cannot be read)."""
    body = '{"where": ' + '{"$and": [' * 5000 + '{"k": 1}' + ', {"k": 1}]}' * 5000 + "}"
    r = _raw(http, f"{COLLECTIONS}/{cid}/get", body)
    assert r.status_code == 400 and set(r.json()) == {"error", "message"}, r.text


def test_embedded_deep_filter_is_a_value_error(tmp_path: Path) -> None:
    """Embedded: a ValueError that is also Chroma's InvalidArgumentError, not a RecursionError."""
    client = sedimentdb.PersistentClient(str(tmp_path / "embedded"))
    col = client.create_collection("deep")
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1}])
    for call in (lambda: col.get(where=_nested_where(200)), lambda: col.delete(where=_nested_where(200)),
                 lambda: col.query(query_embeddings=[[1.0, 2.0]], where_document=_nested_document(200))):
        with pytest.raises(ValueError, match="at most 128 objects and lists") as raised:
            call()
        assert isinstance(raised.value, (FilterTooDeepError, sedimentdb.errors.InvalidArgumentError))
    assert col.count() == 1


# ---- item 10: bounded query work, chunked ------------------------------------------------------


def test_too_many_query_vectors_is_a_400(http: TestClient, cid: str) -> None:
    """More query embeddings than the limit: refused before any search, naming both numbers."""
    n = limits.MAX_QUERY_VECTORS + 1
    r = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [[1.0, 2.0]] * n, "n_results": 1})
    _invalid(r, str(n), str(limits.MAX_QUERY_VECTORS))


def test_query_results_over_the_limit_is_a_400(http: TestClient, cid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """vectors x min(n_results, records) over MAX_QUERY_RESULTS is refused; asking past the count is not."""
    monkeypatch.setattr(limits, "MAX_QUERY_RESULTS", 10)
    ok = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [[1.0, 2.0]] * 5, "n_results": 1000})
    assert ok.status_code == 200, ok.text  # 5 x min(1000, 2 records) = 10
    r = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [[1.0, 2.0]] * 6, "n_results": 1000})
    _invalid(r, "6 query embeddings x 2 results = 12 results", "maximum of 10")


def test_large_query_runs_in_chunks_with_the_same_answer(http: TestClient, cid: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """100 vectors: 4 engine calls of at most 32 (the engine lock is free between them), same results."""
    rng = np.random.default_rng(3)
    http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": [f"r{i}" for i in range(200)],
                                                "embeddings": rng.standard_normal((200, 2)).tolist()})
    queries = rng.standard_normal((100, 2)).tolist()
    body = {"query_embeddings": queries, "n_results": 5, "include": ["distances", "metadatas", "embeddings"]}
    engine = http.app.state.service.engine  # type: ignore[attr-defined]
    calls: list[int] = []
    real = engine.query

    def counting(collection_id: str, embeddings: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(embeddings))
        return real(collection_id, embeddings, *args, **kwargs)

    monkeypatch.setattr(engine, "query", counting)
    chunked = http.post(f"{COLLECTIONS}/{cid}/query", json=body).json()
    assert calls == [32, 32, 32, 4]
    monkeypatch.setattr(limits, "QUERY_CHUNK_VECTORS", 0)
    whole = http.post(f"{COLLECTIONS}/{cid}/query", json=body).json()
    assert calls[4:] == [100]
    assert chunked == whole and len(chunked["ids"]) == 100 and chunked["include"] == body["include"]


# ---- item 11: values that would change silently ------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "[1.0, NaN]"])
@pytest.mark.parametrize("route", ["add", "upsert", "update"])
def test_non_finite_metadata_is_refused(http: TestClient, cid: str, value: str, route: str) -> None:
    """They were stored and came back as null; now 400 naming the field, and nothing changes."""
    before = _all(http, cid)
    body = '{"ids": ["a"], "embeddings": [[5.0, 6.0]], "metadatas": [{"x": ' + value + "}]}"
    _invalid(_raw(http, f"{COLLECTIONS}/{cid}/{route}", body), "metadatas[0].x", "NaN")
    assert _all(http, cid) == before


def test_non_finite_collection_metadata_and_filters_are_refused(http: TestClient, cid: str) -> None:
    """Collection metadata (create, modify) and filter operands alike."""
    _invalid(_raw(http, COLLECTIONS, '{"name": "nan-coll", "metadata": {"x": NaN}}'), "metadata.x")
    r = http.put(f"{COLLECTIONS}/{cid}", content='{"new_metadata": {"x": Infinity}}',
                 headers={"content-type": "application/json"})
    _invalid(r, "new_metadata.x")
    _invalid(_raw(http, f"{COLLECTIONS}/{cid}/get", '{"where": {"k": {"$gt": NaN}}}'), "where.k.$gt")
    _invalid(_raw(http, f"{COLLECTIONS}/{cid}/query", '{"query_embeddings": [[1.0, NaN]]}'), "query_embeddings")
    assert http.get(f"{COLLECTIONS}/nan-coll").status_code == 404


@pytest.mark.parametrize("embedding", ["[true, false]", "[true, false, 1]", '["1", "2"]', "[1, true]"])
@pytest.mark.parametrize("route", ["add", "upsert", "update", "query"])
def test_booleans_and_strings_are_not_embeddings(http: TestClient, cid: str, embedding: str, route: str) -> None:
    """Lax parsing read [true, false] as [1.0, 0.0] and "1" as 1.0; each is a 400 now, nothing written."""
    before = _all(http, cid)
    field = "query_embeddings" if route == "query" else "embeddings"
    body = '{"ids": ["a"], "' + field + '": [' + embedding + "]}"
    _invalid(_raw(http, f"{COLLECTIONS}/{cid}/{route}", body), field, "valid number")
    assert _all(http, cid) == before


@pytest.mark.parametrize("route", ["add", "upsert", "update"])
def test_batch_over_the_limit_is_a_400(http: TestClient, cid: str, route: str) -> None:
    """It was a 500 InternalError; now Chroma's client-side message as a 400, nothing written."""
    n = MAX_BATCH_SIZE + 1
    body = {"ids": [f"x{i}" for i in range(n)], "embeddings": [[1.0, 2.0]] * n}
    _invalid(http.post(f"{COLLECTIONS}/{cid}/{route}", json=body), f"Batch size {n} exceeds maximum batch size")
    assert len(_all(http, cid)["ids"]) == 2


def test_embedded_non_finite_metadata_is_refused(tmp_path: Path) -> None:
    """Embedded: add, upsert, update, create and modify refuse NaN/Infinity; nothing stored."""
    client = sedimentdb.PersistentClient(str(tmp_path / "embedded"))
    col = client.create_collection("nan")
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"x": 1.5}])
    for bad in (math.nan, math.inf, -math.inf, [1.0, math.nan]):
        for op in (col.add, col.upsert, col.update):
            with pytest.raises(sedimentdb.errors.InvalidArgumentError, match="NaN and Infinity cannot be stored"):
                op(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"x": bad}])
        with pytest.raises(sedimentdb.errors.InvalidArgumentError, match="key 'x'"):
            col.modify(metadata={"x": bad})
        if not isinstance(bad, list):  # collection metadata takes no lists at all (a TypeError)
            with pytest.raises(sedimentdb.errors.InvalidArgumentError, match="key 'x'"):
                client.create_collection("nan2", metadata={"x": bad})
    assert col.get(include=["metadatas"])["metadatas"] == [{"x": 1.5}]
    assert json.dumps(client.get_collection("nan").metadata) == "null"
