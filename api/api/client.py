"""``chromadb.api.client``: the client classes, and ``SharedSystemClient`` whose cache tests clear."""

from sedimentdb import system
from sedimentdb.api import (  # noqa: F401  (Chroma re-exports these here)
    AdminAPI,
    ClientAPI,
    CreateCollectionConfiguration,
    ServerAPI,
    UpdateCollectionConfiguration,
)
from sedimentdb.api.types import *  # noqa: F403
from sedimentdb.api.types import Schema  # noqa: F401
from sedimentdb.collection import Collection  # noqa: F401
from sedimentdb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings  # noqa: F401
from sedimentdb.errors import ChromaAuthError, ChromaError  # noqa: F401
from sedimentdb.local_clients import AdminClient, Client
from sedimentdb.types import Database, Tenant, UserIdentity  # noqa: F401
from sedimentdb.unimplemented import declare


class SharedSystemClient:
    """Chroma's holder of the process-wide system cache; here only its class method remains."""

    @staticmethod
    def clear_system_cache() -> None:
        """Forget (and close) every shared engine of this process."""
        system.clear()


declare(globals(), "chromadb.api.client", """
    System TracebackType maybe_set_tenant_and_database validate_embedding_function_conflict_on_create
    validate_embedding_function_conflict_on_get
""")


def __getattr__(name: str) -> object:
    """Embedding-function names, loaded on first use (as in :mod:`sedimentdb.types`)."""
    from sedimentdb.api import types

    return types.__getattr__(name)


__all__ = ["AdminClient", "Client", "SharedSystemClient"]
