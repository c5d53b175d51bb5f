"""Chroma's public type names (``chromadb.api.types`` and ``chromadb.types``) and result shapes.

The aliases exist so that code annotated for Chroma type-checks against SedimentDB; the
result dictionaries are what ``get``/``query`` return. ``EmbeddingFunction`` and
``DefaultEmbeddingFunction`` are re-exported lazily from
:mod:`sedimentdb.utils.embedding_functions` (which may itself import these aliases).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
OneOrMany = Union[T, list[T]]

ID = str
IDs = list[ID]
URI = str
URIs = list[URI]
Document = str
Documents = list[Document]
Image = NDArray[Any]
Images = list[Image]
Embeddable = Union[Documents, Images]

PyEmbedding = list[float] | list[int]
PyEmbeddings = list[PyEmbedding]
Embedding = NDArray[Union[np.int32, np.float32]]
Embeddings = list[Embedding]
Space = Literal["cosine", "l2", "ip"]

LiteralValue = Union[str, int, float, bool]
MetadataValue = Union[str, int, float, bool, None, list[str], list[int], list[float], list[bool]]
Metadata = dict[str, MetadataValue]
Metadatas = list[Metadata]
UpdateMetadata = dict[str, MetadataValue]
CollectionMetadata = dict[str, Any]
UpdateCollectionMetadata = UpdateMetadata

LogicalOperator = Literal["$and", "$or"]
WhereOperator = Literal["$gt", "$gte", "$lt", "$lte", "$ne", "$eq", "$contains", "$not_contains"]
InclusionExclusionOperator = Literal["$in", "$nin"]
OperatorExpression = dict[str, Any]
Where = dict[str, Any]
WhereDocumentOperator = Literal["$contains", "$not_contains", "$regex", "$not_regex", "$and", "$or"]
WhereDocument = dict[str, Any]

IncludeItem = Literal["documents", "embeddings", "metadatas", "distances", "uris", "data"]
Include = list[IncludeItem]
INCLUDE_VALUES: tuple[str, ...] = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
IncludeMetadataDocuments: Include = ["metadatas", "documents"]
IncludeMetadataDocumentsEmbeddings: Include = ["metadatas", "documents", "embeddings"]
IncludeMetadataDocumentsDistances: Include = ["metadatas", "documents", "distances"]
IncludeMetadataDocumentsEmbeddingsDistances: Include = ["metadatas", "documents", "embeddings", "distances"]

Loadable = list[Union[Image, None]]


class IncludeEnum(str, enum.Enum):
    """Include values as an enum (Chroma 0.5/0.6 exported it); members compare equal to their strings."""

    documents = "documents"
    embeddings = "embeddings"
    metadatas = "metadatas"
    distances = "distances"
    uris = "uris"
    data = "data"

    def __str__(self) -> str:
        return self.value


class GetResult(TypedDict):
    """What ``Collection.get`` and ``peek`` return; fields not included are ``None``."""

    ids: list[ID]
    embeddings: Any
    documents: list[Document | None] | None
    uris: list[URI | None] | None
    data: Any
    metadatas: list[Metadata | None] | None
    included: Include


class QueryResult(TypedDict):
    """What ``Collection.query`` returns: one inner list per query, nearest first."""

    ids: list[IDs]
    embeddings: Any
    documents: list[list[Document | None]] | None
    uris: list[list[URI | None]] | None
    data: Any
    metadatas: list[list[Metadata | None]] | None
    distances: list[list[float]] | None
    included: Include


class DeleteResult(TypedDict):
    """What ``Collection.delete`` returns (Chroma 1.x)."""

    deleted: int


class Database(TypedDict):
    """A database of a tenant, as the admin API returns it."""

    id: Any
    name: str
    tenant: str


class Tenant(TypedDict):
    """A tenant, as the admin API returns it."""

    name: str


@dataclass
class UserIdentity:
    """Who the client is; a local client is the anonymous user of the default tenant."""

    user_id: str
    tenant: str | None = None
    databases: list[str] = field(default_factory=list)
    attributes: dict[str, Any] | None = None


class DataLoader:
    """Protocol-like base: a callable turning URIs into loadable data (e.g. images)."""

    def __call__(self, uris: URIs) -> Loadable:
        """Load the data behind ``uris``."""
        raise NotImplementedError


_LAZY = {"EmbeddingFunction", "DefaultEmbeddingFunction", "register_embedding_function"}


def __getattr__(name: str) -> Any:
    """Re-export embedding-function names lazily: that package imports these aliases itself."""
    if name in _LAZY:
        from sedimentdb.utils import embedding_functions

        return getattr(embedding_functions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SearchResultRow(TypedDict, total=False):
    """One row of a search result: ``id`` always, the other fields when selected and set."""

    id: str
    document: Any
    embedding: Any
    metadata: Any
    score: Any


SEARCH_ROW_FIELDS = (("documents", "document"), ("embeddings", "embedding"), ("metadatas", "metadata"),
                     ("scores", "score"))


class SearchResult(dict):  # type: ignore[type-arg]
    """What ``Collection.search`` returns: per search, columns ``ids``, ``documents``, ``embeddings``,
    ``metadatas``, ``scores`` (``None`` when not selected) and the ``select`` keys."""

    def rows(self) -> list[list[SearchResultRow]]:
        """Each search's records as dictionaries, leaving out fields that are ``None``."""
        all_ids = self.get("ids", [])
        out: list[list[SearchResultRow]] = []
        for n, ids in enumerate(all_ids):
            columns = [(name, (self.get(plural) or [None] * len(all_ids))[n]) for plural, name in SEARCH_ROW_FIELDS]
            rows: list[SearchResultRow] = []
            for i, record_id in enumerate(ids):
                row: dict[str, Any] = {"id": record_id}
                for name, column in columns:
                    if column is not None and column[i] is not None:
                        row[name] = column[i]
                rows.append(row)  # type: ignore[arg-type]
            out.append(rows)
        return out
