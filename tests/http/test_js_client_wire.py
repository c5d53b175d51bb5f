"""What Chroma's JS client (``chromadb`` on npm) sends that its Python client never does, over raw
HTTP: each difference the JS flows found (tests/js) has its test here.
"""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

DB = "/api/v2/tenants/default_tenant/databases/default_database"


@pytest.fixture
def collection_id(http: httpx.Client, unique_name: str) -> str:
    """A collection holding ``a`` with metadata ``{"k": 1, "tag": "x"}``."""
    cid = http.post(f"{DB}/collections", json={"name": unique_name}).json()["id"]
    added = http.post(f"{DB}/collections/{cid}/add",
                      json={"ids": ["a"], "embeddings": [[1, 0]], "metadatas": [{"k": 1, "tag": "x"}]})
    assert added.status_code == 201, added.text
    return cid


def _metadatas(http: httpx.Client, cid: str, ids: list[str]) -> list[object]:
    got = http.post(f"{DB}/collections/{cid}/get", json={"ids": ids, "include": ["metadatas"]})
    assert got.status_code == 200, got.text
    return list(got.json()["metadatas"])


def test_empty_record_metadata_in_update_and_upsert_changes_nothing(http: httpx.Client, collection_id: str) -> None:
    """The JS client drops null values, so ``{tag: null}`` arrives as ``{}``: Chroma's server merges nothing
    (its Python client refuses ``{}`` before sending; ours used to answer 400 "non-empty dict")."""
    for op in ("update", "upsert"):
        done = http.post(f"{DB}/collections/{collection_id}/{op}", json={"ids": ["a"], "metadatas": [{}],
                                                                         "embeddings": [[1, 0]]})
        assert done.status_code == 200, done.text
        assert _metadatas(http, collection_id, ["a"]) == [{"k": 1, "tag": "x"}]


def test_empty_record_metadata_on_a_new_record_reads_back_as_null(http: httpx.Client, collection_id: str) -> None:
    """``add``/``upsert`` of a new record with ``{}``: stored without metadata, read back as ``null``, as in Chroma."""
    added = http.post(f"{DB}/collections/{collection_id}/add",
                      json={"ids": ["b"], "embeddings": [[0, 1]], "metadatas": [{}]})
    assert added.status_code == 201, added.text
    upserted = http.post(f"{DB}/collections/{collection_id}/upsert",
                         json={"ids": ["c"], "embeddings": [[1, 1]], "metadatas": [{}]})
    assert upserted.status_code == 200, upserted.text
    assert _metadatas(http, collection_id, ["b", "c"]) == [None, None]


def test_other_metadata_errors_are_still_refused(http: httpx.Client, collection_id: str) -> None:
    """Only the empty object changed meaning: a reserved key or a bad value is still a 400 naming it."""
    bad = http.post(f"{DB}/collections/{collection_id}/update",
                    json={"ids": ["a"], "metadatas": [{"chroma:document": "x"}]})
    assert bad.status_code == 400 and "chroma:document" in bad.json()["message"]
    nested = http.post(f"{DB}/collections/{collection_id}/update", json={"ids": ["a"], "metadatas": [{"k": {"x": 1}}]})
    assert nested.status_code == 400 and nested.json()["error"] == "InvalidArgumentError"


@pytest.mark.parametrize(("vector", "message"), [
    ([1.0, float("nan"), 2.0], "Non-finite float value at embedding index 1: NaN"),
    ([float("inf"), 0.0], "Non-finite float value at embedding index 0: inf"),
    ([0.0, 0.0, float("-inf")], "Non-finite float value at embedding index 2: -inf"),
])
def test_non_finite_base64_embedding_is_refused_in_chromas_words(
        http: httpx.Client, collection_id: str, vector: list[float], message: str) -> None:
    """The JS client sends every embedding as base64 float32, where NaN and infinities can travel (JSON
    numbers cannot): refused as Chroma's decoder refuses them, before anything is written."""
    packed = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    for op in ("add", "upsert", "update"):
        refused = http.post(f"{DB}/collections/{collection_id}/{op}", json={"ids": ["a"], "embeddings": [packed]})
        assert refused.status_code == 400, refused.text
        assert refused.json() == {"error": "InvalidArgumentError", "message": message}
    got = http.post(f"{DB}/collections/{collection_id}/get", json={"ids": ["a"], "include": ["embeddings"]})
    assert got.json()["embeddings"] == [[1.0, 0.0]]


@pytest.mark.parametrize(("name", "message"), [
    ("x", "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
          "character in [a-zA-Z0-9]. Got: x"),
    ("-db", "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
            "character in [a-zA-Z0-9]. Got: -db"),
    ("db..one", "Expected a name that does not contains two consecutive periods (..). Got db..one"),
    ("10.0.0.1", "Expected a name that is not a valid ip address. Got 10.0.0.1"),
])
def test_database_name_is_checked_with_chromas_name_rule_over_http(http: httpx.Client, name: str,
                                                                   message: str) -> None:
    """Chroma's HTTP server runs its name rule on a new database (the JS AdminClient shows the message);
    its embedded client only checks the length, which SedimentDB's embedded client keeps."""
    refused = http.post("/api/v2/tenants/default_tenant/databases", json={"name": name})
    assert refused.status_code == 400, refused.text
    assert refused.json() == {"error": "InvalidArgumentError", "message": message}
    listed = http.get("/api/v2/tenants/default_tenant/databases").json()
    assert name not in [d["name"] for d in listed]


def test_query_for_zero_results_answers_empty_lists(http: httpx.Client, collection_id: str) -> None:
    """The JS client sends ``nResults: 0`` as is (its check skips a falsy value): Chroma's server answers
    one empty list per query embedding (ours used to refuse it with the Python client's message);
    a wrong dimension is still refused."""
    url = f"{DB}/collections/{collection_id}/query"
    done = http.post(url, json={"query_embeddings": [[1, 0], [0, 1]], "n_results": 0,
                                "include": ["metadatas", "distances", "embeddings"]})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["ids"] == body["metadatas"] == body["distances"] == body["embeddings"] == [[], []]
    assert "documents" not in body or body["documents"] is None
    refused = http.post(url, json={"query_embeddings": [[1, 0, 0]], "n_results": 0})
    assert refused.status_code == 400 and "dimension" in refused.json()["message"]
    too_many = http.post(url, json={"query_embeddings": [[1, 0]] * 5462, "n_results": 0})
    assert too_many.status_code == 400 and "exceeds the maximum of 5461" in too_many.json()["message"]
