"""Embedding functions: Chroma's protocol, a registry, and the functions SedimentDB ships.

This is ``chromadb.utils.embedding_functions`` once the ``chromadb`` alias is on
(:func:`sedimentdb.install_as_chromadb`); with ``import sedimentdb as chromadb`` it is
``chromadb.utils.embedding_functions`` as an attribute, but ``from chromadb.utils import ...``
needs the alias. Importing this package never imports onnxruntime, tokenizers or the model:
the default function loads them on first use. Chroma's provider functions (OpenAI, Cohere, …)
are declared, and raise ``NotImplementedError`` when constructed.
"""

from sedimentdb.unimplemented import declare
from sedimentdb.utils.embedding_functions.base import EmbeddingFunction, validate_embedding_function
from sedimentdb.utils.embedding_functions.chroma_bm25_embedding_function import ChromaBm25EmbeddingFunction
from sedimentdb.utils.embedding_functions.default import DefaultEmbeddingFunction
from sedimentdb.utils.embedding_functions.extra_missing import (
    EXTRA_INSTALL_COMMAND,
    EmbeddingExtraMissingError,
)
from sedimentdb.utils.embedding_functions.hashing import HashingEmbeddingFunction
from sedimentdb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from sedimentdb.utils.embedding_functions.registry import (
    config_to_embedding_function,
    known_embedding_functions,
    register_embedding_function,
)
from sedimentdb.utils.embedding_functions.sparse import (
    SparseEmbeddingFunction,
    register_sparse_embedding_function,
    sparse_known_embedding_functions,
)
from sedimentdb.utils.embedding_functions.validation import normalize_embeddings, validate_embeddings
from sedimentdb.utils.embedding_functions.value_types import Document, Documents, Embedding, Embeddings, Space


def get_builtins() -> set[str]:
    """The names of the embedding functions this package ships."""
    return {"default", "onnx_mini_lm_l6_v2", "sediment_hashing"}


declare(globals(), "chromadb.utils.embedding_functions", """
    AmazonBedrockEmbeddingFunction BasetenEmbeddingFunction Bm25EmbeddingFunction
    ChromaCloudQwenEmbeddingFunction ChromaCloudSpladeEmbeddingFunction ChromaLangchainEmbeddingFunction
    CloudflareWorkersAIEmbeddingFunction CohereEmbeddingFunction FastembedSparseEmbeddingFunction
    GoogleGeminiEmbeddingFunction GoogleGenaiEmbeddingFunction GoogleGenerativeAiEmbeddingFunction
    GooglePalmEmbeddingFunction GoogleVertexEmbeddingFunction HuggingFaceEmbeddingFunction
    HuggingFaceEmbeddingServer HuggingFaceSparseEmbeddingFunction InstructorEmbeddingFunction
    JinaEmbeddingFunction JinaQueryConfig MistralEmbeddingFunction MorphEmbeddingFunction NomicEmbeddingFunction
    NomicQueryConfig OllamaEmbeddingFunction OpenAIEmbeddingFunction OpenCLIPEmbeddingFunction
    PerplexityEmbeddingFunction RoboflowEmbeddingFunction SentenceTransformerEmbeddingFunction
    Text2VecEmbeddingFunction TogetherAIEmbeddingFunction VoyageAIEmbeddingFunction
""")

__all__ = [
    "ChromaBm25EmbeddingFunction",
    "SparseEmbeddingFunction",
    "get_builtins",
    "register_sparse_embedding_function",
    "sparse_known_embedding_functions",
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
