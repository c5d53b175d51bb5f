"""``chromadb.api.client``: the client classes, and ``SharedSystemClient`` whose cache tests clear."""

from sedimentdb import system
from sedimentdb.client import AdminClient, Client


class SharedSystemClient:
    """Chroma's holder of the process-wide system cache; here only its class method remains."""

    @staticmethod
    def clear_system_cache() -> None:
        """Forget (and close) every shared engine of this process."""
        system.clear()


__all__ = ["AdminClient", "Client", "SharedSystemClient"]
