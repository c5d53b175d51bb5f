"""Chroma's ``index_metadata.pickle``: the id map of an HNSW segment, unpickled safely.

Chroma 1.x (Rust, ``serde_pickle``) writes a plain dict; 0.4-0.6 (Python) pickled a
``PersistentData`` object. Both hold ``dimensionality``, ``total_elements_added``,
``id_to_label``, ``label_to_id``, ``id_to_seq_id`` and, in older files, ``max_seq_id``.
A pickle can run any code on load, so this uses a restricted unpickler: no global is
resolved except Chroma's ``PersistentData`` name, which becomes an inert attribute holder.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from typing import Any

from sedimentdb.tools.chroma.source_errors import DamagedSourceError

PICKLE_FILE = "index_metadata.pickle"
PERSISTENT_DATA = ("chromadb.segment.impl.vector.local_persistent_hnsw", "PersistentData")


class _PersistentData:
    """Stands in for Chroma's class: receives the pickled attributes, runs no code."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == PERSISTENT_DATA:
            return _PersistentData
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


@dataclass
class IdMap:
    """The id map of one HNSW segment."""

    id_to_label: dict[str, int]
    dimensionality: int | None
    total_elements_added: int
    legacy_max_seq_id: int | None
    written_by_python: bool


def read_id_map(directory: str) -> IdMap | None:
    """The id map in ``directory``, or None if the file does not exist (nothing persisted yet)."""
    path = os.path.join(directory, PICKLE_FILE)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw)).load()
    except Exception as exc:  # truncation, garbage, or a global we refuse: all mean a bad file
        raise DamagedSourceError(f"HNSW id map cannot be read: {type(exc).__name__}: {exc}", path=path) from None
    python = isinstance(obj, _PersistentData)
    fields = obj.__dict__ if python else obj
    if not isinstance(fields, dict) or not isinstance(fields.get("id_to_label"), dict):
        raise DamagedSourceError(f"HNSW id map holds {type(obj).__name__}, not Chroma's id map", path=path)
    id_to_label = fields["id_to_label"]
    # The types present, collected in C (a check per entry cost 0.5 s at 100k records).
    if not all(issubclass(t, str) for t in set(map(type, id_to_label))) or \
            not all(issubclass(t, int) for t in set(map(type, id_to_label.values()))):
        raise DamagedSourceError("HNSW id map has a non-string id or a non-integer label", path=path)
    legacy = fields.get("max_seq_id")
    dim = fields.get("dimensionality")
    return IdMap(dict(id_to_label), dim if isinstance(dim, int) else None,
                 int(fields.get("total_elements_added") or 0), legacy if isinstance(legacy, int) else None, python)
