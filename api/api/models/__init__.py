"""``chromadb.api.models``."""
