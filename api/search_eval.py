"""Running a checked :class:`SearchPlan` over the engine's ``query`` and ``get``.

Chroma's rules (docs.trychroma.com, Search API, "Ranking and Scoring"): without a rank, records
come in index (insertion) order. With one, each ``Knn`` scores its top-``limit`` records that
pass the filter; a record is a candidate when it is in at least one Knn's list and in every Knn
list whose ``default`` is ``None``; a Knn it is missing from gives its ``default``. Candidates
sort by score, ascending (lower is better), ties by id; ``group_by`` keeps ``k`` per group;
``limit`` pages the result. A score that is not a finite number (``log`` of a negative, a
division by zero) is ``None``, as Chroma's JSON carries it, and sorts last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, cast

import numpy as np

from sedimentdb import errors
from sedimentdb.engine.engine_types import Include, Records
from sedimentdb.engine.read_levels import INDEX_AND_WAL
from sedimentdb.engine_protocol import SearchEngineProtocol
from sedimentdb.filters import lift_document_clauses, mentions_key
from sedimentdb.search_plan import SCORE_KEY, KnnSpec, SearchPlan

ID_KEY = "#id"
_NO_FIELDS = Include(embeddings=False, documents=False, metadatas=False, uris=False, distances=False)


@dataclass
class _Hit:
    id: str
    score: Optional[float]


def run_search(engine: SearchEngineProtocol, collection_id: str, plan: SearchPlan,
               read_level: str = INDEX_AND_WAL) -> dict[str, Any]:
    """One search's columns: ``ids``, ``documents``, ``embeddings``, ``metadatas``, ``scores``, ``select``;
    every engine read of the search at ``read_level`` (engine/read_levels.py)."""
    if read_level != INDEX_AND_WAL:
        engine = cast(SearchEngineProtocol, _AtReadLevel(engine, read_level))
    where, id_filter = _engine_filter(engine, collection_id, plan.where)
    if plan.rank is None:
        hits = _unranked(engine, collection_id, where, id_filter, plan)
    else:
        hits = _ranked(engine, collection_id, where, id_filter, plan)
    return _columns(engine, collection_id, hits, plan.select)


class _AtReadLevel:
    """The engine's three reads the search makes, each at one read level: the rest of this
    module stays level-blind."""

    def __init__(self, engine: SearchEngineProtocol, read_level: str) -> None:
        self._engine = engine
        self._level = read_level

    def get(self, collection_id: str, ids: Optional[list[str]], where: Any, where_document: Any,
            limit: Optional[int], offset: int, include: Include) -> Records:
        """The engine's ``get`` at this read level."""
        return self._engine.get(collection_id, ids, where, where_document, limit, offset, include,
                                read_level=self._level)

    def query(self, collection_id: str, embeddings: np.ndarray, n_results: int, where: Any, where_document: Any,
              ids: Optional[list[str]], include: Include) -> list[Records]:
        """The engine's ``query`` at this read level."""
        return self._engine.query(collection_id, embeddings, n_results, where, where_document, ids, include,
                                  read_level=self._level)

    def sparse_query(self, collection_id: str, key: str, indices: list[int], values: list[float], n_results: int,
                     where: Any, where_document: Any, ids: Optional[list[str]], include: Include) -> Records:
        """The engine's ``sparse_query`` at this read level."""
        return self._engine.sparse_query(collection_id, key, indices, values, n_results, where, where_document,
                                         ids, include, read_level=self._level)


# ---- filter -------------------------------------------------------------------------------


@dataclass
class _Filter:
    where: Any
    where_document: Any


def _engine_filter(engine: SearchEngineProtocol, collection_id: str, where: Any) -> tuple[_Filter, Optional[list[str]]]:
    """The engine's where/where_document, and the ids ``#id`` clauses allow (``None``: all)."""
    rest, allowed, refused = _split_id_clauses(where)
    rest_where, where_document = lift_document_clauses(rest, None)
    found = _Filter(rest_where, where_document)
    if allowed is None and not refused:
        return found, None
    # The engine restricts a query to a list of ids; resolve the #id clauses to that list.
    records = engine.get(collection_id, sorted(allowed) if allowed is not None else None,
                         found.where, found.where_document, None, 0, _NO_FIELDS)
    return found, [i for i in records.ids if i not in refused]


def _split_id_clauses(where: Any) -> tuple[Any, Optional[set[str]], set[str]]:
    if where is None:
        return None, None, set()
    clauses = where["$and"] if "$and" in where else [where]
    kept: list[Any] = []
    allowed: Optional[set[str]] = None
    refused: set[str] = set()
    for clause in clauses:
        if not (isinstance(clause, dict) and ID_KEY in clause):
            kept.append(clause)
            continue
        keep, drop = _id_clause(clause[ID_KEY])
        if keep is not None:
            allowed = keep if allowed is None else allowed & keep
        refused |= drop
    if mentions_key(kept, ID_KEY):
        raise errors.InvalidArgumentError("#id filters are supported at the top level of where or inside a "
                                          "top-level $and only")
    rest = None if not kept else kept[0] if len(kept) == 1 else {"$and": kept}
    return rest, allowed, refused


