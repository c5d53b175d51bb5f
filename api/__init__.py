"""SedimentDB: Chroma's API on a crash-safe, log-structured engine.

This folder (``api/`` in the repository) *is* the package ``sedimentdb``; ``engine/`` is
``sedimentdb.engine`` and ``tools/`` is ``sedimentdb.tools``. Users write
``import sedimentdb as chromadb`` and Chroma code runs.
"""

__version__ = "0.1.0"

from sedimentdb import errors  # noqa: E402
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
from sedimentdb.types import (  # noqa: E402
    Documents,
    Embeddings,
    GetResult,
    IDs,
    Include,
    IncludeEnum,
    Metadata,
    QueryResult,
    UserIdentity,
    Where,
    WhereDocument,
)

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "AdminClient",
    "AsyncHttpClient",
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
    """``EmbeddingFunction`` is loaded on first use, with the embedding-function package."""
    if name == "EmbeddingFunction":
        from sedimentdb.utils.embedding_functions import EmbeddingFunction

        return EmbeddingFunction
    if name in ("HttpClient", "AsyncHttpClient", "CloudClient"):
        # Loaded on first use: the HTTP clients need httpx, which embedded users may not have.
        from sedimentdb.http import factories

        return getattr(factories, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
