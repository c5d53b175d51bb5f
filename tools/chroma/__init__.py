"""A reader of Chroma persist directories that needs no chromadb: SQLite, numpy, and the HNSW files.

It imports nothing from the engine (import-linter checks it), so it is usable on its own:
``read_chroma(path)`` returns the tenants, databases, collections and records the directory
holds, exactly as Chroma's ``get(include=[...])`` returns them.
"""

from sedimentdb.tools.chroma.reader import ChromaCollection, ChromaSnapshot, read_chroma
from sedimentdb.tools.chroma.source_errors import (
    ChromaSourceError,
    DamagedSourceError,
    SourceBusyError,
    UnsupportedFormatError,
)

__all__ = ["ChromaCollection", "ChromaSnapshot", "ChromaSourceError", "DamagedSourceError", "SourceBusyError",
           "UnsupportedFormatError", "read_chroma"]
