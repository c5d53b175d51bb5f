"""Chroma 1.5's collection ``Schema``, ``SparseVector``, ``Cmek`` and the index-config classes.

Same names, attributes and JSON as ``chromadb.Schema.serialize_to_json()`` /
``deserialize_from_json()``: a schema is ``{"defaults": <value types>, "keys": {key: <value
types>}, "cmek"?: {...}}``, where value types map a value-type name (``string``, ``float_list``,
``sparse_vector``, ``int``, ``float``, ``bool``) to its indexes, each ``{"enabled": bool,
"config": {...}}``. A new ``Schema()`` holds Chroma's defaults plus the ``#document`` (full-text
on) and ``#embedding`` (vector index on, sourced from ``#document``) keys.

The tables below (``_VALUE_KINDS``) drive both directions, so one place says which index lives
under which value type. This module only describes and (de)serializes a schema; what the
engine does with one is for the collection code.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional, Union

from sedimentdb import embedding

STRING_VALUE_NAME = "string"
INT_VALUE_NAME = "int"
BOOL_VALUE_NAME = "bool"
FLOAT_VALUE_NAME = "float"
FLOAT_LIST_VALUE_NAME = "float_list"
SPARSE_VECTOR_VALUE_NAME = "sparse_vector"
FTS_INDEX_NAME = "fts_index"
VECTOR_INDEX_NAME = "vector_index"
SPARSE_VECTOR_INDEX_NAME = "sparse_vector_index"
STRING_INVERTED_INDEX_NAME = "string_inverted_index"
INT_INVERTED_INDEX_NAME = "int_inverted_index"
FLOAT_INVERTED_INDEX_NAME = "float_inverted_index"
BOOL_INVERTED_INDEX_NAME = "bool_inverted_index"
HNSW_INDEX_NAME = "hnsw_index"
SPANN_INDEX_NAME = "spann_index"
DOCUMENT_KEY = "#document"
EMBEDDING_KEY = "#embedding"
TYPE_KEY = "#type"
SPARSE_VECTOR_TYPE_VALUE = "sparse_vector"


# ---- sparse vectors ---------------------------------------------------------------------


@dataclass
class SparseVector:
    """A sparse vector: strictly ascending non-negative ``indices``, their ``values``, optional ``labels``."""

    indices: list[int]
    values: list[float]
    labels: Optional[list[str]] = None

    def __post_init__(self) -> None:
        for attr in ("indices", "values") + (("labels",) if self.labels is not None else ()):
            if not isinstance(getattr(self, attr), list):
                raise ValueError(f"Expected SparseVector {attr} to be a list, got {type(getattr(self, attr)).__name__}")
        if len(self.indices) != len(self.values):
            raise ValueError(f"SparseVector indices and values must have the same length, "
                             f"got {len(self.indices)} indices and {len(self.values)} values")
        if self.labels is not None and len(self.labels) != len(self.indices):
            raise ValueError(f"SparseVector labels must have the same length as indices and values, "
                             f"got {len(self.labels)} labels, {len(self.indices)} indices")
        for i, idx in enumerate(self.indices):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise ValueError(f"SparseVector indices must be integers, got {type(idx).__name__} at position {i}")
            if idx < 0:
                raise ValueError(f"SparseVector indices must be non-negative, got {idx} at position {i}")
            if i and idx <= self.indices[i - 1]:
                raise ValueError("SparseVector indices must be sorted in strictly ascending order, "
                                 f"found indices[{i}]={idx} <= indices[{i - 1}]={self.indices[i - 1]}")
        for i, val in enumerate(self.values):
            if not isinstance(val, (int, float)) or isinstance(val, bool):
                raise ValueError(f"SparseVector values must be numbers, got {type(val).__name__} at position {i}")

    def to_dict(self) -> dict[str, Any]:
        """Chroma's wire form: ``{"#type": "sparse_vector", "indices", "values", "tokens"?}``."""
        out: dict[str, Any] = {TYPE_KEY: SPARSE_VECTOR_TYPE_VALUE, "indices": self.indices, "values": self.values}
        if self.labels is not None:
            out["tokens"] = self.labels  # the wire calls labels "tokens"
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SparseVector:
        """Parse the wire form; the ``#type`` tag is required."""
        if d.get(TYPE_KEY) != SPARSE_VECTOR_TYPE_VALUE:
            raise ValueError(f"Expected {TYPE_KEY}='{SPARSE_VECTOR_TYPE_VALUE}', got {d.get(TYPE_KEY)}")
        return cls(indices=d["indices"], values=d["values"], labels=d.get("tokens"))


