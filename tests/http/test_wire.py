"""Raw HTTP against ``sediment run``: routes, bodies, status codes and error shapes (chroma-api.md §9).

Whatever a client sends, the answer is JSON ``{"error", "message"}`` with a 4xx for the
client's mistakes — never a 500 or a traceback.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from sedimentdb.server import ServerConfig, create_app

DB = "/api/v2/tenants/default_tenant/databases/default_database"


@pytest.fixture
def small_body_app(tmp_path: Path) -> Iterator[TestClient]:
    """The application in-process (per test: the engine cache is cleared between tests), 4 KiB body limit."""
    config = ServerConfig(persist_path=str(tmp_path / "data"), max_payload_size_bytes=4096, durability="off")
    with TestClient(create_app(config)) as client:
        yield client


@pytest.fixture
def collection_id(http: httpx.Client, unique_name: str) -> str:
    """A new collection with three 2-d records."""
    cid = http.post(f"{DB}/collections", json={"name": unique_name}).json()["id"]
    added = http.post(f"{DB}/collections/{cid}/add", json={
        "ids": ["a", "b", "c"], "embeddings": [[0, 0], [1, 0], [0, 1]],
        "documents": ["alpha", "beta", None], "metadatas": [{"k": 1}, None, {"k": 3}]})
    assert added.status_code == 201 and added.json() == {}
    return cid


def _error(response: httpx.Response, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == name
    assert "Traceback" not in body["message"]
    return str(body["message"])


def test_system_routes(http: httpx.Client) -> None:
    """heartbeat (also at /api/v2), version, healthcheck, pre-flight checks, identity."""
    assert http.get("/api/v2").json()["nanosecond heartbeat"] > 0
    assert http.get("/api/v2/heartbeat").json()["nanosecond heartbeat"] > 0
    assert isinstance(http.get("/api/v2/version").json(), str)
    assert http.get("/api/v2/healthcheck").json() == {"is_executor_ready": True, "is_log_client_ready": True}
    assert http.get("/api/v2/pre-flight-checks").json() == {"max_batch_size": 5461, "supports_base64_encoding": True}
    assert http.get("/api/v2/auth/identity").json() == {
        "user_id": "", "tenant": "default_tenant", "databases": ["default_database"]}


def test_openapi_describes_the_routes(http: httpx.Client) -> None:
    """``/openapi.json`` lists every v2 route."""
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/api/v2/heartbeat", "/api/v2/tenants/{tenant}/databases/{database}/collections",
                 "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query",
                 "/api/v2/tenants/{tenant}/databases/{database}/collections_count", "/api/v2/reset"):
        assert path in paths


def test_tenant_and_database_routes(http: httpx.Client, unique_name: str) -> None:
    """Create/get tenant, create/list/get/delete database, with Chroma's error statuses."""
    assert http.post("/api/v2/tenants", json={"name": unique_name}).json() == {}
    assert http.get(f"/api/v2/tenants/{unique_name}").json()["name"] == unique_name
    assert http.patch(f"/api/v2/tenants/{unique_name}", json={"resource_name": "x"}).json() == {}
    _error(http.post("/api/v2/tenants", json={"name": unique_name}), 409, "UniqueConstraintError")
    _error(http.post("/api/v2/tenants", json={"name": "ab"}), 400, "InvalidArgumentError")
    _error(http.get("/api/v2/tenants/missing-tenant"), 404, "NotFoundError")
    base = f"/api/v2/tenants/{unique_name}/databases"
    assert http.post(base, json={"name": "db1"}).json() == {}
    _error(http.post(base, json={"name": "db1"}), 409, "UniqueConstraintError")
    assert [d["name"] for d in http.get(base).json()] == ["db1"]
    assert http.get(f"{base}/db1").json()["tenant"] == unique_name
    assert http.delete(f"{base}/db1").json() == {}
    message = _error(http.get(f"{base}/db1"), 404, "NotFoundError")
    assert message == "Database [db1] not found. Are you sure it exists?"


def test_collection_routes(http: httpx.Client, unique_name: str) -> None:
    """Create (and get_or_create), get by name and id, list, count, modify, delete."""
    created = http.post(f"{DB}/collections", json={"name": unique_name, "metadata": {"m": 1}}).json()
    assert created["name"] == unique_name and created["metadata"] == {"m": 1}
    assert created["configuration_json"]["hnsw"]["space"] == "l2"
    again = http.post(f"{DB}/collections", json={"name": unique_name, "get_or_create": True}).json()
    assert again["id"] == created["id"]
    _error(http.post(f"{DB}/collections", json={"name": unique_name}), 409, "UniqueConstraintError")
    assert http.get(f"{DB}/collections/{unique_name}").json()["id"] == created["id"]
    assert http.get(f"{DB}/collections/by-id/{created['id']}").json()["name"] == unique_name
    crn = f"default_tenant:default_database:{unique_name}"
    assert http.get(f"/api/v2/collections/{crn}").json()["id"] == created["id"]
    _error(http.get("/api/v2/collections/only-a-name"), 400, "InvalidArgumentError")
    assert unique_name in [c["name"] for c in http.get(f"{DB}/collections", params={"limit": 1000}).json()]
    assert isinstance(http.get(f"{DB}/collections_count").json(), int)
    renamed = unique_name + "-2"
    assert http.put(f"{DB}/collections/{created['id']}", json={"new_name": renamed, "new_metadata": {"m": 2}}).json() == {}
    assert http.get(f"{DB}/collections/{renamed}").json()["metadata"] == {"m": 2}
    assert http.delete(f"{DB}/collections/{renamed}").json() == {}
    _error(http.get(f"{DB}/collections/{renamed}"), 404, "NotFoundError")
    _error(http.delete(f"{DB}/collections/{renamed}"), 404, "NotFoundError")


