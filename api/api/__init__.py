"""``chromadb.api``: where Chroma code imports ``ClientAPI``, ``AdminAPI`` and the type module from."""

from sedimentdb.client import AdminClient as AdminAPI
from sedimentdb.client import Client as ClientAPI
from sedimentdb.collection import Collection

ServerAPI = ClientAPI

__all__ = ["AdminAPI", "ClientAPI", "Collection", "ServerAPI"]