def _id_clause(condition: Any) -> tuple[Optional[set[str]], set[str]]:
    op, value = next(iter(condition.items())) if isinstance(condition, dict) else ("$eq", condition)
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise errors.InvalidArgumentError(f"#id filters compare with strings, got {value!r}")
    if op in ("$eq", "$in"):
        return set(values), set()
    if op in ("$ne", "$nin"):
        return None, set(values)
    raise errors.InvalidArgumentError(f"#id supports $eq, $ne, $in and $nin, got {op}")


# ---- without a rank -----------------------------------------------------------------------


def _unranked(engine: SearchEngineProtocol, collection_id: str, flt: _Filter, ids: Optional[list[str]],
              plan: SearchPlan) -> list[_Hit]:
    if ids is not None and not ids:
        return []
    found = engine.get(collection_id, ids, flt.where, flt.where_document, plan.limit, plan.offset, _NO_FIELDS)
    return [_Hit(i, None) for i in found.ids]


# ---- with a rank --------------------------------------------------------------------------


def _ranked(engine: SearchEngineProtocol, collection_id: str, flt: _Filter, ids: Optional[list[str]],
            plan: SearchPlan) -> list[_Hit]:
    rank = plan.rank
    assert rank is not None  # run_search calls this only for a ranked plan
    knns = _knns(rank)
    if not knns:
        raise errors.InvalidArgumentError("A rank expression must contain at least one Knn")
    lists = {spec: _knn_scores(engine, collection_id, flt, ids, spec) for spec in knns}
    candidates = set().union(*lists.values())
    for spec, scores in lists.items():
        if spec.default is None:
            candidates &= scores.keys()
    if rank[0] == "knn":  # a lone Knn (the common dense search): its scores are the ranking
        hits = [_Hit(i, _finite(score)) for i, score in lists[rank[1]].items()]
    else:
        hits = [_Hit(i, _finite(evaluate(rank, i, lists))) for i in candidates]
    hits.sort(key=_order)
    if plan.aggregate is not None:
        hits = _group(engine, collection_id, hits, plan)
    end = None if plan.limit is None else plan.offset + plan.limit
    return hits[plan.offset:end]


def _knns(rank: Any) -> list[KnnSpec]:
    if rank[0] == "knn":
        return [rank[1]]
    found: list[KnnSpec] = []
    for part in rank[1:]:
        for child in part if isinstance(part, list) else [part]:
            if isinstance(child, tuple):
                found.extend(k for k in _knns(child) if k not in found)
    return found


def _knn_scores(engine: SearchEngineProtocol, collection_id: str, flt: _Filter, ids: Optional[list[str]],
                spec: KnnSpec) -> dict[str, float]:
    if ids is not None and not ids:
        return {}
    include = Include(embeddings=False, documents=False, metadatas=False, uris=False, distances=True)
    found: Records
    if spec.sparse is not None:  # 1 - dot over the key's sparse vectors, exact (engine/segments/sparse.py)
        found = engine.sparse_query(collection_id, spec.key, list(spec.sparse[0]), list(spec.sparse[1]),
                                    spec.limit, flt.where, flt.where_document, ids, include)
    else:
        query = np.asarray([spec.query], dtype=np.float32)
        found = engine.query(collection_id, query, spec.limit, flt.where, flt.where_document, ids, include)[0]
    distances = found.distances or []
    if spec.return_rank:
        return {i: float(position) for position, i in enumerate(found.ids)}
    return {i: float(d) for i, d in zip(found.ids, distances, strict=True)}


def evaluate(rank: tuple[Any, ...], record_id: str, lists: dict[KnnSpec, dict[str, float]]) -> float:
    """The rank expression's value for one record (float arithmetic; NaN/inf pass through)."""
    op = rank[0]
    if op == "val":
        return float(rank[1])
    if op == "knn":
        spec = rank[1]
        value = lists[spec].get(record_id)
        return float(spec.default) if value is None else value
    if op in ("sub", "div"):
        left, right = evaluate(rank[1], record_id, lists), evaluate(rank[2], record_id, lists)
        return left - right if op == "sub" else _divide(left, right)
    if op in ("abs", "exp", "log"):
        return _function(op, evaluate(rank[1], record_id, lists))
    values = [evaluate(r, record_id, lists) for r in rank[1]]
    if op == "sum":
        return math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
    if op == "mul":
        return math.prod(values)
    return max(values) if op == "max" else min(values)


