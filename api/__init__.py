"""SedimentDB: Chroma's API on a crash-safe, log-structured engine.

This folder (``api/`` in the repository) *is* the package ``sedimentdb``; ``engine/`` is
``sedimentdb.engine`` and ``tools/`` is ``sedimentdb.tools``. Users write
``import sedimentdb as chromadb`` and Chroma code runs.
"""

__version__ = "0.1.0"
