"""SedimentDB's storage engine (installed as ``sedimentdb.engine``).

Writes settle into a checksummed write-ahead log (``wal``); a compactor (``compactor``)
turns the log into immutable, indexed segments (``segments``) published by numbered
manifests; readers merge the in-memory log tail with the segments (``database``).

The byte formats are specified in ``wal/FORMAT.md``, ``segments/FORMAT.md`` and
``compactor/FORMAT.md``; the design in ``docs/ARCHITECTURE.md`` at the repository root.
Layering: ``wal`` knows nothing of ``segments`` or ``compactor``; nothing here imports the API.
"""
