"""Resolve a collection's distance space and HNSW parameters from its configuration.

Chroma accepts both ``configuration={"hnsw": {...}}`` and the legacy ``hnsw:*`` metadata keys;
configuration wins when both are present (the API layer applies Chroma's full precedence rule
before the collection is created, so this only has to read what was stored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sedimentdb.engine.types import CollectionInfo

_META_KEYS = {
    "space": "hnsw:space",
    "ef_construction": "hnsw:construction_ef",
    "ef_search": "hnsw:search_ef",
    "max_neighbors": "hnsw:M",
}
_DEFAULTS: dict[str, Any] = {"space": "l2", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16}


@dataclass(frozen=True)
class IndexSettings:
    """What the engine needs to build and search a collection's vector index."""

    space: str
    ef_construction: int
    ef_search: int
    max_neighbors: int
    num_threads: int


def index_settings(info: CollectionInfo) -> IndexSettings:
    """The settings stored for ``info``, with Chroma's defaults for anything unset."""
    conf = (info.configuration or {}).get("hnsw") or {}
    meta = info.metadata or {}
    values = {}
    for key, default in _DEFAULTS.items():
        if conf.get(key) is not None:
            values[key] = conf[key]
        elif meta.get(_META_KEYS[key]) is not None:
            values[key] = meta[_META_KEYS[key]]
        else:
            values[key] = default
    threads = conf.get("num_threads") or meta.get("hnsw:num_threads") or (os.cpu_count() or 1)
    return IndexSettings(
        space=str(values["space"]),
        ef_construction=int(values["ef_construction"]),
        ef_search=int(values["ef_search"]),
        max_neighbors=int(values["max_neighbors"]),
        num_threads=int(threads),
    )
