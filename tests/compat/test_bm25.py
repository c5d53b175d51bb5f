"""SedimentDB's ChromaBm25EmbeddingFunction gives exactly chromadb 1.5.9's sparse vectors
(fixture recorded by record_bm25.py from the real chromadb), and says which extra it needs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sedimentdb.engine.extras import MissingExtraError
from sedimentdb.utils.embedding_functions import ChromaBm25EmbeddingFunction, sparse_known_embedding_functions
from sedimentdb.utils.embedding_functions.murmur3 import murmur3_32

FIXTURE = json.loads((Path(__file__).parent / "chromadb_bm25.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: json.dumps(c["config"]))
def test_outputs_equal_chromas(case):
    ef = ChromaBm25EmbeddingFunction(**case["config"])
    got = ef(FIXTURE["texts"])
    for text, vector, want in zip(FIXTURE["texts"], got, case["outputs"], strict=True):
        assert vector.indices == want["indices"], text
        assert vector.values == want["values"], text  # bit-equal floats
        assert vector.labels == want["labels"], text
    queries = ef.embed_query(FIXTURE["texts"][:3])
    assert [(q.indices, q.values) for q in queries] == [(w["indices"], w["values"]) for w in case["query"]]
    assert ef.get_config() == case["get_config"]
    rebuilt = ChromaBm25EmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt(FIXTURE["texts"][:5]) == got[:5]


def test_registered_under_chromas_name():
    assert sparse_known_embedding_functions["chroma_bm25"] is ChromaBm25EmbeddingFunction
    assert ChromaBm25EmbeddingFunction.name() == "chroma_bm25"
    assert ChromaBm25EmbeddingFunction()([]) == []


def test_murmur3_known_vectors():
    # Reference values of MurmurHash3_x86_32 (SMHasher's verification strings).
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"", 1) == 0x514E28B7
    assert murmur3_32(b"hello") == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723


def test_config_validation_messages():
    with pytest.raises(ValueError, match="Updating 'model' is not supported for chroma_bm25"):
        ChromaBm25EmbeddingFunction().validate_config_update({}, {"model": "x"})
    with pytest.raises(ValueError, match="'k' must be a number"):
        ChromaBm25EmbeddingFunction.validate_config({"k": "1"})
    ChromaBm25EmbeddingFunction.validate_config({"k": 1.0, "b": 0.5, "stopwords": ["a"]})


def test_missing_stemmer_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "snowballstemmer", None)  # import fails as if not installed
    ef = ChromaBm25EmbeddingFunction()
    with pytest.raises(MissingExtraError) as info:
        ef(["text"])
    assert isinstance(info.value, ValueError)  # what Chroma raises
    assert info.value.extra == "bm25"
    assert 'pip install "sedimentdb[bm25]"' in str(info.value)