# ---- customer-managed encryption keys ----------------------------------------------------


class CmekProvider(str, Enum):
    """Cloud providers of customer-managed keys (Chroma Cloud; stored, never used locally)."""

    GCP = "gcp"


_GCP_KEY = re.compile(r"^projects/.+/locations/.+/keyRings/.+/cryptoKeys/.+$")


@dataclass
class Cmek:
    """A customer-managed encryption key reference, ``{"gcp": resource}`` on the wire."""

    provider: CmekProvider
    resource: str

    @classmethod
    def gcp(cls, resource: str) -> Cmek:
        """A GCP Cloud KMS key."""
        return cls(provider=CmekProvider.GCP, resource=resource)

    def validate_pattern(self) -> bool:
        """Whether ``resource`` has the provider's key-name format."""
        return self.provider == CmekProvider.GCP and _GCP_KEY.match(self.resource) is not None

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {self.provider.value: self.resource}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cmek:
        """Parse the wire form."""
        if not isinstance(data, dict) or len(data) != 1:
            raise ValueError(f"Invalid CMEK data: expected a single-key object, got {data!r}")
        (provider, resource), = data.items()
        try:
            return cls(provider=CmekProvider(provider), resource=resource)
        except ValueError:
            raise ValueError(f"Unsupported or missing CMEK provider in data: {data!r}") from None


# ---- index configurations ----------------------------------------------------------------


class _Config:
    """Shared behaviour of the config dataclasses: their JSON."""

    def to_json(self) -> dict[str, Any]:
        """The fields that are set (Chroma's ``model_dump(exclude_none=True)``)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.to_json() if isinstance(value, _Config) else value
        return out

    def model_dump(self, exclude_none: bool = False) -> dict[str, Any]:
        """Pydantic's name for :meth:`to_json`, which Chroma code calls."""
        if exclude_none:
            return self.to_json()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(kw_only=True)
class FtsIndexConfig(_Config):
    """Full-text search index (no parameters)."""


@dataclass(kw_only=True)
class StringInvertedIndexConfig(_Config):
    """Inverted index over string metadata (no parameters)."""


@dataclass(kw_only=True)
class IntInvertedIndexConfig(_Config):
    """Inverted index over integer metadata (no parameters)."""


@dataclass(kw_only=True)
class FloatInvertedIndexConfig(_Config):
    """Inverted index over float metadata (no parameters)."""


@dataclass(kw_only=True)
class BoolInvertedIndexConfig(_Config):
    """Inverted index over boolean metadata (no parameters)."""


@dataclass(kw_only=True)
class HnswIndexConfig(_Config):
    """HNSW parameters of a vector index."""

    ef_construction: Optional[int] = None
    max_neighbors: Optional[int] = None
    ef_search: Optional[int] = None
    num_threads: Optional[int] = None
    batch_size: Optional[int] = None
    sync_threshold: Optional[int] = None
    resize_factor: Optional[float] = None


@dataclass(kw_only=True)
class SpannIndexConfig(_Config):
    """SPANN parameters of a vector index (Chroma distributed; a single node keeps only ``space``)."""

    search_nprobe: Optional[int] = None
    write_nprobe: Optional[int] = None
    ef_construction: Optional[int] = None
    ef_search: Optional[int] = None
    max_neighbors: Optional[int] = None
    reassign_neighbor_count: Optional[int] = None
    split_threshold: Optional[int] = None
    merge_threshold: Optional[int] = None


def _source_key(value: Any) -> Optional[str]:
    """A ``source_key`` given as a string or a search ``Key``; only ``#document`` may start with ``#``."""
    if value is None:
        return None
    value = getattr(value, "name", value) if not isinstance(value, str) else value
    if not isinstance(value, str):
        raise ValueError(f"source_key must be str or Key, got {type(value).__name__}")
    if value.startswith("#") and value != DOCUMENT_KEY:
        raise ValueError("source_key cannot begin with '#'. "
                         "The only valid key starting with '#' is Key.DOCUMENT or '#document'.")
    return value


