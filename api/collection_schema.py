"""A collection's schema (Chroma 1.5): which indexes exist, per value type and per metadata key.

Chroma 1.5 answers every collection with a ``schema``: defaults per value type plus overrides per
key, ``#document`` (full-text search) and ``#embedding`` (the vector index: space, embedding
function, HNSW parameters). Chroma's own client needs it: ``modify(configuration={"hnsw": ...})``
rewrites the schema it holds and fails when there is none.

A collection created without a schema reports Chroma single-node's default, built from its
configuration. A schema given at creation is merged over that default (the user's values win),
kept inside the stored configuration under :data:`SCHEMA_KEY` (never shown as configuration), and
its ``#embedding`` vector index supplies the space and embedding function when the configuration
does not. The vector-index parts of a reported schema always come from the configuration, so a
``modify`` of HNSW settings shows in both. Single-node SedimentDB builds HNSW indexes only: a
schema's ``spann`` settings are not kept (Chroma single-node keeps only the space, too).

Disabled indexes refuse filters as Chroma does (:func:`check_filters_allowed`); nothing is
unindexed underneath (filters are evaluated over the records), the refusal only keeps the API's
behaviour the same.
"""

from __future__ import annotations

import copy
from typing import Any

from sedimentdb import errors
from sedimentdb.collection_config import CREATE_FIELDS, hnsw_defaults

SCHEMA_KEY = "_schema"
DOCUMENT_KEY = "#document"
EMBEDDING_KEY = "#embedding"
# Chroma's names of metadata value types, in its schema and in its messages.
_TYPE_FIELDS = {"string": ("string_inverted_index", "Str"), "int": ("int_inverted_index", "Int"),
                "float": ("float_inverted_index", "Float"), "bool": ("bool_inverted_index", "Bool")}


def _hnsw_block(hnsw: dict[str, Any]) -> dict[str, Any]:
    """All seven HNSW parameters, as Chroma reports them in a schema."""
    defaults = hnsw_defaults()
    names = ("ef_construction", "max_neighbors", "ef_search", "num_threads", "batch_size", "sync_threshold",
             "resize_factor")
    return {name: hnsw.get(name, defaults[name]) for name in names}


def _vector_config(configuration: dict[str, Any], source_key: str | None) -> dict[str, Any]:
    hnsw = configuration.get("hnsw") or {}
    config: dict[str, Any] = {"space": hnsw.get("space", "l2")}
    if configuration.get("embedding_function") is not None:
        config["embedding_function"] = configuration["embedding_function"]
    if source_key is not None:
        config["source_key"] = source_key
    config["hnsw"] = _hnsw_block(hnsw)
    return config


def _index(enabled: bool, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"enabled": enabled, "config": config or {}}


def _template() -> dict[str, Any]:
    """Chroma single-node's default schema, without the vector-index configs (filled per collection)."""
    return {
        "defaults": {
            "string": {"fts_index": _index(False), "string_inverted_index": _index(True)},
            "float_list": {"vector_index": _index(False)},
            "sparse_vector": {"sparse_vector_index": _index(
                False, {"embedding_function": {"type": "unknown"}, "bm25": False})},
            "int": {"int_inverted_index": _index(True)},
            "float": {"float_inverted_index": _index(True)},
            "bool": {"bool_inverted_index": _index(True)},
        },
        "keys": {
            DOCUMENT_KEY: {"string": {"fts_index": _index(True), "string_inverted_index": _index(False)}},
            EMBEDDING_KEY: {"float_list": {"vector_index": _index(True)}},
        },
    }


def _merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``, recursively for objects; anything else in ``override`` wins."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _get(tree: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return tree


def validate_schema(schema: Any) -> dict[str, Any]:
    """The schema a client sent, checked for shape (its own keys are Chroma's to define)."""
    if not isinstance(schema, dict):
        raise errors.InvalidArgumentError("Invalid schema: expected an object with 'defaults' and 'keys'")
    for part in ("defaults", "keys"):
        if part in schema and not isinstance(schema[part], dict):
            raise errors.InvalidArgumentError(f"Invalid schema: '{part}' must be an object")
    return schema


