"""Fixtures for the server tests: a running ``sediment run`` per module, and clean shared engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from sedimentdb import system
from tests.http.server_process import ServerProcess


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    """Embedded clients in these tests never see another test's engine."""
    system.clear()
    yield
    system.clear()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``sediment run`` on 127.0.0.1 and a free port, with reset allowed, shared by the session (tests use unique names)."""
    root = tmp_path_factory.mktemp("server")
    proc = ServerProcess(root / "data", root / "server.log", args=("--allow-reset",)).start()
    yield proc
    proc.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """A plain HTTP client on the session's server (modules testing an in-process app define their own)."""
    with httpx.Client(base_url=server.url) as client:
        yield client


@pytest.fixture
def unique_name() -> str:
    """A collection name no other test uses."""
    return f"coll-{uuid.uuid4().hex[:12]}"