@dataclass(kw_only=True)
class VectorIndexConfig(_Config):
    """A dense vector index: distance ``space``, embedding function, ``source_key``, HNSW or SPANN."""

    space: Optional[str] = None
    embedding_function: Optional[Any] = field(default=embedding.DEFAULT)
    source_key: Optional[str] = None
    hnsw: Optional[HnswIndexConfig] = None
    spann: Optional[SpannIndexConfig] = None

    def __post_init__(self) -> None:
        self.source_key = _source_key(self.source_key)
        if self.embedding_function is not None and not callable(self.embedding_function) \
                and self.embedding_function is not embedding.DEFAULT:
            raise ValueError("embedding_function must be callable or None")

    def to_json(self) -> dict[str, Any]:
        """Chroma's JSON: the embedding function as ``{"type": "known", ...}`` or ``legacy``."""
        out = {k: v for k, v in super().to_json().items() if k != "embedding_function"}
        ef_json = embedding.persisted_ef_config(self.embedding_function)
        out["embedding_function"] = ef_json if ef_json is not None else {"type": "legacy"}
        if self.space is None and ef_json and ef_json.get("type") == "known":
            out["space"] = embedding.ef_space_default(self.embedding_function) or "l2"
        return out


@dataclass(kw_only=True)
class SparseVectorIndexConfig(_Config):
    """A sparse vector index on one metadata key, with its sparse embedding function."""

    embedding_function: Optional[Any] = None
    source_key: Optional[str] = None
    bm25: Optional[bool] = None

    def __post_init__(self) -> None:
        self.source_key = _source_key(self.source_key)

    def to_json(self) -> dict[str, Any]:
        """Chroma's JSON: a function that cannot describe itself is ``{"type": "unknown"}``."""
        out = {k: v for k, v in super().to_json().items() if k != "embedding_function"}
        ef = self.embedding_function
        if ef is None:
            out["embedding_function"] = {"type": "unknown"}
        else:
            out["embedding_function"] = {"name": ef.name(), "type": "known", "config": ef.get_config()}
        return out


IndexConfig = Union[FtsIndexConfig, VectorIndexConfig, SparseVectorIndexConfig, StringInvertedIndexConfig,
                    IntInvertedIndexConfig, FloatInvertedIndexConfig, BoolInvertedIndexConfig]


# ---- enabled/config pairs and value types (Chroma's dataclass names) ---------------------


@dataclass
class _IndexType:
    enabled: bool
    config: Any


@dataclass
class FtsIndexType(_IndexType):
    """Whether full-text search is on, and its config."""


@dataclass
class VectorIndexType(_IndexType):
    """Whether the vector index is on, and its config."""


@dataclass
class SparseVectorIndexType(_IndexType):
    """Whether the sparse vector index is on, and its config."""


@dataclass
class StringInvertedIndexType(_IndexType):
    """Whether the string inverted index is on, and its config."""


@dataclass
class IntInvertedIndexType(_IndexType):
    """Whether the int inverted index is on, and its config."""


@dataclass
class FloatInvertedIndexType(_IndexType):
    """Whether the float inverted index is on, and its config."""


@dataclass
class BoolInvertedIndexType(_IndexType):
    """Whether the bool inverted index is on, and its config."""


@dataclass
class StringValueType:
    """Indexes of string values."""

    fts_index: Optional[FtsIndexType] = None
    string_inverted_index: Optional[StringInvertedIndexType] = None


@dataclass
class FloatListValueType:
    """Indexes of dense vectors."""

    vector_index: Optional[VectorIndexType] = None


@dataclass
class SparseVectorValueType:
    """Indexes of sparse vectors."""

    sparse_vector_index: Optional[SparseVectorIndexType] = None


@dataclass
class IntValueType:
    """Indexes of int values."""

    int_inverted_index: Optional[IntInvertedIndexType] = None


@dataclass
class FloatValueType:
    """Indexes of float values."""

    float_inverted_index: Optional[FloatInvertedIndexType] = None


@dataclass
class BoolValueType:
    """Indexes of bool values."""

    bool_inverted_index: Optional[BoolInvertedIndexType] = None


