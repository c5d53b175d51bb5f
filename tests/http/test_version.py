"""``get_version()`` answers the same Chroma API version embedded and over HTTP; SedimentDB's own version is apart."""

from __future__ import annotations

import httpx

import sedimentdb
from sedimentdb.version import CHROMA_API_VERSION, __version__
from tests.http.server_process import ServerProcess


def test_get_version_is_the_chroma_api_version_both_ways(server: ServerProcess) -> None:
    remote = sedimentdb.HttpClient(host="127.0.0.1", port=server.port)
    try:
        assert remote.get_version() == sedimentdb.EphemeralClient().get_version() == CHROMA_API_VERSION == "1.5.9"
    finally:
        remote.close()
    assert httpx.get(server.url + "/api/v2/version").json() == CHROMA_API_VERSION


def test_chromas_own_client_reads_the_same_version(server: ServerProcess) -> None:
    import pytest

    chromadb = pytest.importorskip("chromadb", reason="Chroma's client is not installed (pip install chromadb-client)")
    from chromadb.config import Settings

    client = chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False))
    assert client.get_version() == CHROMA_API_VERSION


def test_the_servers_own_version_is_in_its_openapi_document(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/openapi.json").json()["info"]["version"] == __version__
