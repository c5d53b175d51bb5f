"""Engine records -> Chroma's ``GetResult``/``QueryResult`` dictionaries (chroma-api.md §3.2).

Fields not included are ``None`` (never ``[]``); a record without metadata or document gives a
``None`` element; ``get`` embeddings are one 2-D numpy array, ``query`` embeddings one per
query; metadata keys starting with ``chroma:`` are internal and stripped.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from sedimentdb.engine.engine_types import Include as EngineInclude
from sedimentdb.engine.engine_types import Records
from sedimentdb.sparse_vectors import from_wire
from sedimentdb.types import GetResult, QueryResult

_RESERVED_PREFIX = "chroma:"
# Metadata values copied as they are (lists are copied, dicts may be sparse vectors).
_SCALARS = frozenset((str, int, float, bool, type(None)))


def engine_include(include: Sequence[str], with_distances: bool) -> EngineInclude:
    """What to ask the engine for; ``data`` needs the uris it is loaded from."""
    return _engine_include(tuple(include), with_distances)


@lru_cache(maxsize=256)  # a checked include list is a few of a handful of names: every read asks
def _engine_include(include: tuple[str, ...], with_distances: bool) -> EngineInclude:
    wanted = {str(getattr(i, "value", i)) for i in include}
    return EngineInclude(
        embeddings="embeddings" in wanted,
        documents="documents" in wanted,
        metadatas="metadatas" in wanted,
        uris="uris" in wanted or "data" in wanted,
        distances=with_distances and "distances" in wanted,
    )


def _clean_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    # Copies, lists included: a caller editing a result must not edit what is stored.
    # Keys come back sorted, as Chroma's SQLite-backed reads return them.
    keys = sorted(metadata)
    if set(map(type, metadata.values())) <= _SCALARS and _RESERVED_PREFIX not in "".join(keys):
        return {key: metadata[key] for key in keys}  # the usual record: scalars, no reserved key
    kept = {}
    nested = False
    for key in keys:
        if key.startswith(_RESERVED_PREFIX):
            continue
        value = metadata[key]
        if isinstance(value, list):
            value = list(value)
        elif isinstance(value, dict):
            nested = True
        kept[key] = value
    if nested:  # sparse vectors come back as SparseVector, as from Chroma's clients
        return from_wire(kept) or None
    return kept or None


def _embeddings(records: Records) -> np.ndarray:
    if records.embeddings is None or len(records) == 0:
        return np.array([])  # what Chroma's np.array([]) conversion gives for no rows
    # Chroma converts Python float lists, so its arrays are float64 (holding float32 values).
    return np.asarray(records.embeddings, dtype=np.float64)


def _include_list(include: list[Any]) -> list[Any]:
    return [str(getattr(i, "value", i)) for i in include]


def to_get_result(records: Records, include: list[Any], data_loader: Any = None) -> GetResult:
    """One engine result as a ``GetResult``."""
    wanted = set(_include_list(include))
    uris = list(records.uris) if records.uris is not None else None
    # Keys in Chroma's order, so printed results look the same.
    return GetResult(
        ids=list(records.ids),
        embeddings=_embeddings(records) if "embeddings" in wanted else None,
        documents=list(records.documents) if "documents" in wanted and records.documents is not None else None,
        uris=uris if "uris" in wanted else None,
        included=_include_list(include),
        data=data_loader(uris) if "data" in wanted and data_loader is not None and uris is not None else None,
        metadatas=[_clean_metadata(m) for m in records.metadatas]
        if "metadatas" in wanted and records.metadatas is not None
        else None,
    )


def to_query_result(per_query: list[Records], include: list[Any], data_loader: Any = None) -> QueryResult:
    """One engine result per query embedding as a ``QueryResult``: each column holds, per
    query, what :func:`to_get_result` gives for that field (built directly: this runs on every
    query)."""
    included = _include_list(include)
    wanted = set(included)

    def column(key: str, one: Any) -> list[Any] | None:
        return [one(r) for r in per_query] if key in wanted else None

    uris: Any = [list(r.uris) if r.uris is not None else None for r in per_query]
    return QueryResult(
        ids=[list(r.ids) for r in per_query],
        embeddings=column("embeddings", _embeddings),
        documents=column("documents", lambda r: list(r.documents) if r.documents is not None else None),
        uris=uris if "uris" in wanted else None,
        included=included,
        data=[data_loader(u) if data_loader is not None and u is not None else None for u in uris]
        if "data" in wanted else None,
        metadatas=column("metadatas",
                         lambda r: [_clean_metadata(m) for m in r.metadatas] if r.metadatas is not None else None),
        distances=[[float(d) for d in (r.distances or [])] for r in per_query] if "distances" in wanted else None,
    )
