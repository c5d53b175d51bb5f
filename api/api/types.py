"""``chromadb.api.types``: Chroma's type names, schema classes and validators, as SedimentDB has them.

Real where SedimentDB has the thing (aliases, results, validators, the schema classes of
:mod:`sedimentdb.schema`); Chroma's internal request and record-set helpers are declared
with :func:`sedimentdb.unimplemented.declare` and raise ``NotImplementedError`` when used.
"""

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Union  # noqa: F401  (TYPE_CHECKING: Chroma exports it)

import numpy as np

from sedimentdb import types as _types
from sedimentdb.filters import validate_where, validate_where_document  # noqa: F401
from sedimentdb.schema import (  # noqa: F401
    BOOL_INVERTED_INDEX_NAME,
    BOOL_VALUE_NAME,
    DOCUMENT_KEY,
    EMBEDDING_KEY,
    FLOAT_INVERTED_INDEX_NAME,
    FLOAT_LIST_VALUE_NAME,
    FLOAT_VALUE_NAME,
    FTS_INDEX_NAME,
    HNSW_INDEX_NAME,
    INT_INVERTED_INDEX_NAME,
    INT_VALUE_NAME,
    SPANN_INDEX_NAME,
    SPARSE_VECTOR_INDEX_NAME,
    SPARSE_VECTOR_TYPE_VALUE,
    SPARSE_VECTOR_VALUE_NAME,
    STRING_INVERTED_INDEX_NAME,
    STRING_VALUE_NAME,
    TYPE_KEY,
    VECTOR_INDEX_NAME,
    BoolInvertedIndexConfig,
    BoolInvertedIndexType,
    BoolValueType,
    Cmek,
    CmekProvider,
    FloatInvertedIndexConfig,
    FloatInvertedIndexType,
    FloatListValueType,
    FloatValueType,
    FtsIndexConfig,
    FtsIndexType,
    HnswIndexConfig,
    IndexConfig,
    IntInvertedIndexConfig,
    IntInvertedIndexType,
    IntValueType,
    Schema,
    SpannIndexConfig,
    SparseVector,
    SparseVectorIndexConfig,
    SparseVectorIndexType,
    SparseVectorValueType,
    StringInvertedIndexConfig,
    StringInvertedIndexType,
    StringValueType,
    ValueTypes,
    VectorIndexConfig,
    VectorIndexType,
)
from sedimentdb.types import *  # noqa: F403
from sedimentdb.types import GetResult, Include, QueryResult, T  # noqa: F401  (explicit for type checkers)
from sedimentdb.unimplemented import declare
from sedimentdb.validation import (  # noqa: F401
    normalize_embeddings,
    validate_embeddings,
    validate_ids,
    validate_include,
    validate_metadata,
    validate_metadatas,
    validate_n_results,
)

Vector = Union[np.ndarray, list[float], list[int]]
PyVector = Union[list[float], list[int]]
ImageDType = Union[np.uint, np.int64, np.float64]
SparseVectors = list[SparseVector]
Parameter = TypeVar("Parameter")
D = TypeVar("D", contravariant=True)
L = TypeVar("L", covariant=True)
META_KEY_CHROMA_DOCUMENT = "chroma:document"


def maybe_cast_one_to_many(target: Any) -> Any:
    """``None`` stays ``None``, a list stays, anything else becomes a one-item list."""
    if target is None or isinstance(target, list):
        return target
    return [target]


def is_thin_client() -> bool:
    """Whether this is Chroma's HTTP-only client package: SedimentDB is the full database."""
    return False


class ReadLevel(str, enum.Enum):
    """Which writes a search sees: everything, the compacted segments only, or those plus a bounded
    prefix of the log tail (docs/SEARCH.md, "Read levels")."""

    INDEX_AND_WAL = "index_and_wal"
    INDEX_ONLY = "index_only"
    INDEX_AND_BOUNDED_WAL = "index_and_bounded_wal"


@dataclass
class IndexingStatus:
    """How much of a collection is indexed (Chroma Cloud's ``get_indexing_status``)."""

    num_indexed_ops: int
    num_unindexed_ops: int
    total_ops: int
    op_indexing_progress: float


SearchResultRow = _types.SearchResultRow
SearchResult = _types.SearchResult


def validate_sparse_vectors(vectors: Any) -> None:
    """Each item must be a :class:`SparseVector` (which validates itself when built)."""
    if not isinstance(vectors, list):
        raise ValueError(f"Expected sparse vectors to be a list, got {type(vectors).__name__}")
    for i, vector in enumerate(vectors):
        if not isinstance(vector, SparseVector):
            raise ValueError(f"Expected SparseVector at position {i}, got {type(vector).__name__}")


def validate_embedding_function(embedding_function: Any) -> None:
    """``__call__`` must take exactly ``(self, input)``."""
    from sedimentdb.embedding import validate_signature

    validate_signature(embedding_function)


validate_sparse_embedding_function = validate_embedding_function

declare(globals(), "chromadb.api.types", """
    AddRequest BaseRecordSet DeleteRequest FilterSet GetRequest IndexMetadata InsertRecordSet QueryRequest
    UpdateRequest UpsertRequest
    convert_list_embeddings_to_np convert_np_embeddings_to_list deserialize_metadata
    get_default_embeddable_record_set_fields is_document is_image normalize_base_record_set
    normalize_insert_record_set normalize_metadata normalize_metadatas optional_base64_strings_to_embeddings
    optional_embeddings_to_base64_strings pack_embedding_safely serialize_metadata validate_base_record_set
    validate_batch validate_documents validate_filter_set validate_images validate_insert_record_set
    validate_record_set_contains_any validate_record_set_contains_one validate_record_set_for_embedding
    validate_update_metadata
""")


def __getattr__(name: str) -> Any:
    """Embedding-function names, loaded lazily as in :mod:`sedimentdb.types`."""
    if name == "SparseEmbeddingFunction":
        from sedimentdb.utils.embedding_functions import SparseEmbeddingFunction

        return SparseEmbeddingFunction
    return _types.__getattr__(name)
