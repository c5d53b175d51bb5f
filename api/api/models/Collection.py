"""``chromadb.api.models.Collection``: where Chroma code imports ``Collection`` from."""

from sedimentdb.collection import Collection

__all__ = ["Collection"]
