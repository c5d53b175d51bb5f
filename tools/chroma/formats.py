"""Which Chroma on-disk formats this reader knows, told apart by the SQLite migrations applied.

Chroma records every schema migration it ran in the ``migrations`` table (dir, version). The
highest version per dir identifies the layout; the HNSW id map tells the Rust 1.x writer (a
plain dict) from the Python 0.x one (a ``PersistentData`` object).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sedimentdb.tools.chroma.source_errors import UnsupportedFormatError

# Highest migration per dir that each known release line applies, newest first.
KNOWN = [
    ("chromadb 1.5", {"sysdb": 10, "metadb": 6, "embeddings_queue": 2}),
    ("chromadb 1.1-1.4", {"sysdb": 10, "metadb": 5, "embeddings_queue": 2}),
    ("chromadb 1.0", {"sysdb": 9, "metadb": 5, "embeddings_queue": 2}),
    ("chromadb 0.6", {"sysdb": 9, "metadb": 4, "embeddings_queue": 2}),
]
NEWEST = KNOWN[0]


@dataclass
class SourceFormat:
    """What wrote the directory: a release line and its migration levels."""

    label: str
    levels: dict[str, int]

    @property
    def has_arrays(self) -> bool:
        """Whether list metadata values live in ``embedding_metadata_array`` (1.5+)."""
        return self.levels.get("metadb", 0) >= 6

    @property
    def python_era(self) -> bool:
        """Written by the Python 0.x engine: its ``get`` returns log-replayed vectors as written
        (they sit in a brute-force buffer until a batch fills) and ``None`` for a metadata map
        that holds only reserved keys (a uri)."""
        return self.label.startswith("chromadb 0.")

    @property
    def has_schema(self) -> bool:
        """Whether collections carry ``schema_str`` (1.1+)."""
        return self.levels.get("sysdb", 0) >= 10


def _describe(levels: dict[str, int]) -> str:
    return ", ".join(f"{d} migration {v}" for d, v in sorted(levels.items())) or "no migrations"


def detect(conn: sqlite3.Connection, path: str) -> SourceFormat:
    """The format of the open database; UnsupportedFormatError naming what was seen otherwise."""
    try:
        rows = conn.execute("SELECT dir, MAX(version) FROM migrations GROUP BY dir").fetchall()
    except sqlite3.DatabaseError as exc:
        raise UnsupportedFormatError(f"not a Chroma database: it has no readable migrations table ({exc})",
                                     path=path) from None
    levels = {str(d): int(v) for d, v in rows}
    for label, known in KNOWN:
        if levels == known:
            return SourceFormat(label, levels)
    newer = any(levels.get(d, 0) > v for d, v in NEWEST[1].items())
    why = (f"newer than {NEWEST[0]}.x, the newest layout this reader knows" if newer else
           "an older Chroma (0.x) or an unknown layout; supported: " + ", ".join(k for k, _ in KNOWN))
    raise UnsupportedFormatError(f"this Chroma directory's format is not supported: it has {_describe(levels)} "
                                 f"({why})", path=path,
                                 hint="open it with a chromadb 1.x release and close it (that upgrades the "
                                      "layout), then retry" if not newer else "upgrade sedimentdb")
