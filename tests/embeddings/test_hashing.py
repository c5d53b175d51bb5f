"""HashingEmbeddingFunction: deterministic, normalised, lexically sensible, stable forever."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sedimentdb.utils.embedding_functions import HashingEmbeddingFunction

TEXTS = ["Hello world", "", "   ", "?!", "Grüße aus Köln", "東京は日本の首都です", "pizza 🍕🎉", "a " * 5000]


def test_vectors_are_float32_unit_length_of_the_configured_width() -> None:
    for dim in (384, 17, 1):
        vectors = HashingEmbeddingFunction(dim=dim)(TEXTS)
        assert len(vectors) == len(TEXTS)
        for v in vectors:
            assert v.dtype == np.float32 and v.shape == (dim,)
            assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)


def test_same_text_same_vector_and_batch_equals_single() -> None:
    ef = HashingEmbeddingFunction()
    batch = ef(TEXTS)
    for text, v in zip(TEXTS, batch, strict=True):
        assert np.array_equal(ef([text])[0], v)
        assert np.array_equal(HashingEmbeddingFunction()([text])[0], v)


def test_stable_across_processes_with_different_hash_seeds() -> None:
    code = (
        "from sedimentdb.utils.embedding_functions import HashingEmbeddingFunction as H;"
        "print(H()(['Hello world'])[0].tobytes().hex())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {HashingEmbeddingFunction()(["Hello world"])[0].tobytes().hex()}


def test_algorithm_is_pinned() -> None:
    # Persisted collections store these vectors; a silent change would break every query.
    v = HashingEmbeddingFunction(dim=8)(["Hello world"])[0]
    nonzero = {int(i): round(float(v[i]), 6) for i in np.flatnonzero(v)}
    assert nonzero == PINNED_HELLO_WORLD_DIM8


PINNED_HELLO_WORLD_DIM8 = {0: -0.5, 2: 0.75, 3: -0.25, 6: 0.25, 7: 0.25}


def test_shared_words_are_closer_than_unrelated_text() -> None:
    a, b, c = HashingEmbeddingFunction()(
        ["the cat sat on the mat", "a cat sat down", "quantum chromodynamics"]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_text_without_words_still_gets_a_unit_vector() -> None:
    empty, punctuation = HashingEmbeddingFunction()(["", "?!"])
    assert np.array_equal(empty, punctuation)
    assert np.linalg.norm(empty) == pytest.approx(1.0)


@pytest.mark.parametrize("dim", [0, -1, "3", True, 2.0, None])
def test_invalid_dim_is_rejected(dim: object) -> None:
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        HashingEmbeddingFunction(dim=dim)  # type: ignore[arg-type]


def test_config_and_equality() -> None:
    ef = HashingEmbeddingFunction(dim=64)
    assert ef.name() == "sediment_hashing"
    assert ef.get_config() == {"dim": 64}
    assert HashingEmbeddingFunction.build_from_config({"dim": 64}) == ef
    assert HashingEmbeddingFunction(dim=32) != ef
    assert hash(HashingEmbeddingFunction(dim=64)) == hash(ef)
    assert ef.default_space() == "cosine"
    assert not ef.is_legacy()
    with pytest.raises(ValueError, match="dim cannot be changed"):
        ef.validate_config_update({"dim": 64}, {"dim": 32})
    ef.validate_config_update({"dim": 64}, {"dim": 64})
