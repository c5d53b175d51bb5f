"""A search request's wire dictionary, checked with chromadb 1.5.9's messages and turned into a plan.

``Search.to_dict()`` (embedded) and the ``/search`` route's JSON (HTTP) both arrive here, so the
two paths validate alike. Rank expressions become small tuples the evaluator walks:
``("val", x)``, ``("knn", KnnSpec)``, ``("sum"|"mul"|"max"|"min", [..])``, ``("sub"|"div", l, r)``,
``("abs"|"exp"|"log", child)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from sedimentdb import errors
from sedimentdb.filters import SCALAR_TYPES, check_filter_depth
from sedimentdb.schema import SPARSE_VECTOR_TYPE_VALUE, TYPE_KEY, SparseVector

EMBEDDING_KEY = "#embedding"
SCORE_KEY = "#score"
_PREDEFINED_ORDER = ["#document", "#embedding", "#metadata", "#score"]  # Chroma's Key order (Rust enum)
_FUNCTIONS = {"$abs": "abs", "$exp": "exp", "$log": "log"}
_LISTS = {"$sum": "sum", "$mul": "mul", "$max": "max", "$min": "min"}
_PAIRS = {"$sub": "sub", "$div": "div"}


@dataclass(frozen=True)
class KnnSpec:
    """One ``$knn``: the query (a dense vector, or a sparse vector's indices and values) and how its
    candidates score."""

    query: tuple[float, ...]  # empty for a sparse query
    key: str
    limit: int
    default: Optional[float]
    return_rank: bool
    sparse: Optional[tuple[tuple[int, ...], tuple[float, ...]]] = None

    def __hash__(self) -> int:
        # Specs key the score lists, and hashing a 384-float query on every lookup cost more
        # than the lookups: hash once.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.query, self.key, self.limit, self.default, self.return_rank, self.sparse))
            object.__setattr__(self, "_hash", cached)
        return cached


@dataclass
class SearchPlan:
    """One checked search: filter, rank tree, grouping, page and selected keys."""

    where: Optional[dict[str, Any]]
    rank: Optional[tuple[Any, ...]]
    group_keys: list[str] = field(default_factory=list)
    aggregate: Optional[tuple[str, list[str], int]] = None  # ("min"|"max", keys, k)
    offset: int = 0
    limit: Optional[int] = None
    select: list[str] = field(default_factory=list)


SEARCH_COLUMNS = ("ids", "documents", "embeddings", "metadatas", "scores", "select")


def embed_rank_queries(rank: Any, embed: Callable[[str, str], Any]) -> Any:
    """A copy of a rank dictionary with each text ``$knn`` query replaced by ``embed(text, key)``:
    a dense vector (a list of floats) or a sparse vector's wire dict."""
    if isinstance(rank, list):
        if set(map(type, rank)) <= SCALAR_TYPES:  # a vector: no walk through its 384 numbers
            return list(rank)
        return [embed_rank_queries(r, embed) for r in rank]
    if not isinstance(rank, dict):
        return rank
    out: dict[str, Any] = {}
    for op, value in rank.items():
        if op == "$knn" and isinstance(value, dict) and isinstance(value.get("query"), str):
            vector = embed(value["query"], value.get("key", EMBEDDING_KEY))
            out[op] = {**value, "query": vector if isinstance(vector, dict) else [float(x) for x in vector]}
        else:
            out[op] = embed_rank_queries(value, embed)
    return out


def parse_search(data: Any) -> SearchPlan:
    """The plan for one search dictionary (``filter``, ``rank``, ``group_by``, ``limit``, ``select``)."""
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for Search, got {type(data).__name__}")
    check_filter_depth("search", data)  # before the recursive checks of filter and rank
    unexpected = set(data) - {"filter", "where", "rank", "group_by", "limit", "select"}
    if unexpected:
        raise ValueError(f"Unexpected keys in Search dict: {sorted(unexpected)}")
    where = data.get("filter", data.get("where"))
    if where is not None:
        check_where(where)
    rank = data.get("rank")
    plan = SearchPlan(where=where or None, rank=parse_rank(rank) if rank is not None else None)
    _parse_group_by(data.get("group_by") or {}, plan)
    _parse_limit(data.get("limit") or {}, plan)
    plan.select = _parse_select(data.get("select") or {})
    return plan


# ---- where --------------------------------------------------------------------------------

_VALUE_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"}


def check_where(data: Any) -> None:
    """Raise Chroma's TypeError/ValueError for a malformed ``where`` dictionary."""
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for Where, got {type(data).__name__}")
    if not data:
        raise ValueError("Where dict cannot be empty")
    for logical in ("$and", "$or"):
        if logical in data:
            conditions = data[logical]
            if not isinstance(conditions, list):
                raise TypeError(f"{logical} must be a list, got {type(conditions).__name__}")
            if not conditions:
                raise ValueError(f"{logical} requires at least one condition")
            if len(data) > 1:
                raise ValueError(f"{logical} cannot be combined with other fields in the same dict")
            for condition in conditions:
                check_where(condition)
            return
    if len(data) != 1:
        raise ValueError(f"Where dict must contain exactly one field, got {len(data)}")
    name, condition = next(iter(data.items()))
    if not isinstance(name, str):
        raise TypeError(f"Field name must be a string, got {type(name).__name__}")
    if isinstance(condition, dict):
        _check_operator(name, condition)


def _check_operator(name: str, condition: dict[str, Any]) -> None:
    if not condition:
        raise ValueError(f"Operator dict for field '{name}' cannot be empty")
    if len(condition) != 1:
        raise ValueError(f"Operator dict for field '{name}' must contain exactly one operator")
    op, value = next(iter(condition.items()))
    if op in _VALUE_OPS:
        return
    if op in ("$in", "$nin"):
        if not isinstance(value, list):
            raise TypeError(f"{op} requires a list, got {type(value).__name__}")
    elif op in ("$contains", "$not_contains"):
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"{op} requires a str, int, float, or bool, got {type(value).__name__}")
        if name == "#document" and not isinstance(value, str):
            raise TypeError(f"{op} on #document requires a string pattern")
    elif op in ("$regex", "$not_regex"):
        if not isinstance(value, str):
            raise TypeError(f"{op} requires a string pattern, got {type(value).__name__}")
    else:
        raise ValueError(f"Unknown operator: {op}")


