"""Embedding functions: Chroma's protocol, a registry, and the functions SedimentDB ships.

``from chromadb.utils import embedding_functions`` works unchanged after
``import sedimentdb as chromadb``. Importing this package never imports onnxruntime,
tokenizers or the model: the default function loads them on first use.
"""

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction, validate_embedding_function
from sedimentdb.utils.embedding_functions.default import DefaultEmbeddingFunction
from sedimentdb.utils.embedding_functions.errors import EXTRA_INSTALL_COMMAND, EmbeddingExtraMissingError
from sedimentdb.utils.embedding_functions.hashing import HashingEmbeddingFunction
from sedimentdb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from sedimentdb.utils.embedding_functions.registry import (
    config_to_embedding_function,
    known_embedding_functions,
    register_embedding_function,
)
from sedimentdb.utils.embedding_functions.types import Document, Documents, Embedding, Embeddings, Space
from sedimentdb.utils.embedding_functions.validation import normalize_embeddings, validate_embeddings

__all__ = [
    "EXTRA_INSTALL_COMMAND",
    "DefaultEmbeddingFunction",
    "Document",
    "Documents",
    "Embedding",
    "EmbeddingFunction",
    "Embeddings",
    "EmbeddingExtraMissingError",
    "HashingEmbeddingFunction",
    "ONNXMiniLM_L6_V2",
    "Space",
    "config_to_embedding_function",
    "known_embedding_functions",
    "normalize_embeddings",
    "register_embedding_function",
    "validate_embedding_function",
    "validate_embeddings",
]