def test_record_routes(http: httpx.Client, collection_id: str) -> None:
    """add (201), get, query, update, upsert, delete, count, with include shaping the answer."""
    base = f"{DB}/collections/{collection_id}"
    assert http.get(f"{base}/count", params={"read_level": "index_and_wal"}).json() == 3
    got = http.post(f"{base}/get", json={"where": {"k": {"$gte": 1}}, "include": ["metadatas"]}).json()
    assert got == {"ids": ["a", "c"], "metadatas": [{"k": 1}, {"k": 3}], "include": ["metadatas"]}
    got = http.post(f"{base}/get", json={}).json()
    assert got["documents"] == ["alpha", "beta", None] and "embeddings" not in got
    res = http.post(f"{base}/query", json={"query_embeddings": [[1, 0]], "n_results": 2,
                                           "include": ["distances", "embeddings"]}).json()
    assert res["ids"] == [["b", "a"]] and res["distances"] == [[0.0, 1.0]]
    assert res["embeddings"] == [[[1.0, 0.0], [0.0, 0.0]]]
    assert http.post(f"{base}/update", json={"ids": ["a"], "metadatas": [{"k": 9}]}).json() == {}
    assert http.post(f"{base}/upsert", json={"ids": ["d"], "embeddings": [[2, 2]]}).json() == {}
    assert http.post(f"{base}/delete", json={"where": {"k": 9}}).json() == {"deleted": 1}
    assert http.post(f"{base}/delete", json={"ids": ["zz", "d"]}).json() == {"deleted": 2}
    assert http.get(f"{base}/count").json() == 2


def test_base64_embeddings(http: httpx.Client, unique_name: str) -> None:
    """Packed little-endian float32, as Chroma's Python client sends after the pre-flight check."""
    cid = http.post(f"{DB}/collections", json={"name": unique_name}).json()["id"]
    vectors = np.array([[0.1, -2.5, 3e-8], [1e30, 0.0, -0.0]], dtype="<f4")
    packed = [base64.b64encode(v.tobytes()).decode() for v in vectors]
    assert http.post(f"{DB}/collections/{cid}/add", json={"ids": ["x", "y"], "embeddings": packed}).status_code == 201
    got = http.post(f"{DB}/collections/{cid}/get", json={"include": ["embeddings"]}).json()
    assert np.array_equal(np.array(got["embeddings"], dtype=np.float32), vectors)
    _error(http.post(f"{DB}/collections/{cid}/add", json={"ids": ["z"], "embeddings": ["%%%"]}), 400,
           "InvalidArgumentError")
    _error(http.post(f"{DB}/collections/{cid}/add", json={"ids": ["z"], "embeddings": ["AAA="]}), 400,
           "InvalidArgumentError")


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "name"), [
    ("POST", "/add", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": "a"}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": [1, 2]}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"embeddings": [[1, 2]]}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": ["n"], "embeddings": [["x", 1]]}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": ["n"], "embeddings": [[1, 2, 3]]}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": ["n"], "embeddings": [[1, 2]], "metadatas": [{"$bad": 1}]}}, 400,
     "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": [""], "embeddings": [[1, 2]]}}, 400, "InvalidArgumentError"),
    ("POST", "/add", {"json": {"ids": ["n"], "embeddings": [[1e39, 2]]}}, 400, "InvalidArgumentError"),
    ("POST", "/get", {"json": {"where": {"k": {"$bogus": 1}}}}, 400, "InvalidArgumentError"),
    ("POST", "/get", {"json": {"where_document": {"$contains": ""}}}, 400, "InvalidArgumentError"),
    ("POST", "/get", {"json": {"include": ["distances"]}}, 400, "InvalidArgumentError"),
    ("POST", "/get", {"json": {"limit": "ten"}}, 400, "InvalidArgumentError"),
    ("POST", "/get", {"json": {"offset": -1}}, 400, "InvalidArgumentError"),
    # n_results 0 answers empty lists, as Chroma's server does (tests/http/test_js_client_wire.py).
    ("POST", "/query", {"json": {"query_embeddings": [[1, 2]], "n_results": -1}}, 400, "InvalidArgumentError"),
    # Chroma's quirk: an id without a vector in query(ids=...) is an InternalError (chroma-api.md §11.4).
    ("POST", "/query", {"json": {"query_embeddings": [[1, 2]], "ids": ["nope"]}}, 500, "InternalError"),
    ("POST", "/query", {"json": {"n_results": 1}}, 400, "InvalidArgumentError"),
    ("POST", "/delete", {"json": {}}, 400, "InvalidArgumentError"),
    ("POST", "/fork", {"json": {"new_name": "x"}}, 400, "InvalidArgumentError"),
    ("POST", "/fork", {"json": {}}, 400, "InvalidArgumentError"),
    ("POST", "/search", {"json": {}}, 400, "InvalidArgumentError"),
    ("POST", "/search", {"json": {"searches": [{"rank": {"$bogus": 1}}]}}, 400, "InvalidArgumentError"),
    ("POST", "/search", {"json": {"searches": [{}], "read_level": "sometimes"}}, 400, "InvalidArgumentError"),
    ("POST", "/search", {"json": {"searches": [{"rank": {"$knn": {"query": {"indices": [1], "values": [1.0],
                                                                         "#type": "sparse_vector"}}}}]}},
     400, "InvalidArgumentError"),  # a sparse query on '#embedding' (sparse keys work: test_sparse_http.py)
    ("GET", "/indexing_status", {}, 501, "ChromaError"),
])
def test_bad_requests_are_4xx(http: httpx.Client, collection_id: str, method: str, path: str,
                              kwargs: dict, status: int, name: str) -> None:
    """Malformed JSON, wrong types, bad values, Cloud-only routes: Chroma's status and shape."""
    response = http.request(method, f"{DB}/collections/{collection_id}{path}", **kwargs)
    _error(response, status, name)
    assert http.get(f"{DB}/collections/{collection_id}/count").json() == 3  # nothing was written