# ---- rank ---------------------------------------------------------------------------------


def parse_rank(data: Any) -> tuple[Any, ...]:
    """The rank tree for a rank dictionary, with Chroma's messages for malformed ones."""
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for Rank, got {type(data).__name__}")
    if not data:
        raise ValueError("Rank dict cannot be empty")
    if len(data) != 1:
        raise ValueError(f"Rank dict must contain exactly one operator, got {len(data)}")
    op, value = next(iter(data.items()))
    if op == "$val":
        if not _is_number(value):
            raise TypeError(f"$val requires a number, got {type(value).__name__}")
        return ("val", float(value))
    if op == "$knn":
        return ("knn", _parse_knn(value))
    if op in _LISTS:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{op} requires a list, got {type(value).__name__}")
        if len(value) < 2:
            raise ValueError(f"{op} requires at least 2 ranks, got {len(value)}")
        return (_LISTS[op], [parse_rank(r) for r in value])
    if op in _PAIRS:
        if not isinstance(value, dict):
            raise TypeError(f"{op} requires a dict with 'left' and 'right', got {type(value).__name__}")
        if "left" not in value or "right" not in value:
            raise ValueError(f"{op} requires 'left' and 'right' fields")
        return (_PAIRS[op], parse_rank(value["left"]), parse_rank(value["right"]))
    if op in _FUNCTIONS:
        if not isinstance(value, dict):
            raise TypeError(f"{op} requires a rank dict, got {type(value).__name__}")
        return (_FUNCTIONS[op], parse_rank(value))
    raise ValueError(f"Unknown rank operator: {op}")


def _parse_knn(data: Any) -> KnnSpec:
    if not isinstance(data, dict):
        raise TypeError(f"$knn requires a dict, got {type(data).__name__}")
    if "query" not in data:
        raise ValueError("$knn requires 'query' field")
    key = data.get("key", EMBEDDING_KEY)
    if not isinstance(key, str):
        raise TypeError(f"$knn key must be a string, got {type(key).__name__}")
    dense, sparse = _query(data["query"], key)
    limit = data.get("limit", 16)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError(f"$knn limit must be an integer, got {type(limit).__name__}")
    if limit <= 0:
        raise ValueError(f"$knn limit must be positive, got {limit}")
    return_rank = data.get("return_rank", False)
    if not isinstance(return_rank, bool):
        raise TypeError(f"$knn return_rank must be a boolean, got {type(return_rank).__name__}")
    default = data.get("default")
    if default is not None and not _is_number(default):
        raise TypeError(f"$knn default must be a number, got {type(default).__name__}")
    return KnnSpec(dense, key, limit, None if default is None else float(default), return_rank, sparse)


def _query(query: Any, key: str) -> tuple[tuple[float, ...], Optional[tuple[tuple[int, ...], tuple[float, ...]]]]:
    """(dense vector, None) or ((), (indices, values)) of a ``$knn`` query, checked as Chroma does."""
    if type(query).__name__ == "SparseVector" and hasattr(query, "to_dict"):
        query = query.to_dict()
    if isinstance(query, dict):
        return (), _sparse_query(query, key)
    if key != EMBEDDING_KEY and not isinstance(query, str):
        raise errors.InvalidArgumentError(
            f"$knn on key {key!r} takes a sparse vector query: a dense vector searches '#embedding' only")
    return _dense_query(query), None