def reconcile(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema given at creation, merged over the default: what is stored."""
    merged = _merge(_template(), {k: schema[k] for k in ("defaults", "keys") if k in schema})
    return merged


def embedding_settings(schema: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The HNSW parameters (``space`` included) and the embedding function a schema's vector index names."""
    vector = _get(schema, "keys", EMBEDDING_KEY, "float_list", "vector_index", "config") or \
        _get(schema, "defaults", "float_list", "vector_index", "config") or {}
    hnsw = dict(vector.get("hnsw") or {})
    if vector.get("space") is not None:
        hnsw["space"] = vector["space"]
    return hnsw, vector.get("embedding_function")


def schema_json(configuration: dict[str, Any]) -> dict[str, Any]:
    """The schema to report for a collection whose stored configuration is ``configuration``."""
    stored = configuration.get(SCHEMA_KEY)
    schema = copy.deepcopy(stored) if isinstance(stored, dict) else _template()
    schema["defaults"].setdefault("float_list", {}).setdefault("vector_index", _index(False))
    schema["defaults"]["float_list"]["vector_index"]["config"] = _vector_config(configuration, None)
    embedding = schema["keys"].setdefault(EMBEDDING_KEY, {}).setdefault("float_list", {})
    embedding.setdefault("vector_index", _index(True))["config"] = _vector_config(configuration, DOCUMENT_KEY)
    return schema


def discover_keys(configuration: dict[str, Any], metadatas: Any) -> dict[str, Any] | None:
    """The stored schema plus the metadata keys first seen in ``metadatas``, or None if none is new.

    Chroma single-node adds every new (key, value type) a write brings to the schema, with that
    type's default indexes, so a schema lists the keys a collection has held (not the engine's
    concern: filters work on every key regardless).
    """
    stored = configuration.get(SCHEMA_KEY)
    schema = stored if isinstance(stored, dict) else None
    added: dict[str, set[str]] = {}
    for metadata in metadatas or []:
        for key, value in (metadata or {}).items():
            if key.startswith(("#", "chroma:")):
                continue
            known = _get(schema, "keys", key) or {}
            for value_type in set(_value_types(value)) - set(known):
                added.setdefault(key, set()).add(value_type)
    if not added:
        return None
    schema = copy.deepcopy(schema) if schema is not None else reconcile({})
    for key, value_types in added.items():
        entry = schema["keys"].setdefault(key, {})
        for value_type in value_types:
            entry[value_type] = copy.deepcopy(schema["defaults"].get(value_type) or {})
    return schema


def public_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """The configuration as clients see it (the schema is reported on its own)."""
    return {k: v for k, v in configuration.items() if k != SCHEMA_KEY}


def _enabled(schema: dict[str, Any], key: str, value_type: str) -> bool:
    index = _TYPE_FIELDS[value_type][0]
    flag = _get(schema, "keys", key, value_type, index, "enabled")
    if flag is None:
        flag = _get(schema, "defaults", value_type, index, "enabled")
    return flag is not False


def _value_types(value: Any) -> list[str]:
    if isinstance(value, dict) and value.get("#type") == "sparse_vector" or type(value).__name__ == "SparseVector":
        return ["sparse_vector"]
    if isinstance(value, dict):
        return [t for operand in value.values() for t in _value_types(operand)]
    if isinstance(value, list):
        return [t for item in value for t in _value_types(item)]
    if isinstance(value, bool):
        return ["bool"]
    if isinstance(value, int):
        return ["int"]
    if isinstance(value, float):
        return ["float"]
    if isinstance(value, str):
        return ["string"]
    return []


def _check_where(schema: dict[str, Any], where: Any) -> None:
    if not isinstance(where, dict):
        return
    for key, value in where.items():
        if key in ("$and", "$or"):
            for clause in value if isinstance(value, list) else []:
                _check_where(schema, clause)
            continue
        if key == DOCUMENT_KEY:
            _check_document(schema, value)
            continue
        for value_type in _value_types(value):
            if value_type in _TYPE_FIELDS and not _enabled(schema, key, value_type):
                raise errors.InvalidArgumentError(
                    f"Cannot filter using metadata key '{key}' with type '{_TYPE_FIELDS[value_type][1]}' "
                    "because indexing is disabled"
                )


def _check_document(schema: dict[str, Any], where_document: Any) -> None:
    if where_document and _get(schema, "keys", DOCUMENT_KEY, "string", "fts_index", "enabled") is False:
        raise errors.InvalidArgumentError("Cannot filter using full-text search because FTS indexing is disabled")


def check_filters_allowed(configuration: dict[str, Any], where: Any, where_document: Any) -> None:
    """InvalidArgumentError, in Chroma's words, if a filter needs an index the schema disabled."""
    schema = configuration.get(SCHEMA_KEY)
    if not isinstance(schema, dict):
        return  # the default schema indexes everything a filter can use
    _check_where(schema, where)
    _check_document(schema, where_document)


def _is_default_ef(ef: Any) -> bool:
    if ef is None:
        return True
    if isinstance(ef, dict):
        return ef.get("type") == "legacy" or (ef.get("type") == "known" and ef.get("name") == "default")
    name = getattr(ef, "name", None)
    return callable(name) and name() == "default"


def _hnsw_is_default(hnsw: Any) -> bool:
    defaults = hnsw_defaults()
    return hnsw is None or (isinstance(hnsw, dict) and all(defaults.get(k) == v for k, v in hnsw.items()))


def _configuration_is_default(configuration: dict[str, Any]) -> bool:
    """Chroma's test: default embedding function, no SPANN, every HNSW parameter (space too) at its default."""
    return (_is_default_ef(configuration.get("embedding_function")) and configuration.get("spann") is None
            and _hnsw_is_default(configuration.get("hnsw")))


def _schema_is_default(schema: dict[str, Any]) -> bool:
    """Whether a reconciled schema only restates the default (vector settings at their defaults)."""
    bare = copy.deepcopy(schema)
    vectors = [_get(bare, "defaults", "float_list", "vector_index"),
               _get(bare, "keys", EMBEDDING_KEY, "float_list", "vector_index")]
    for vector in vectors:
        config = vector.get("config", {}) if isinstance(vector, dict) else {}
        hnsw = dict(config.get("hnsw") or {})
        if config.get("space") is not None:
            hnsw["space"] = config["space"]
        if not (_is_default_ef(config.get("embedding_function")) and config.get("spann") is None
                and _hnsw_is_default(hnsw)):
            return False
        if isinstance(vector, dict):
            vector["config"] = {}
    return bare == _template()


def apply_schema(schema: Any, configuration: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The create call's ``configuration`` completed from ``schema``, and the schema to store.

    Chroma's rule: a default configuration (Chroma's client always sends one, with the default
    embedding function and space) leaves the schema in charge: its ``#embedding`` index gives the
    space, the HNSW parameters and the embedding function. A non-default configuration with a
    non-default schema is refused.
    """
    if schema is None:
        return configuration, None
    if hasattr(schema, "serialize_to_json"):  # a Schema object (embedded callers)
        schema = schema.serialize_to_json()
    # Chroma single-node refuses an enabled sparse vector index ("Sparse vector indexing is not
    # enabled in local"); SedimentDB builds it (issue 19, docs/COMPATIBILITY.md).
    stored = reconcile(validate_schema(schema))
    if not _configuration_is_default(configuration):
        if not _schema_is_default(stored):
            raise errors.InvalidArgumentError("Cannot set both collection config and schema simultaneously")
        return configuration, stored
    hnsw, ef = embedding_settings(stored)
    configuration = dict(configuration)
    configuration["hnsw"] = {k: v for k, v in hnsw.items() if k in CREATE_FIELDS} or None
    configuration["spann"] = None
    if ef is not None:
        configuration["embedding_function"] = ef
    return configuration, stored
