"""The same API scenario against the embedded client, the HTTP client and the async HTTP client.

Each mode must pass the scenario's assertions, and all three must produce the same transcript
(results and error messages), so the clients cannot drift apart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import sedimentdb as chromadb
from sedimentdb import errors
from tests.http.scenario import run_scenario
from tests.http.server_process import ServerProcess

MODES = ("embedded", "http", "async_http")


async def _client(mode: str, server: ServerProcess, tmp_path: Path) -> Any:
    if mode == "embedded":
        return chromadb.PersistentClient(path=str(tmp_path / "embedded"),
                                         settings=chromadb.Settings(sediment_durability="off"))
    if mode == "http":
        return chromadb.HttpClient(host="127.0.0.1", port=server.port)
    return await chromadb.AsyncHttpClient(host=server.url)  # a full URL: the port is not appended


def _transcript(mode: str, server: ServerProcess, tmp_path: Path, name: str) -> list[Any]:
    async def go() -> list[Any]:
        client = await _client(mode, server, tmp_path)
        try:
            return await run_scenario(client, errors, name)
        finally:
            closing = client.close()
            if asyncio.iscoroutine(closing):
                await closing

    return asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_scenario(mode: str, server: ServerProcess, tmp_path: Path, unique_name: str) -> None:
    """Every client passes the scenario."""
    assert _transcript(mode, server, tmp_path, unique_name)


def test_transcripts_are_identical(server: ServerProcess, tmp_path: Path, unique_name: str) -> None:
    """Embedded, HTTP and async HTTP give the same results and the same error messages."""
    transcripts = {
        mode: _transcript(mode, server, tmp_path / mode, f"{unique_name}-{i}")
        for i, mode in enumerate(MODES)
    }
    # Error messages name the collection; make the per-mode names alike before comparing.
    normalised = {mode: repr(t).replace(f"{unique_name}-{i}", "NAME") for i, (mode, t) in enumerate(transcripts.items())}
    assert normalised["http"] == normalised["embedded"]
    assert normalised["async_http"] == normalised["embedded"]
