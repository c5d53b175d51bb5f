"""Readiness after a fatal write failure (issue 16, item 8).

After ENOSPC the engine refuses every write until it is reopened, but the healthcheck kept
answering ready, so an orchestrator never restarted the server. It now answers 503 in
Chroma's shape with a ``reason``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sedimentdb.server import ServerConfig, create_app

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    """An app on a temporary directory (full durability: every write is synced)."""
    with TestClient(create_app(ServerConfig(persist_path=str(tmp_path / "data")))) as client:
        yield client


def _fill_the_disk(http: TestClient) -> None:
    """Make every later write of the log fail as a full disk does."""
    wal = http.app.state.service.engine.wal  # type: ignore[attr-defined]
    wal._file.write = lambda data: _raise_io(wal._file.path)


def _raise_io(path: str) -> None:
    from sedimentdb.engine.fileio import _io_error

    raise _io_error("write", path, OSError(errno.ENOSPC, "No space left on device"))


def test_ready_until_a_write_fails_then_503_with_the_reason(http: TestClient) -> None:
    """Ready (200) while writes work; after ENOSPC 503, not ready, naming the failure; writes refused."""
    r = http.get("/api/v2/healthcheck")
    assert r.status_code == 200 and r.json() == {"is_executor_ready": True, "is_log_client_ready": True}
    cid = http.post(COLLECTIONS, json={"name": "disk"}).json()["id"]
    _fill_the_disk(http)
    r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ["a"], "embeddings": [[1.0, 2.0]]})
    assert r.status_code >= 500
    health = http.get("/api/v2/healthcheck")
    assert health.status_code == 503
    body = health.json()
    assert body["is_executor_ready"] is False and body["is_log_client_ready"] is False
    assert "until the server restarts" in body["reason"] and "No space left" in body["reason"]
    r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ["b"], "embeddings": [[1.0, 2.0]]})
    assert r.status_code >= 500 and "earlier" in r.json()["message"]
