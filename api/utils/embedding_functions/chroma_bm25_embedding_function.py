"""Chroma's local BM25 sparse embedding function (``chroma_bm25``): no model, no network.

A document becomes one sparse vector: its tokens (:mod:`bm25_tokenizer`) are hashed to
dimensions (``abs`` of MurmurHash3 x86 32-bit, seed 0), and each distinct dimension gets BM25's
term-frequency weight ``tf·(k+1) / (tf + k·(1 − b + b·len/avg_len))``, where ``len`` is the
document's token count; dimensions ascending. Queries are embedded the same way, so the dot
product of a query and a document is the document's BM25 score without IDF. Output equals
chromadb 1.5.9's for the same text and settings (tests/compat/test_bm25.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from sedimentdb.schema import SparseVector
from sedimentdb.utils.embedding_functions.bm25_tokenizer import (
    DEFAULT_CHROMA_BM25_STOPWORDS,
    Bm25Tokenizer,
    english_stemmer,
)
from sedimentdb.utils.embedding_functions.murmur3 import token_hash
from sedimentdb.utils.embedding_functions.sparse import (
    SparseEmbeddingFunction,
    register_sparse_embedding_function,
)

NAME = "chroma_bm25"
DEFAULT_K = 1.2
DEFAULT_B = 0.75
DEFAULT_AVG_DOC_LENGTH = 256.0
DEFAULT_TOKEN_MAX_LENGTH = 40
_MUTABLE = {"k", "b", "avg_doc_length", "token_max_length", "stopwords", "include_tokens"}


@register_sparse_embedding_function
class ChromaBm25EmbeddingFunction(SparseEmbeddingFunction[Any]):
    """BM25 term weights as sparse vectors (Chroma's ``ChromaBm25EmbeddingFunction``)."""

    def __init__(self, k: float = DEFAULT_K, b: float = DEFAULT_B, avg_doc_length: float = DEFAULT_AVG_DOC_LENGTH,
                 token_max_length: int = DEFAULT_TOKEN_MAX_LENGTH, stopwords: Optional[Iterable[str]] = None,
                 include_tokens: bool = False) -> None:
        self.k = float(k)
        self.b = float(b)
        self.avg_doc_length = float(avg_doc_length)
        self.token_max_length = int(token_max_length)
        self.include_tokens = bool(include_tokens)
        self.stopwords: Optional[list[str]] = [str(w) for w in stopwords] if stopwords is not None else None
        self._tokenizer: Optional[Bm25Tokenizer] = None  # built on first use: the stemmer is an extra

    def _tokens(self, text: str) -> list[str]:
        if self._tokenizer is None:
            words = self.stopwords if self.stopwords is not None else DEFAULT_CHROMA_BM25_STOPWORDS
            self._tokenizer = Bm25Tokenizer(english_stemmer(), words, self.token_max_length)
        return self._tokenizer.tokenize(text)

    def _encode(self, text: str) -> SparseVector:
        tokens = self._tokens(text)
        if not tokens:
            return SparseVector(indices=[], values=[])
        doc_len = float(len(tokens))
        # Per dimension: count, and the first token that hashed to it (its label).
        counts: dict[int, list[Any]] = {}
        for token in tokens:
            slot = counts.setdefault(token_hash(token), [0, token])
            slot[0] += 1
        indices, values, labels = [], [], []
        for dim in sorted(counts):
            tf = float(counts[dim][0])
            # Chroma's order of operations, so every value is bit-equal to Chroma's.
            denominator = tf + self.k * (1 - self.b + (self.b * doc_len) / self.avg_doc_length)
            indices.append(dim)
            values.append(tf * (self.k + 1) / denominator)
            labels.append(counts[dim][1])
        return SparseVector(indices=indices, values=values, labels=labels if self.include_tokens else None)

    def __call__(self, input: Any) -> list[SparseVector]:
        """One sparse vector per document."""
        return [self._encode(document) for document in input or []]

    def embed_query(self, input: Any) -> list[SparseVector]:
        """Queries are embedded like documents."""
        return self.__call__(input)

    @staticmethod
    def name() -> str:
        """The registered name, ``chroma_bm25``."""
        return NAME

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaBm25EmbeddingFunction:
        """The function a stored configuration describes."""
        return ChromaBm25EmbeddingFunction(
            k=config.get("k", DEFAULT_K), b=config.get("b", DEFAULT_B),
            avg_doc_length=config.get("avg_doc_length", DEFAULT_AVG_DOC_LENGTH),
            token_max_length=config.get("token_max_length", DEFAULT_TOKEN_MAX_LENGTH),
            stopwords=config.get("stopwords"), include_tokens=config.get("include_tokens", False))

    def get_config(self) -> dict[str, Any]:
        """Chroma's stored configuration (``stopwords`` only when not the default list)."""
        config: dict[str, Any] = {"k": self.k, "b": self.b, "avg_doc_length": self.avg_doc_length,
                                  "token_max_length": self.token_max_length, "include_tokens": self.include_tokens}
        if self.stopwords is not None:
            config["stopwords"] = list(self.stopwords)
        return config

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Every setting may change; an unknown one is refused in Chroma's words."""
        for key in new_config:
            if key not in _MUTABLE:
                raise ValueError(f"Updating '{key}' is not supported for {NAME}")

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Refuse settings of the wrong type (Chroma checks a JSON schema)."""
        numbers = {"k", "b", "avg_doc_length"}
        for key, value in config.items():
            if key in numbers and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{NAME} config '{key}' must be a number, got {type(value).__name__}")
            if key == "token_max_length" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{NAME} config 'token_max_length' must be an integer, got {type(value).__name__}")
            if key == "include_tokens" and not isinstance(value, bool):
                raise ValueError(f"{NAME} config 'include_tokens' must be a boolean, got {type(value).__name__}")
            if key == "stopwords" and not (isinstance(value, list) and all(isinstance(w, str) for w in value)):
                raise ValueError(f"{NAME} config 'stopwords' must be a list of strings")
            if key not in _MUTABLE:
                raise ValueError(f"{NAME} config has an unknown key '{key}'")
