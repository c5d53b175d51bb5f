"""SedimentDB: Chroma's API on a crash-safe, log-structured engine.

This folder (``api/`` in the repository) *is* the package ``sedimentdb``; ``engine/`` is
``sedimentdb.engine`` and ``tools/`` is ``sedimentdb.tools``. Users write
``import sedimentdb as chromadb`` and Chroma code runs; code that says ``import chromadb``
(LangChain, LlamaIndex) runs on SedimentDB after :func:`install_as_chromadb` or with
``SEDIMENTDB_AS_CHROMADB=1`` in the environment (docs/DROP-IN.md).
"""

import enum
import sys

from sedimentdb import errors  # noqa: E402
from sedimentdb.alias import install_as_chromadb  # noqa: E402
from sedimentdb.api import AdminAPI, ClientAPI, ReadLevel  # noqa: E402
from sedimentdb.collection import Collection  # noqa: E402
from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings  # noqa: E402
from sedimentdb.factories import (  # noqa: E402
    AdminClient,
    Client,
    EphemeralClient,
    PersistentClient,
    configure,
    get_settings,
)
from sedimentdb.local_clients import AdminClient as AdminClientCreator  # noqa: E402
from sedimentdb.local_clients import Client as ClientCreator  # noqa: E402
from sedimentdb.schema import (  # noqa: E402
    BoolInvertedIndexConfig,
    Cmek,
    FloatInvertedIndexConfig,
    FtsIndexConfig,
    HnswIndexConfig,
    IntInvertedIndexConfig,
    Schema,
    SpannIndexConfig,
    SparseVector,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
)
from sedimentdb.search import K, Key, Knn, Rrf, Search  # noqa: E402
from sedimentdb.types import (  # noqa: E402
    URI,
    CollectionMetadata,
    Documents,
    Embeddings,
    GetResult,
    IDs,
    Include,
    IncludeEnum,
    Metadata,
    Metadatas,
    QueryResult,
    UpdateCollectionMetadata,
    UpdateMetadata,
    URIs,
    UserIdentity,
    Where,
    WhereDocument,
)
from sedimentdb.unimplemented import declare as _declare  # noqa: E402
from sedimentdb.version import CHROMA_API_VERSION, __version__  # noqa: E402

SparseVectors = list[SparseVector]


def is_in_colab() -> bool:
    """Whether this runs in Google Colab (Chroma uses it to pick a default client)."""
    import sys

    return "google.colab" in sys.modules


IN_COLAB = is_in_colab()


def is_client() -> bool:
    """Whether this is Chroma's HTTP-only client package: SedimentDB is the full database."""
    return False


class TokenTransportHeader(str, enum.Enum):
    """The header a token travels in: ``Authorization: Bearer …`` or ``X-Chroma-Token``."""

    AUTHORIZATION = "Authorization"
    X_CHROMA_TOKEN = "X-Chroma-Token"


# The async client classes, the Rust bindings and Chroma Cloud's client arguments.
_declare(globals(), "chromadb", "AsyncClientAPI AsyncClientCreator CloudClientArg RustClient")

__all__ = [
    "AdminAPI",
    "AdminClientCreator",
    "ClientAPI",
    "ClientCreator",
    "BoolInvertedIndexConfig",
    "Cmek",
    "CollectionMetadata",
    "FloatInvertedIndexConfig",
    "FtsIndexConfig",
    "HnswIndexConfig",
    "IntInvertedIndexConfig",
    "K",
    "Key",
    "Knn",
    "Metadatas",
    "ReadLevel",
    "Rrf",
    "Schema",
    "Search",
    "SpannIndexConfig",
    "SparseEmbeddingFunction",
    "SparseVector",
    "SparseVectorIndexConfig",
    "SparseVectors",
    "StringInvertedIndexConfig",
    "TokenTransportHeader",
    "URI",
    "URIs",
    "UpdateCollectionMetadata",
    "UpdateMetadata",
    "VectorIndexConfig",
    "install_as_chromadb",
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "AdminClient",
    "AsyncHttpClient",
    "CHROMA_API_VERSION",
    "Client",
    "CloudClient",
    "Collection",
    "Documents",
    "EmbeddingFunction",
    "Embeddings",
    "EphemeralClient",
    "GetResult",
    "HttpClient",
    "IDs",
    "Include",
    "IncludeEnum",
    "Metadata",
    "PersistentClient",
    "QueryResult",
    "Settings",
    "UserIdentity",
    "Where",
    "WhereDocument",
    "__version__",
    "configure",
    "errors",
    "get_settings",
]


def __getattr__(name: str) -> object:
    """``EmbeddingFunction`` and ``utils`` are loaded on first use, with the embedding-function package."""
    if name in ("EmbeddingFunction", "SparseEmbeddingFunction"):
        from sedimentdb.utils import embedding_functions

        return getattr(embedding_functions, name)
    if name == "utils":  # Chroma's package imports it, so `chromadb.utils.embedding_functions.X` works
        import sedimentdb.utils.embedding_functions  # noqa: F401 (binds sedimentdb.utils and its submodule)

        return sys.modules["sedimentdb.utils"]
    if name in ("HttpClient", "AsyncHttpClient", "CloudClient"):
        # Loaded on first use: the HTTP clients need httpx, which embedded users may not have.
        from sedimentdb.http import factories

        return getattr(factories, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
