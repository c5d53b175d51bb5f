"""A collection's stored configuration: HNSW parameters, distance space and embedding function.

Chroma takes HNSW settings two ways, the legacy ``hnsw:*`` metadata keys and
``configuration={"hnsw": {...}}``; this module applies its precedence rule and defaults once,
at creation, and stores the result as ``configuration_json`` (chroma-api.md §7), which is what
the engine reads to build indexes. Only the runtime parameters may change afterwards.
"""

from __future__ import annotations

import os
from typing import Any

from sedimentdb import errors
from sedimentdb.embedding import ef_space_default, persisted_ef_config

SPACES = ("l2", "ip", "cosine")
LEGACY_KEYS = {
    "hnsw:space": "space",
    "hnsw:construction_ef": "ef_construction",
    "hnsw:M": "max_neighbors",
    "hnsw:search_ef": "ef_search",
    "hnsw:num_threads": "num_threads",
    "hnsw:resize_factor": "resize_factor",
    "hnsw:batch_size": "batch_size",
    "hnsw:sync_threshold": "sync_threshold",
}
MUTABLE = ("ef_search", "num_threads", "resize_factor", "batch_size", "sync_threshold")
STORED = ("space", "ef_construction", "ef_search", "max_neighbors", "resize_factor", "sync_threshold")
_MINIMUM = {"ef_construction": 1, "max_neighbors": 1, "ef_search": 1, "num_threads": 1,
            "batch_size": 2, "sync_threshold": 2}


def hnsw_defaults() -> dict[str, Any]:
    """Chroma's defaults for every HNSW parameter."""
    return {"space": "l2", "ef_construction": 100, "max_neighbors": 16, "ef_search": 100,
            "num_threads": os.cpu_count() or 1, "resize_factor": 1.2, "batch_size": 100,
            "sync_threshold": 1000}


def _invalid(detail: str) -> errors.ChromaError:
    return errors.InvalidArgumentError(f"Invalid HNSW parameters: {detail}")


def validate_hnsw(params: dict[str, Any]) -> dict[str, Any]:
    """Check names and values of HNSW parameters (any subset)."""
    known = set(hnsw_defaults())
    for key, value in params.items():
        if key not in known:
            raise _invalid(f"unknown field `{key}`")
        if key == "space":
            if value not in SPACES:
                raise _invalid(f"space must be one of {', '.join(SPACES)}, got {value}")
        elif key == "resize_factor":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise _invalid(f"resize_factor must be a positive number, got {value}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < _MINIMUM[key]:
            raise _invalid(f"{key} must be an integer of at least {_MINIMUM[key]}, got {value}")
    return params


def hnsw_from_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The HNSW parameters spelled as legacy ``hnsw:*`` metadata keys."""
    found = {}
    for key, value in (metadata or {}).items():
        if isinstance(key, str) and key.startswith("hnsw:"):
            if key not in LEGACY_KEYS:
                raise _invalid(f"unknown field `{key}`")
            found[LEGACY_KEYS[key]] = value
    return validate_hnsw(found)


def _choose_hnsw(explicit: dict[str, Any] | None, legacy: dict[str, Any]) -> dict[str, Any] | None:
    """Chroma's precedence: metadata if no config, or if the config only restates the defaults."""
    if explicit is None:
        return dict(legacy) if legacy else None
    if legacy:
        defaults = hnsw_defaults()
        all_defaults = all(defaults.get(k) == v for k, v in explicit.items() if k != "num_threads")
        if all_defaults and any(defaults.get(k) != v for k, v in legacy.items()):
            return dict(legacy)
    return dict(explicit)


def _explicit_hnsw(configuration: dict[str, Any]) -> dict[str, Any] | None:
    hnsw, spann = configuration.get("hnsw"), configuration.get("spann")
    if hnsw is not None and spann is not None:
        raise ValueError("hnsw and spann cannot both be provided")
    if spann is not None:
        # Local Chroma serves SPANN collections with an HNSW index: keep what carries over.
        return {k: spann[k] for k in ("space", "ef_construction", "ef_search", "max_neighbors") if k in spann}
    if hnsw is not None and not isinstance(hnsw, dict):
        raise _invalid(f"expected a mapping, got {hnsw}")
    return validate_hnsw(dict(hnsw)) if hnsw is not None else None


def build_configuration(
    configuration: dict[str, Any] | None, metadata: dict[str, Any] | None, embedding_function: Any
) -> dict[str, Any]:
    """The ``configuration_json`` stored for a new collection."""
    configuration = dict(configuration or {})
    legacy = hnsw_from_metadata(metadata)
    chosen = _choose_hnsw(_explicit_hnsw(configuration), legacy)
    defaults = hnsw_defaults()
    hnsw = dict(chosen or {})
    if "space" not in hnsw:
        hnsw["space"] = ef_space_default(embedding_function) or defaults["space"]
    stored = {k: hnsw.get(k, defaults[k]) for k in STORED}
    stored.update({k: hnsw[k] for k in ("num_threads", "batch_size") if k in hnsw})
    return {"hnsw": stored, "spann": None, "embedding_function": persisted_ef_config(embedding_function)}


def updated_configuration(existing: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``existing`` with the runtime HNSW parameters of ``update`` applied (others refused)."""
    if update.get("hnsw") is not None and update.get("spann") is not None:
        raise ValueError("hnsw and spann cannot both be provided")
    result = dict(existing)
    changes = update.get("hnsw")
    if changes:
        frozen = [k for k in changes if k not in MUTABLE]
        if frozen:
            raise _invalid(f"{', '.join(frozen)} cannot be changed after the collection is created")
        result["hnsw"] = {**(existing.get("hnsw") or {}), **validate_hnsw(dict(changes))}
    return result


def space_of(configuration: dict[str, Any]) -> str:
    """The distance space a stored configuration names."""
    return str((configuration.get("hnsw") or {}).get("space", "l2"))
