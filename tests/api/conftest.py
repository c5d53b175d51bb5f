"""Fixtures for the client API tests: every test starts and ends with no shared engine open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sedimentdb as chromadb
from sedimentdb import system
from sedimentdb.local_clients import Client


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    """Ephemeral clients share one in-memory engine per process; tests must not see each other's data."""
    system.clear()
    yield
    system.clear()


@pytest.fixture
def client() -> Iterator[Client]:
    """An ephemeral client that may reset."""
    c = chromadb.EphemeralClient(settings=chromadb.Settings(allow_reset=True))
    yield c
    c.close()


@pytest.fixture
def persistent(tmp_path) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """A persistent client on a temporary directory, with durability off for speed."""
    c = chromadb.PersistentClient(path=str(tmp_path / "db"), settings=chromadb.Settings(sediment_durability="off"))
    yield c
    c.close()


@pytest.fixture
def collection(client: Client):  # type: ignore[no-untyped-def]
    """An empty collection without an embedding function."""
    return client.create_collection("records", embedding_function=None)