def _sparse_query(query: dict[str, Any], key: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    if query.get(TYPE_KEY) != SPARSE_VECTOR_TYPE_VALUE:
        raise ValueError(f"Expected dict with {TYPE_KEY}='{SPARSE_VECTOR_TYPE_VALUE}', got {query}")
    vector = SparseVector.from_dict(query)  # Chroma's checks and messages
    if key == EMBEDDING_KEY or key.startswith("#"):
        raise errors.InvalidArgumentError(
            f"$knn with a sparse vector query needs the metadata key of a sparse vector index, got {key!r}")
    if not all(math.isfinite(v) for v in vector.values):
        raise ValueError("$knn sparse query values must be finite numbers")
    return tuple(vector.indices), tuple(float(v) for v in vector.values)


def _dense_query(query: Any) -> tuple[float, ...]:
    if hasattr(query, "tolist"):
        query = query.tolist()
    if isinstance(query, str):
        raise TypeError("$knn query is a string: embed it with the collection's embedding function first")
    if not isinstance(query, (list, tuple)):
        raise TypeError(f"$knn query must be a list, numpy array, or SparseVector dict, got {type(query).__name__}")
    if query and isinstance(query[0], (list, tuple)):
        if len(query) != 1:
            raise ValueError("$knn requires exactly one query embedding")
        query = query[0]
    if not query:
        raise ValueError("$knn requires exactly one query embedding")
    if set(map(type, query)) <= _PLAIN_NUMBERS:  # the usual vector: checked at C speed, not per element
        vector = tuple(map(float, query))
        if not any(map(math.isnan, vector)):
            return vector
    if not all(_is_number(x) for x in query):
        raise ValueError(f"Expected each value in the embedding to be a int or float, got {query}")
    return tuple(float(x) for x in query)


_PLAIN_NUMBERS = {float, int}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


# ---- group_by, limit, select --------------------------------------------------------------


def _parse_group_by(data: Any, plan: SearchPlan) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for GroupBy, got {type(data).__name__}")
    if not data:
        return
    if "keys" not in data:
        raise ValueError("GroupBy requires 'keys' field")
    if "aggregate" not in data:
        raise ValueError("GroupBy requires 'aggregate' field")
    keys = data["keys"]
    if not isinstance(keys, (list, tuple)):
        raise TypeError(f"GroupBy keys must be a list, got {type(keys).__name__}")
    if not keys:
        raise ValueError("GroupBy keys cannot be empty")
    aggregate = data["aggregate"]
    if not isinstance(aggregate, dict):
        raise TypeError(f"GroupBy aggregate must be a dict, got {type(aggregate).__name__}")
    plan.group_keys = [str(k) for k in keys]
    plan.aggregate = _parse_aggregate(aggregate)


def _parse_aggregate(data: dict[str, Any]) -> tuple[str, list[str], int]:
    if not data:
        raise ValueError("Aggregate dict cannot be empty")
    if len(data) != 1:
        raise ValueError(f"Aggregate dict must contain exactly one operator, got {len(data)}")
    op, body = next(iter(data.items()))
    if op not in ("$min_k", "$max_k"):
        raise ValueError(f"Unknown aggregate operator: {op}")
    if not isinstance(body, dict):
        raise TypeError(f"{op} requires a dict, got {type(body).__name__}")
    if "keys" not in body:
        raise ValueError(f"{op} requires 'keys' field")
    if "k" not in body:
        raise ValueError(f"{op} requires 'k' field")
    keys, k = body["keys"], body["k"]
    if not isinstance(keys, list):
        raise TypeError(f"{op} keys must be a list, got {type(keys).__name__}")
    if not keys:
        raise ValueError(f"{op} keys cannot be empty")
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"{op} k must be an integer, got {type(k).__name__}")
    if k <= 0:
        raise ValueError(f"{op} k must be positive, got {k}")
    return ("min" if op == "$min_k" else "max", [str(key) for key in keys], k)


def _parse_limit(data: Any, plan: SearchPlan) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for Limit, got {type(data).__name__}")
    offset = data.get("offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise TypeError(f"Limit offset must be an integer, got {type(offset).__name__}")
    if offset < 0:
        raise ValueError(f"Limit offset must be non-negative, got {offset}")
    limit = data.get("limit")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise TypeError(f"Limit limit must be an integer, got {type(limit).__name__}")
        if limit <= 0:
            raise ValueError(f"Limit limit must be positive, got {limit}")
    unexpected = set(data) - {"offset", "limit"}
    if unexpected:
        raise ValueError(f"Unexpected keys in Limit dict: {unexpected}")
    plan.offset, plan.limit = offset, limit


def _parse_select(data: Any) -> list[str]:
    if not isinstance(data, dict):
        raise TypeError(f"Expected dict for Select, got {type(data).__name__}")
    keys = data.get("keys", [])
    if not isinstance(keys, (list, tuple, set)):
        raise TypeError(f"Select keys must be a list/tuple/set, got {type(keys).__name__}")
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"Select key must be a string, got {type(key).__name__}")
    unexpected = set(data) - {"keys"}
    if unexpected:
        raise ValueError(f"Unexpected keys in Select dict: {unexpected}")
    return sorted(set(keys), key=_select_order)


def _select_order(key: str) -> tuple[int, str]:
    """Chroma's response lists the predefined keys first (document, embedding, metadata, score)."""
    if key in _PREDEFINED_ORDER:
        return (_PREDEFINED_ORDER.index(key), "")
    return (len(_PREDEFINED_ORDER), key)
