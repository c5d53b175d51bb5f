"""Resolve a collection's distance space and HNSW parameters from its configuration.

Chroma accepts both ``configuration={"hnsw": {...}}`` and the legacy ``hnsw:*`` metadata keys;
configuration wins when both are present (the API layer applies Chroma's full precedence rule
before the collection is created, so this only has to read what was stored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sedimentdb.engine.engine_types import CollectionInfo

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
        ef_construction=_bounded(values["ef_construction"], 1, MAX_EF),
        ef_search=_bounded(values["ef_search"], 1, MAX_EF),
        max_neighbors=_bounded(values["max_neighbors"], 2, MAX_NEIGHBORS),
        num_threads=_bounded(threads, 1, MAX_THREADS),
    )


# Chroma stores any usize (0 .. 2^64-1) for these; the index cannot be built with all of them
# (M = 1 divides by log 1, 0 is no search at all, a size_t overflows, a huge M allocates M
# links per row). Out-of-range values are used at the nearest bound instead, so a collection
# Chroma accepts never wedges compaction; the stored configuration is left as given.
MAX_EF = (1 << 31) - 1
MAX_NEIGHBORS = 10_000  # hnswlib's own warning threshold
MAX_THREADS = 1024


def _bounded(value: Any, low: int, high: int) -> int:
    return min(max(int(value), low), high)
