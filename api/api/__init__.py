"""``chromadb.api``: the client interfaces, and the type, schema and search names Chroma re-exports here.

``ClientAPI``/``AdminAPI`` are SedimentDB's client classes (Chroma code uses them in annotations
and ``isinstance`` checks). Chroma's async, Rust-binding and server base classes are declared
with :func:`sedimentdb.unimplemented.declare`.
"""

from sedimentdb.api.collection_configuration import (
    CreateCollectionConfiguration,
    UpdateCollectionConfiguration,
)
from sedimentdb.api.types import *  # noqa: F403
from sedimentdb.api.types import (  # noqa: F401  (explicit: the star skips module-level __getattr__ names)
    IndexConfig,
    IndexingStatus,
    ReadLevel,
    SearchResult,
    SearchResultRow,
    Space,
    SparseVectors,
    validate_embedding_function,
    validate_sparse_embedding_function,
    validate_sparse_vectors,
)
from sedimentdb.collection import Collection
from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings  # noqa: F401
from sedimentdb.local_clients import AdminClient as AdminAPI
from sedimentdb.local_clients import Client as ClientAPI
from sedimentdb.search import (  # noqa: F401
    Abs,
    Aggregate,
    And,
    Contains,
    Div,
    Eq,
    Exp,
    GroupBy,
    Gt,
    Gte,
    In,
    K,
    Key,
    Knn,
    Limit,
    Log,
    Lt,
    Lte,
    Max,
    MaxK,
    Min,
    MinK,
    Mul,
    Ne,
    Nin,
    NotContains,
    NotRegex,
    Or,
    Rank,
    Regex,
    Rrf,
    Search,
    SearchWhere,
    Select,
    Sub,
    Sum,
    Val,
)
from sedimentdb.types import Database, Tenant, UserIdentity  # noqa: F401
from sedimentdb.unimplemented import declare

ServerAPI = ClientAPI
BaseAPI = ClientAPI
CollectionModel = Collection

declare(globals(), "chromadb.api", """
    AsyncAdminAPI AsyncBaseAPI AsyncClientAPI AsyncServerAPI AttachedFunction Component
""")


def __getattr__(name: str) -> object:
    """Embedding-function names, loaded on first use (as in :mod:`sedimentdb.types`)."""
    from sedimentdb.api import types

    return types.__getattr__(name)


__all__ = ["AdminAPI", "ClientAPI", "Collection", "CreateCollectionConfiguration", "ServerAPI",
           "UpdateCollectionConfiguration"]
