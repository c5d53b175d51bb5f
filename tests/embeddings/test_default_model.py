"""DefaultEmbeddingFunction / ONNXMiniLM_L6_V2 produce the published all-MiniLM-L6-v2 vectors."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.utils.embedding_functions import DefaultEmbeddingFunction, ONNXMiniLM_L6_V2

from .conftest import requires_extra

pytestmark = requires_extra

# Published sentence-transformers all-MiniLM-L6-v2 outputs (reference ecosystem.md §3c).
GOLDEN = {
    "Hello world": [-0.0344773, 0.0310232, 0.0067349, 0.0261090, -0.0393620, -0.1603025],
    "This is an example sentence": [0.0676569, 0.0634959, 0.0487131, 0.0793049, 0.0374480],
}
VARIED = [
    "Hello world",
    "",
    " ",
    "Grüße aus Köln, naïve café",
    "東京は日本の首都です",
    "I love pizza 🍕🎉😀",
    "A much longer sentence about vector databases, write-ahead logs and crash safety. " * 3,
    "This is an example sentence",
]


@pytest.fixture(scope="module")
def ef() -> DefaultEmbeddingFunction:
    return DefaultEmbeddingFunction()


def test_golden_values(ef: DefaultEmbeddingFunction) -> None:
    vectors = ef(list(GOLDEN))
    for (text, expected), vector in zip(GOLDEN.items(), vectors, strict=True):
        np.testing.assert_allclose(vector[: len(expected)], expected, atol=1e-5, err_msg=text)


def test_shape_dtype_and_unit_length(ef: DefaultEmbeddingFunction) -> None:
    vectors = ef(VARIED)
    assert len(vectors) == len(VARIED)
    for v in vectors:
        assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (384,)
        assert np.all(np.isfinite(v))
        assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_batch_and_single_are_identical(ef: DefaultEmbeddingFunction) -> None:
    # 75 texts of very different lengths: several batches of 32, reordered by length inside.
    texts = [VARIED[i % len(VARIED)] + " word" * (i * 7 % 40) for i in range(75)]
    batch = ef(texts)
    for text, vector in zip(texts, batch, strict=True):
        np.testing.assert_array_equal(ef([text])[0], vector)


def test_empty_and_whitespace_texts_embed_like_chroma(ef: DefaultEmbeddingFunction) -> None:
    # Both tokenize to just [CLS] [SEP], so they share one well-defined unit vector.
    empty, space = ef(["", " "])
    np.testing.assert_array_equal(empty, space)
    assert np.linalg.norm(empty) == pytest.approx(1.0, abs=1e-5)


def test_truncation_at_256_tokens_not_128(ef: DefaultEmbeddingFunction) -> None:
    runtime_tokenizer = _tokenizer()
    head = "alpha " * 200  # 200 tokens + [CLS]
    a, b = head + "beta " * 30, head + "gamma " * 30  # differ at tokens 201-230: inside 256
    c, d = head + "delta " * 60 + "beta " * 50, head + "delta " * 60 + "gamma " * 50  # differ after 260
    assert len(runtime_tokenizer.encode(c).ids) == 256
    va, vb, vc, vd = ef([a, b, c, d])
    assert not np.allclose(va, vb, atol=1e-4)  # the pre-set truncation at 128 would make these equal
    np.testing.assert_array_equal(vc, vd)


def test_unicode_and_emoji_are_distinct_and_similar_texts_are_close(ef: DefaultEmbeddingFunction) -> None:
    cologne, tokyo, pizza, pizza2 = ef(
        ["Grüße aus Köln", "東京は日本の首都です", "I love pizza 🍕", "I really like pizza"]
    )
    assert float(pizza @ pizza2) > 0.7
    assert float(pizza @ pizza2) > float(pizza @ cologne)
    assert not np.allclose(cologne, tokyo)


def test_default_equals_onnx_class_and_embed_query(ef: DefaultEmbeddingFunction) -> None:
    onnx = ONNXMiniLM_L6_V2()
    for x, y in zip(ef(VARIED), onnx(VARIED), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(ef.embed_query(["Hello world"])[0], ef(["Hello world"])[0])


def test_non_text_input_is_rejected(ef: DefaultEmbeddingFunction) -> None:
    with pytest.raises(ValueError, match="list of str"):
        ef("Hello world")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="list of str"):
        ef(["ok", None])  # type: ignore[list-item]


def test_unavailable_provider_is_a_clear_error(fresh_runtime: None) -> None:
    with pytest.raises(ValueError, match="not available"):
        ONNXMiniLM_L6_V2(preferred_providers=["NoSuchExecutionProvider"])(["x"])


def _tokenizer():  # the same settings the runtime uses
    from sedimentdb.utils.embedding_functions import minilm_runtime

    return minilm_runtime.get_runtime()._tokenizer


def test_padding_to_longest_equals_chromas_padding_to_256(ef: DefaultEmbeddingFunction) -> None:
    # Chroma pads every text to 256 tokens; masked padding must not change a single vector.
    from sedimentdb.utils.embedding_functions import minilm_runtime

    runtime = minilm_runtime.get_runtime()
    texts = VARIED[:6]
    encodings = runtime._tokenizer.encode_batch(texts)
    ids = np.zeros((len(texts), 256), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = runtime._session.run(["last_hidden_state"], feeds)[0]
    chroma_style = minilm_runtime._normalize(minilm_runtime._mean_pool(hidden, mask))
    np.testing.assert_allclose(np.stack(ef(texts)), chroma_style, atol=1e-6)
