"""Embedding never touches the network: not Python sockets, not onnxruntime's telemetry."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sedimentdb.utils.embedding_functions import DefaultEmbeddingFunction, EmbeddingExtraMissingError

from .conftest import requires_extra

HELLO_WORLD_HEAD = [-0.0344773, 0.0310232, 0.0067349, 0.0261090, -0.0393620, -0.1603025]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail, and record, any attempt to connect or resolve a name from Python."""
    attempts: list[str] = []

    def refuse(what: str):
        def _refuse(*args: object, **kwargs: object) -> None:
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise AssertionError(f"network access attempted while embedding: {what} {args}")

        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


@requires_extra
def test_load_build_and_embed_without_any_connection(
    no_network: list[str], fresh_runtime: None, tmp_cache: Path
) -> None:
    # Empty cache and no loaded model: the whole path (verify, build, cache, load, embed) runs here.
    vector = DefaultEmbeddingFunction()(["Hello world"])[0]
    np.testing.assert_allclose(vector[:6], HELLO_WORLD_HEAD, atol=1e-5)
    assert no_network == []


def test_missing_extra_fails_without_any_connection(
    no_network: list[str], fresh_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EmbeddingExtraMissingError):
        DefaultEmbeddingFunction()(["Hello world"])
    assert no_network == []


@requires_extra
def test_onnxruntime_telemetry_is_never_started(tmp_path: Path) -> None:
    # onnxruntime 1.31 on Linux starts 1DS telemetry from C++ (invisible to the socket patch
    # above): it writes $XDG_CACHE_HOME/Microsoft/... and looks up events.data.microsoft.com.
    # Run a fresh process, as a user would, and check the telemetry store never appears.
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = (
        "import os; from sedimentdb.utils.embedding_functions import DefaultEmbeddingFunction as D;"
        "v = D()(['Hello world'])[0]; print(round(float(v[0]), 6), os.environ['ORT_DISABLE_TELEMETRY'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].split() == ["-0.034477", "1"]
    assert not (tmp_path / "Microsoft").exists(), sorted(str(p) for p in tmp_path.rglob("*"))
    assert (tmp_path / "sedimentdb" / "onnx_models").is_dir()