def test_unknown_collection_and_bad_ids(http: httpx.Client) -> None:
    """A missing collection is 404; a collection id that is not a UUID is 400."""
    missing = "00000000-0000-0000-0000-00000000beef"
    _error(http.post(f"{DB}/collections/{missing}/get", json={}), 404, "NotFoundError")
    _error(http.post(f"{DB}/collections/not-a-uuid/get", json={}), 400, "InvalidArgumentError")
    _error(http.get("/api/v2/tenants/default_tenant/databases/nope-db/collections"), 404, "NotFoundError")


def test_invalid_collection_names(http: httpx.Client) -> None:
    """Chroma's name rules and message."""
    for bad in ("ab", "-abc", "x" * 513, "spa ce"):
        message = _error(http.post(f"{DB}/collections", json={"name": bad}), 400, "InvalidArgumentError")
        assert "Expected a name containing 3-512 characters" in message
    message = _error(http.post(f"{DB}/collections", json={"name": "a..b"}), 400, "InvalidArgumentError")
    assert "Expected a name that does not contains two consecutive periods (..). Got a..b" in message
    message = _error(http.post(f"{DB}/collections", json={"name": "127.0.0.1"}), 400, "InvalidArgumentError")
    assert "Expected a name that is not a valid ip address. Got 127.0.0.1" in message


def test_v1_is_gone(http: httpx.Client) -> None:
    """Every /api/v1 route answers 410, as Chroma 1.x does."""
    for method, path in (("GET", "/api/v1/heartbeat"), ("POST", "/api/v1/collections"), ("GET", "/api/v1")):
        response = http.request(method, path)
        assert response.status_code == 410
        assert response.json() == {"error": "Unimplemented", "message": "The v1 API is deprecated. Please use /v2 apis"}


def test_unknown_route_and_method(http: httpx.Client) -> None:
    """Framework errors keep the JSON error shape."""
    _error(http.get("/api/v2/no-such-route"), 404, "NotFoundError")
    _error(http.delete("/api/v2/heartbeat"), 405, "ChromaError")


def test_reset_disabled_is_403(small_body_app: TestClient) -> None:
    """Without --allow-reset, reset is refused (Chroma: PermissionDenied)."""
    message = _error(small_body_app.post("/api/v2/reset"), 403, "AuthorizationError")
    assert message == "Reset is disabled by config"


def test_oversized_body_is_413(small_body_app: TestClient) -> None:
    """Bodies over the configured limit are refused, by Content-Length or while streaming."""
    url = DB + "/collections"
    _error(small_body_app.post(url, json={"name": "x" * 5000}), 413, "ChromaError")

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        yield b"y" * 8000
        yield b'"}'

    _error(small_body_app.post(url, content=chunks(), headers={"content-type": "application/json"}), 413,
           "ChromaError")
    assert small_body_app.post(url, json={"name": "small-enough"}).status_code == 200