@dataclass
class ValueTypes:
    """Per value type, its indexes (``None``: nothing said for that type)."""

    string: Optional[StringValueType] = None
    float_list: Optional[FloatListValueType] = None
    sparse_vector: Optional[SparseVectorValueType] = None
    int_value: Optional[IntValueType] = None
    float_value: Optional[FloatValueType] = None
    boolean: Optional[BoolValueType] = None


# ValueTypes attribute -> (JSON name, value-type class, {index attribute: (index-type class, config class)})
_VALUE_KINDS: dict[str, tuple[str, type, dict[str, tuple[type, type]]]] = {
    "string": (STRING_VALUE_NAME, StringValueType, {
        FTS_INDEX_NAME: (FtsIndexType, FtsIndexConfig),
        STRING_INVERTED_INDEX_NAME: (StringInvertedIndexType, StringInvertedIndexConfig)}),
    "float_list": (FLOAT_LIST_VALUE_NAME, FloatListValueType, {VECTOR_INDEX_NAME: (VectorIndexType, VectorIndexConfig)}),
    "sparse_vector": (SPARSE_VECTOR_VALUE_NAME, SparseVectorValueType, {
        SPARSE_VECTOR_INDEX_NAME: (SparseVectorIndexType, SparseVectorIndexConfig)}),
    "int_value": (INT_VALUE_NAME, IntValueType, {INT_INVERTED_INDEX_NAME: (IntInvertedIndexType, IntInvertedIndexConfig)}),
    "float_value": (FLOAT_VALUE_NAME, FloatValueType, {
        FLOAT_INVERTED_INDEX_NAME: (FloatInvertedIndexType, FloatInvertedIndexConfig)}),
    "boolean": (BOOL_VALUE_NAME, BoolValueType, {BOOL_INVERTED_INDEX_NAME: (BoolInvertedIndexType, BoolInvertedIndexConfig)}),
}
# config class -> (ValueTypes attribute, index attribute)
_PLACE = {config: (attr, index) for attr, (_, _, indexes) in _VALUE_KINDS.items()
          for index, (_, config) in indexes.items()}


def _set(value_types: ValueTypes, config: Any, enabled: bool) -> None:
    """Put ``config`` (enabled or not) where its class belongs in ``value_types``."""
    attr, index = _PLACE[type(config)]
    _, value_cls, indexes = _VALUE_KINDS[attr]
    if getattr(value_types, attr) is None:
        setattr(value_types, attr, value_cls())
    setattr(getattr(value_types, attr), index, indexes[index][0](enabled=enabled, config=config))


def _all_indexes(enabled: bool) -> ValueTypes:
    """Every index type, each with its default config, all on or all off."""
    out = ValueTypes()
    for config in _PLACE:
        _set(out, config(), enabled)
    return out


