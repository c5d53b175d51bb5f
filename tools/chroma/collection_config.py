"""A Chroma collection's vector-index settings, wherever its version keeps them.

* 1.1+ keeps them in ``collections.schema_str``: ``keys["#embedding"].float_list.vector_index.config``
  (falling back to ``defaults.float_list.vector_index.config``) holds ``space``, ``hnsw`` and
  ``embedding_function``; ``config_json_str`` is ``{}``.
* 1.0 keeps them in ``config_json_str``: ``{"vector_index": {"hnsw": {...}}, "embedding_function": {...}}``
  (``{"hnsw": {...}}`` at the top level is read too).
* 0.5/0.6 write ``{"hnsw_configuration": {...defaults...}}`` but build the index from the legacy
  ``hnsw:*`` collection metadata, which is what is read for them.
* Legacy ``hnsw:*`` collection metadata fills in what neither names (Chroma's own fallback).

The result is what Chroma's ``collection.configuration_json`` shows: the space and the six
stored HNSW parameters, plus the embedding function's persisted description.
"""

from __future__ import annotations

from typing import Any

HNSW_DEFAULTS: dict[str, Any] = {"ef_construction": 100, "ef_search": 100, "max_neighbors": 16,
                                 "resize_factor": 1.2, "sync_threshold": 1000}
LEGACY_KEYS = {"space": "hnsw:space", "ef_construction": "hnsw:construction_ef", "ef_search": "hnsw:search_ef",
               "max_neighbors": "hnsw:M", "resize_factor": "hnsw:resize_factor",
               "sync_threshold": "hnsw:sync_threshold"}
SPACES = ("l2", "ip", "cosine")


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _schema_index(schema: Any) -> dict[str, Any] | None:
    for base in (_dig(schema, "keys", "#embedding"), _dig(schema, "defaults")):
        config = _dig(base, "float_list", "vector_index", "config")
        if isinstance(config, dict):
            return config
    return None


def index_configuration(config: dict[str, Any] | None, schema: Any,
                        metadata: dict[str, Any] | None) -> dict[str, Any]:
    """``{"hnsw": {space + 5 parameters}, "spann": None, "embedding_function": ... or None}``."""
    config = config if isinstance(config, dict) else {}
    meta = metadata or {}
    from_schema = _schema_index(schema)
    if from_schema is not None:
        hnsw = dict(from_schema.get("hnsw") or {})
        hnsw.setdefault("space", from_schema.get("space"))
        ef = from_schema.get("embedding_function")
    elif "hnsw_configuration" in config:
        # 0.5/0.6: this block is filled with defaults; the index is built from the hnsw:* metadata
        hnsw = {}
        ef = None
    else:
        hnsw = dict(_dig(config, "vector_index", "hnsw") or config.get("hnsw") or {})
        ef = config.get("embedding_function")
    out: dict[str, Any] = {}
    for key in ("space", *HNSW_DEFAULTS):
        value = hnsw.get(key)
        if value is None:
            value = meta.get(LEGACY_KEYS[key])
        out[key] = value if value is not None else HNSW_DEFAULTS.get(key, "l2")
    if out["space"] not in SPACES:
        out["space"] = "l2"
    return {"hnsw": out, "spann": None, "embedding_function": ef if isinstance(ef, dict) else None}
