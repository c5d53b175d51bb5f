"""Requests the ``http_body`` fuzz target found mishandled (fuzz/targets.py), one named case each.

In-process app (no server process): each case posts the raw body and checks the answer, then
that the collection is still readable over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