def _value_types_to_json(value_types: ValueTypes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, (json_name, _, indexes) in _VALUE_KINDS.items():
        holder = getattr(value_types, attr)
        if holder is None:
            continue
        out[json_name] = {index: {"enabled": it.enabled, "config": it.config.to_json()}
                          for index in indexes if (it := getattr(holder, index)) is not None}
    return out


def _config_from_json(config_cls: type, data: dict[str, Any]) -> Any:
    data = dict(data)
    if config_cls in (VectorIndexConfig, SparseVectorIndexConfig) and "embedding_function" in data:
        data["embedding_function"] = _ef_from_json(data["embedding_function"])
    for sub, sub_cls in (("hnsw", HnswIndexConfig), ("spann", SpannIndexConfig)):
        if isinstance(data.get(sub), dict):
            data[sub] = _build(sub_cls, data[sub])
    return _build(config_cls, data)


def _build(config_cls: type, data: dict[str, Any]) -> Any:
    """``config_cls(**data)``; an unknown field is a ``ValueError`` naming it and the valid ones."""
    valid = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ValueError(f"'{unknown[0]}' is not a valid field for {config_cls.__name__}. "
                         f"Valid fields: {sorted(valid) or 'none'}")
    return config_cls(**data)


def _ef_from_json(ef_json: Any) -> Any:
    """The function a stored ``embedding_function`` describes; ``None`` (with a warning) when unknown."""
    if not isinstance(ef_json, dict) or ef_json.get("type") != "known":
        return None
    try:
        return embedding.rebuild(ef_json)
    except ValueError as exc:  # Chroma, too, keeps the schema and drops a function it cannot rebuild
        warnings.warn(f"Could not reconstruct embedding function {ef_json.get('name', 'unknown')}: {exc}. "
                      "Setting to None.", UserWarning, stacklevel=3)
        return None


def _value_types_from_json(data: dict[str, Any]) -> ValueTypes:
    out = ValueTypes()
    by_json = {json_name: attr for attr, (json_name, _, _) in _VALUE_KINDS.items()}
    for json_name, indexes_json in data.items():
        attr = by_json.get(json_name)
        if attr is None:
            raise ValueError(f"Invalid schema: unknown value type {json_name!r}, expected one of {sorted(by_json)}")
        _, value_cls, indexes = _VALUE_KINDS[attr]
        holder = value_cls()
        for index, index_json in indexes_json.items():
            if index not in indexes:
                raise ValueError(f"Invalid schema: unknown index {index!r} for value type {json_name!r}")
            index_cls, config_cls = indexes[index]
            config = _config_from_json(config_cls, index_json.get("config") or {})
            setattr(holder, index, index_cls(enabled=bool(index_json.get("enabled", True)), config=config))
        setattr(out, attr, holder)
    return out


# ---- the schema ------------------------------------------------------------------------------


@dataclass(init=False)
class Schema:
    """A collection's index configuration: ``defaults`` per value type, overrides per metadata key.

    ``create_index`` / ``delete_index`` turn an index on or off, globally (no key) or for one
    key, with Chroma's rules and messages; both return the schema, for chaining.
    """

    defaults: ValueTypes
    keys: dict[str, ValueTypes]
    cmek: Optional[Cmek] = None

    def __init__(self) -> None:
        self.defaults = ValueTypes()
        for config in _PLACE:  # Chroma's defaults: metadata indexes on, the rest off
            _set(self.defaults, config(), enabled=config not in (FtsIndexConfig, VectorIndexConfig,
                                                                  SparseVectorIndexConfig))
        self.keys = {DOCUMENT_KEY: ValueTypes(), EMBEDDING_KEY: ValueTypes()}
        _set(self.keys[DOCUMENT_KEY], FtsIndexConfig(), True)
        _set(self.keys[DOCUMENT_KEY], StringInvertedIndexConfig(), False)
        _set(self.keys[EMBEDDING_KEY], VectorIndexConfig(source_key=DOCUMENT_KEY), True)
        self.cmek = None

    @staticmethod
    def _key_name(key: Any) -> Optional[str]:
        return getattr(key, "name", key) if key is not None and not isinstance(key, str) else key

    def _check_key(self, config: Any, key: Optional[str], verb: str) -> None:
        if key == DOCUMENT_KEY and not isinstance(config, FtsIndexConfig):
            raise ValueError(f"Cannot {verb} index on special key '{key}' with this config. "
                             "Only FtsIndexConfig is allowed for #document.")
        if key is not None and key.startswith("#") and key != DOCUMENT_KEY:
            raise ValueError("key cannot begin with '#'. Keys starting with '#' are reserved for system use.")

    def create_index(self, config: Optional[IndexConfig] = None, key: Any = None) -> Schema:
        """Turn an index on: ``config`` for all keys (no ``key``) or for ``key``."""
        key = self._key_name(key)
        if config is None and key is None:
            raise ValueError("Cannot enable all index types globally. Must specify either config or key.")
        if key == EMBEDDING_KEY:
            raise ValueError(f"Cannot create index on special key '{key}'. This key is managed automatically by "
                             "the system. Invoke create_index(VectorIndexConfig(...)) without specifying a key to "
                             "configure the vector index globally.")
        self._check_key(config, key, "create")
        if isinstance(config, VectorIndexConfig):
            if key is not None:
                raise ValueError("Vector index cannot be enabled on specific keys. Use create_index(config="
                                 "VectorIndexConfig(...)) without specifying a key to configure the vector index "
                                 "globally.")
            self._set_vector_index(config)
            return self
        if isinstance(config, FtsIndexConfig) and key != DOCUMENT_KEY:
            raise ValueError("FTS index can only be enabled on #document key. "
                             "Use create_index(config=FtsIndexConfig(), key='#document')")
        if isinstance(config, SparseVectorIndexConfig):
            if key is None:
                raise ValueError("Sparse vector index must be created on a specific key. Please specify a key "
                                 "using: create_index(config=SparseVectorIndexConfig(...), key='your_key')")
            self._check_sparse(key, config)
        if config is None:
            raise ValueError(f"Cannot enable all index types for key '{key}'. "
                             "Please specify a specific index configuration.")
        self._place(config, key, enabled=True)
        return self

    def delete_index(self, config: Optional[IndexConfig] = None, key: Any = None) -> Schema:
        """Turn an index off: ``config`` for all keys (no ``key``) or for ``key``."""
        key = self._key_name(key)
        if config is None and key is None:
            raise ValueError("Cannot disable all indexes. Must specify either config or key.")
        if key == EMBEDDING_KEY:
            raise ValueError("Cannot modify #embedding. Currently not supported")
        self._check_key(config, key, "delete")
        if isinstance(config, VectorIndexConfig):
            raise ValueError("Deleting vector index is not currently supported.")
        if isinstance(config, SparseVectorIndexConfig):
            raise ValueError("Deleting sparse vector index is not currently supported.")
        if isinstance(config, FtsIndexConfig) and key != DOCUMENT_KEY:
            raise ValueError("Deleting FTS index is only supported on #document key.")
        if config is None:
            raise ValueError(f"Cannot disable all index types for key '{key}'. "
                             "Please specify a specific index configuration.")
        self._place(config, key, enabled=False)
        return self

    def set_cmek(self, cmek: Optional[Cmek]) -> Schema:
        """Set (or clear, with ``None``) the customer-managed key."""
        self.cmek = cmek
        return self

    def _place(self, config: Any, key: Optional[str], enabled: bool) -> None:
        _set(self.defaults if key is None else self.keys.setdefault(key, ValueTypes()), config, enabled)

    def _set_vector_index(self, config: VectorIndexConfig) -> None:
        """The global vector config goes to the defaults and to ``#embedding`` (which keeps its source)."""
        default_it = self.defaults.float_list.vector_index  # type: ignore[union-attr]
        _set(self.defaults, config, default_it.enabled if default_it else False)
        embedding_it = self.keys[EMBEDDING_KEY].float_list.vector_index  # type: ignore[union-attr]
        keyed = dataclasses.replace(config, source_key=embedding_it.config.source_key if embedding_it else None)
        _set(self.keys[EMBEDDING_KEY], keyed, embedding_it.enabled if embedding_it else True)

    def _check_sparse(self, key: str, config: SparseVectorIndexConfig) -> None:
        for other, value_types in self.keys.items():
            it = value_types.sparse_vector.sparse_vector_index if value_types.sparse_vector else None
            if other != key and it is not None and it.enabled:
                raise ValueError(f"Cannot enable sparse vector index on key '{key}'. A sparse vector index is "
                                 f"already enabled on key '{other}'. Only one sparse vector index is allowed per "
                                 "collection.")
        if config.source_key is not None and config.embedding_function is None:
            raise ValueError("If source_key is provided then embedding_function must also be provided since "
                             f"there is no default embedding function. Config: {config}")

    def serialize_to_json(self) -> dict[str, Any]:
        """Chroma's JSON for this schema."""
        out: dict[str, Any] = {"defaults": _value_types_to_json(self.defaults),
                               "keys": {k: _value_types_to_json(v) for k, v in self.keys.items()}}
        if self.cmek is not None:
            out["cmek"] = self.cmek.to_dict()
        return out

    @classmethod
    def deserialize_from_json(cls, json_data: dict[str, Any]) -> Schema:
        """A schema from Chroma's JSON; an unknown value type or index is a ``ValueError`` naming it."""
        if not isinstance(json_data, dict):
            raise ValueError(f"Invalid schema: expected an object, got {type(json_data).__name__}")
        instance = cls.__new__(cls)
        instance.defaults = _value_types_from_json(json_data.get("defaults") or {})
        instance.keys = {k: _value_types_from_json(v) for k, v in (json_data.get("keys") or {}).items()}
        cmek = json_data.get("cmek")
        instance.cmek = Cmek.from_dict(cmek) if cmek is not None else None
        return instance