def _divide(left: float, right: float) -> float:
    if right == 0:
        return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
    return left / right


def _function(op: str, value: float) -> float:
    if op == "abs":
        return abs(value)
    if op == "exp":
        return math.exp(value) if value < 709 else math.inf
    if value < 0 or math.isnan(value):
        return math.nan
    return math.log(value) if value > 0 else -math.inf


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def _order(hit: _Hit) -> tuple[bool, float, str]:
    return (hit.score is None, hit.score if hit.score is not None else 0.0, hit.id)


# ---- group_by -----------------------------------------------------------------------------


def _group(engine: SearchEngineProtocol, collection_id: str, hits: list[_Hit], plan: SearchPlan) -> list[_Hit]:
    """Keep ``k`` records per group of equal ``group_keys`` values, then all sorted by score again."""
    assert plan.aggregate is not None
    direction, keys, k = plan.aggregate
    metadatas = _metadatas(engine, collection_id, [h.id for h in hits])
    groups: dict[tuple[Any, ...], list[_Hit]] = {}
    for hit in hits:
        meta = metadatas.get(hit.id) or {}
        groups.setdefault(tuple(_group_value(meta.get(key)) for key in plan.group_keys), []).append(hit)
    kept: list[_Hit] = []
    for members in groups.values():
        members.sort(key=lambda h: _aggregate_key(h, metadatas.get(h.id) or {}, keys, direction))
        kept.extend(members[:k])
    kept.sort(key=_order)
    return kept


def _group_value(value: Any) -> Any:
    return (type(value).__name__, tuple(value) if isinstance(value, list) else value)


def _aggregate_key(hit: _Hit, meta: dict[str, Any], keys: list[str], direction: str) -> tuple[Any, ...]:
    """Records missing a key sort after those that have it, in either direction."""
    parts: list[Any] = []
    for key in keys:
        value = hit.score if key == SCORE_KEY else meta.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            parts.append((1, 0.0))
        else:
            parts.append((0, value if direction == "min" else -value))
    return (*parts, hit.id)


def _metadatas(engine: SearchEngineProtocol, collection_id: str, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    include = Include(embeddings=False, documents=False, metadatas=True, uris=False, distances=False)
    found = engine.get(collection_id, ids, None, None, None, 0, include)
    return dict(zip(found.ids, found.metadatas or [], strict=True))


# ---- the selected columns -----------------------------------------------------------------


def _columns(engine: SearchEngineProtocol, collection_id: str, hits: list[_Hit], select: list[str]) -> dict[str, Any]:
    wanted = set(select)
    fields = [k for k in select if not k.startswith("#") or k == ID_KEY]
    want_metadata = "#metadata" in wanted or bool(fields)
    include = Include(embeddings="#embedding" in wanted, documents="#document" in wanted,
                      metadatas=want_metadata, uris=False, distances=False)
    by_id = _fetch(engine, collection_id, [h.id for h in hits], include)
    return {
        "ids": [h.id for h in hits],
        "documents": [by_id[h.id]["document"] for h in hits] if include.documents else None,
        "embeddings": [by_id[h.id]["embedding"] for h in hits] if include.embeddings else None,
        "metadatas": [_project(by_id[h.id]["metadata"], wanted, fields) for h in hits] if want_metadata else None,
        "scores": [h.score for h in hits] if SCORE_KEY in wanted else None,
        "select": list(select),
    }


def _fetch(engine: SearchEngineProtocol, collection_id: str, ids: list[str], include: Include) -> dict[str, dict[str, Any]]:
    if not ids or not (include.documents or include.embeddings or include.metadatas):
        return {i: {"document": None, "embedding": None, "metadata": None} for i in ids}
    found = engine.get(collection_id, ids, None, None, None, 0, include)
    out: dict[str, dict[str, Any]] = {}
    for n, record_id in enumerate(found.ids):
        out[record_id] = {
            "document": found.documents[n] if found.documents is not None else None,
            "embedding": [float(x) for x in found.embeddings[n]] if found.embeddings is not None else None,
            "metadata": found.metadatas[n] if found.metadatas is not None else None,
        }
    return out


def _project(metadata: Optional[dict[str, Any]], wanted: set[str], fields: list[str]) -> Optional[dict[str, Any]]:
    """The whole metadata for ``#metadata``, else only the selected keys (``None`` when none is set)."""
    if not metadata:
        return None
    visible = {k: list(v) if isinstance(v, list) else v for k, v in sorted(metadata.items())
               if not k.startswith("chroma:")}
    if "#metadata" not in wanted:
        visible = {k: v for k, v in visible.items() if k in fields}
    return visible or None
