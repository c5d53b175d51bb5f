"""Embedding functions: Chroma's protocol, a registry, and the functions SedimentDB ships.

``from chromadb.utils import embedding_functions`` works unchanged after
``import sedimentdb as chromadb``. Importing this package never imports onnxruntime,
tokenizers or the model: the default function loads them on first use.
"""

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction, validate_embedding_function
from sedimentdb.utils.embedding_functions.hashing import HashingEmbeddingFunction
from sedimentdb.utils.embedding_functions.registry import (
    config_to_embedding_function,
    known_embedding_functions,
    register_embedding_function,
)
from sedimentdb.utils.embedding_functions.types import Document, Documents, Embedding, Embeddings, Space
from sedimentdb.utils.embedding_functions.validation import normalize_embeddings, validate_embeddings

__all__ = [
    "Document",
    "Documents",
    "Embedding",
    "EmbeddingFunction",
    "Embeddings",
    "HashingEmbeddingFunction",
    "Space",
    "config_to_embedding_function",
    "known_embedding_functions",
    "normalize_embeddings",
    "register_embedding_function",
    "validate_embedding_function",
    "validate_embeddings",
]
