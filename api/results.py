"""Engine records -> Chroma's ``GetResult``/``QueryResult`` dictionaries (chroma-api.md §3.2).

Fields not included are ``None`` (never ``[]``); a record without metadata or document gives a
``None`` element; ``get`` embeddings are one 2-D numpy array, ``query`` embeddings one per
query; metadata keys starting with ``chroma:`` are internal and stripped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sedimentdb.engine.engine_types import Include as EngineInclude
from sedimentdb.engine.engine_types import Records
from sedimentdb.sparse_vectors import from_wire
from sedimentdb.types import GetResult, QueryResult

_RESERVED_PREFIX = "chroma:"


def engine_include(include: Sequence[str], with_distances: bool) -> EngineInclude:
    """What to ask the engine for; ``data`` needs the uris it is loaded from."""
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
    kept = {
        k: list(v) if isinstance(v, list) else v
        for k, v in sorted(metadata.items())
        if not k.startswith(_RESERVED_PREFIX)
    }
    return from_wire(kept) or None  # sparse vectors come back as SparseVector, as from Chroma's clients


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
    """One engine result per query embedding as a ``QueryResult``."""
    gets = [to_get_result(r, include, data_loader) for r in per_query]
    wanted = set(_include_list(include))

    def column(key: str) -> Any:
        return [g[key] for g in gets] if key in wanted else None  # type: ignore[literal-required]

    return QueryResult(
        ids=[g["ids"] for g in gets],
        embeddings=column("embeddings"),
        documents=column("documents"),
        uris=column("uris"),
        included=_include_list(include),
        data=column("data"),
        metadatas=column("metadatas"),
        distances=[[float(d) for d in (r.distances or [])] for r in per_query] if "distances" in wanted else None,
    )
