"""Requests the ``http_body`` fuzz target found mishandled (fuzz/targets.py), one named case each.

In-process app (no server process): each case posts the raw body and checks the answer, then
that the collection is still readable over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sedimentdb.server import ServerConfig, create_app

DB = "/api/v2/tenants/default_tenant/databases/default_database"
JSON = {"content-type": "application/json"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    """The application in-process on a fresh data directory."""
    with TestClient(create_app(ServerConfig(persist_path=str(tmp_path / "data"), durability="off"))) as client:
        yield client


@pytest.fixture
def cid(app: TestClient) -> str:
    """A collection holding one record."""
    created = app.post(f"{DB}/collections", json={"name": "fuzzed"}).json()["id"]
    app.post(f"{DB}/collections/{created}/add", json={"ids": ["a"], "embeddings": [[1.0, 2.0]]})
    return created


@pytest.mark.parametrize(("route", "body"), [
    ("add", rb'{"ids": ["\ud800"], "embeddings": [[1, 2]]}'),
    ("upsert", rb'{"ids": ["b"], "embeddings": [[1, 2]], "documents": ["x\udfff"]}'),
    ("add", rb'{"ids": ["c"], "embeddings": [[1, 2]], "metadatas": [{"\ud800": 1}]}'),
    ("update", rb'{"ids": ["a"], "metadatas": [{"k": ["\udbff"]}]}'),
    ("modify", rb'{"new_metadata": {"k": "\ud800"}}'),
])
def test_lone_surrogate_escape_is_refused_and_never_stored(app: TestClient, cid: str, route: str, body: bytes) -> None:
    """Found by http_body: a ``\\ud800`` escape was stored, then every read of the collection was a 400.

    The string cannot be encoded as UTF-8, so the write succeeded and each later ``get`` (or
    collection GET) failed to serialise its answer. Chroma's server refuses such JSON at parse
    time; so does ours now, and nothing is written.
    """
    url = f"{DB}/collections/{cid}" if route == "modify" else f"{DB}/collections/{cid}/{route}"
    answer = (app.put if route == "modify" else app.post)(url, content=body, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidArgumentError"
    assert "lone surrogate" in answer.json()["message"]
    got = app.post(f"{DB}/collections/{cid}/get", json={"include": ["metadatas", "documents"]})
    assert got.status_code == 200
    assert got.json()["ids"] == ["a"]
    assert app.get(f"{DB}/collections/by-id/{cid}").status_code == 200


def test_paired_surrogate_escapes_are_one_character(app: TestClient, cid: str) -> None:
    """A valid pair (``\\ud83d\\ude00``) is one non-BMP character, stored and read back as such."""
    body = rb'{"ids": ["\ud83d\ude00"], "embeddings": [[1, 2]], "documents": ["\ud83d\ude00"]}'
    assert app.post(f"{DB}/collections/{cid}/add", content=body, headers=JSON).status_code == 201
    got = app.post(f"{DB}/collections/{cid}/get", json={"ids": ["\U0001F600"]}).json()
    assert got["ids"] == ["\U0001F600"] and got["documents"] == ["\U0001F600"]


@pytest.mark.parametrize("hnsw", [
    {"ef_search": 0}, {"ef_construction": 0}, {"max_neighbors": 0}, {"max_neighbors": 1},
    {"ef_construction": 10**23}, {"ef_search": 2**64 - 1}, {"max_neighbors": 2**40}, {"num_threads": 0},
])
def test_hnsw_values_chroma_accepts_never_wedge_compaction(app: TestClient, hnsw: dict) -> None:
    """Found while probing what ``http_body`` accepts: ``ef_search: 0`` was stored (as Chroma's
    usize allows) and every compaction of the collection then raised "invalid HNSW parameters",
    so its log was never checkpointed. Out-of-range values now build the index at the nearest
    bound; the configuration still reads back as given.
    """
    from sedimentdb.engine.segments.writer import FLAT_BELOW

    created = app.post(f"{DB}/collections", json={"name": "cfg", "configuration": {"hnsw": hnsw}})
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    assert all(created.json()["configuration_json"]["hnsw"][k] == v for k, v in hnsw.items() if k != "num_threads")
    rows = max(FLAT_BELOW, 8) + 8  # enough rows for the segment to get an HNSW graph
    vectors = np.random.default_rng(1).random((rows, 3)).tolist()
    assert app.post(f"{DB}/collections/{cid}/add", json={"ids": [str(i) for i in range(rows)],
                                                         "embeddings": vectors}).status_code == 201
    app.app.state.service.engine.compact()  # raised ValueError for 0 / 1 before the fix
    got = app.post(f"{DB}/collections/{cid}/query", json={"query_embeddings": [vectors[5]], "n_results": 1})
    assert got.status_code == 200 and got.json()["ids"] == [["5"]]
