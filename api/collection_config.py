"""A collection's stored configuration: HNSW parameters, distance space and embedding function.

Chroma takes HNSW settings two ways, the legacy ``hnsw:*`` metadata keys and
``configuration={"hnsw": {...}}``; this module applies its precedence rule and defaults once,
at creation, and stores the result as ``configuration_json`` (chroma-api.md §7), which is what
the engine reads to build indexes. Only the runtime parameters may change afterwards.
"""

from __future__ import annotations

import json
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
CREATE_FIELDS = ("space", "ef_construction", "ef_search", "max_neighbors", "num_threads", "resize_factor",
                 "sync_threshold", "batch_size")
UPDATE_FIELDS = ("ef_search", "max_neighbors", "num_threads", "resize_factor", "sync_threshold", "batch_size")
STORED = ("space", "ef_construction", "ef_search", "max_neighbors", "resize_factor", "sync_threshold")
_METADATA_ERROR = "Failed to parse hnsw parameters from segment metadata"


def hnsw_defaults() -> dict[str, Any]:
    """Chroma's defaults for every HNSW parameter."""
    return {"space": "l2", "ef_construction": 100, "max_neighbors": 16, "ef_search": 100,
            "num_threads": os.cpu_count() or 1, "resize_factor": 1.2, "batch_size": 100,
            "sync_threshold": 1000}


def _serde_type_error(value: Any, expected: str) -> str | None:
    """The message serde gives when ``value`` does not deserialize as ``expected``, or None."""
    if expected == "space":
        if isinstance(value, str) and value in SPACES:
            return None
        shown = f"`{value}`" if isinstance(value, str) else json.dumps(value)
        return f"unknown variant {shown}, expected one of `l2`, `cosine`, `ip`"
    if isinstance(value, bool):
        return f"invalid type: boolean `{json.dumps(value)}`, expected {expected}"
    if isinstance(value, str):
        return f'invalid type: string "{value}", expected {expected}'
    if expected == "f64":
        return None if isinstance(value, (int, float)) else f"invalid type: {json.dumps(value)}, expected f64"
    if isinstance(value, float):
        return f"invalid type: floating point `{value}`, expected usize"
    if not isinstance(value, int):
        return f"invalid type: {json.dumps(value)}, expected usize"
    return None if value >= 0 else f"invalid value: integer `{value}`, expected usize"


def parse_hnsw_json(params: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Check an explicit ``{"hnsw": {...}}`` the way the server deserializes it, with its messages.

    Serde reports the line and column where parsing stopped in the JSON the client sent,
    ``{"hnsw": {...}, ...}``; the column is recomputed from that same text.
    """
    if not isinstance(params, dict):
        raise errors.InvalidArgumentError(f"invalid type: {json.dumps(params)}, expected struct HnswConfiguration")
    text = '{"hnsw": {'
    for key, value in params.items():
        text += json.dumps(key)
        if key not in allowed:
            expected = ", ".join(f"`{k}`" for k in allowed)
            raise errors.InvalidArgumentError(
                f"unknown field `{key}`, expected one of {expected} at line 1 column {len(text)}"
            )
        text += ": " + json.dumps(value)
        problem = _serde_type_error(value, "space" if key == "space" else "f64" if key == "resize_factor" else "usize")
        if problem:
            raise errors.InvalidArgumentError(f"{problem} at line 1 column {len(text)}")
        text += ", "
    return dict(params)


def hnsw_from_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The HNSW parameters spelled as legacy ``hnsw:*`` metadata keys."""
    found = {}
    for key, value in (metadata or {}).items():
        if isinstance(key, str) and key.startswith("hnsw:"):
            if key not in LEGACY_KEYS:
                raise errors.InvalidArgumentError(_METADATA_ERROR)
            found[LEGACY_KEYS[key]] = value
    for key, value in found.items():
        expected = "space" if key == "space" else "f64" if key == "resize_factor" else "usize"
        too_small = key in ("batch_size", "sync_threshold") and isinstance(value, int) and value < 2
        if _serde_type_error(value, expected) or too_small:
            raise errors.InvalidArgumentError(_METADATA_ERROR)
    return found


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
        # Single-node Chroma serves a SPANN configuration with an HNSW index: it keeps the space
        # and leaves every HNSW parameter at its default (SPANN's ef/M mean something else).
        return {"space": spann["space"]} if isinstance(spann, dict) and "space" in spann else {}
    return parse_hnsw_json(hnsw, CREATE_FIELDS) if hnsw is not None else None


def build_configuration(
    configuration: dict[str, Any] | None, metadata: dict[str, Any] | None, embedding_function: Any
) -> dict[str, Any]:
    """The ``configuration_json`` stored for a new collection."""
    configuration = dict(configuration or {})
    legacy = hnsw_from_metadata(metadata)
    spann = configuration.get("spann")
    if isinstance(spann, dict) and spann.get("space") is not None:
        # A SPANN configuration that names its space wins over every legacy hnsw:* key, as in
        # Chroma single-node (found by Chroma's property/test_schema: metadata
        # {"hnsw:resize_factor": 1.0} with {"spann": {"space": "l2"}} keeps resize_factor 1.2).
        legacy = {}
    chosen = _choose_hnsw(_explicit_hnsw(configuration), legacy)
    defaults = hnsw_defaults()
    hnsw = dict(chosen or {})
    if "space" not in hnsw:
        hnsw["space"] = ef_space_default(embedding_function) or defaults["space"]
    # Like Chroma 1.x, only the parameters its index uses are stored (not num_threads/batch_size).
    stored = {k: hnsw.get(k, defaults[k]) for k in STORED}
    return {"hnsw": stored, "spann": None, "embedding_function": persisted_ef_config(embedding_function)}


def updated_configuration(existing: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``existing`` with the runtime HNSW parameters of ``update`` applied.

    Chroma accepts ``max_neighbors``, ``num_threads`` and ``batch_size`` here but stores none
    of them; the graph's degree is fixed at creation.
    """
    if update.get("hnsw") is not None and update.get("spann") is not None:
        raise ValueError("hnsw and spann cannot both be provided")
    result = dict(existing)
    changes = update.get("hnsw")
    if changes is not None:
        parsed = parse_hnsw_json(changes, UPDATE_FIELDS)
        kept = {k: v for k, v in parsed.items() if k in STORED and k != "max_neighbors"}
        result["hnsw"] = {**(existing.get("hnsw") or {}), **kept}
    return result


def space_of(configuration: dict[str, Any]) -> str:
    """The distance space a stored configuration names."""
    return str((configuration.get("hnsw") or {}).get("space", "l2"))
