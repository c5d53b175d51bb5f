"""Chroma 1.5's search-expression classes: ``Search``, ``Knn``, ``Rrf``, ``Key``/``K`` and friends.

They construct and combine as Chroma's do (``K("status") == "active"``, ``Knn(query=[...]) * 0.8``,
``Search().where(...).rank(...).limit(10)``) and serialize with ``to_dict()`` to Chroma's wire
shape, so code that builds a search imports and runs. ``Collection.search`` runs
them (:mod:`sedimentdb.search_plan`, :mod:`sedimentdb.search_eval`; docs/SEARCH.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from sedimentdb.schema import SparseVector

# ---- filters -----------------------------------------------------------------------------


class Where:
    """A filter expression; ``&`` and ``|`` combine them."""

    def to_dict(self) -> dict[str, Any]:
        """Chroma's ``where`` dictionary for this expression."""
        raise NotImplementedError(f"{type(self).__name__} has no dictionary form")

    def __and__(self, other: Where) -> And:
        # Flattened as Chroma's are, so ``a & b & c`` is one $and (where #id/#document clauses may sit).
        return And(_flat(self, And) + _flat(other, And))

    def __or__(self, other: Where) -> Or:
        return Or(_flat(self, Or) + _flat(other, Or))


def _flat(where: Where, kind: type) -> list[Where]:
    return list(where.conditions) if isinstance(where, kind) else [where]  # type: ignore[attr-defined]


@dataclass
class _Raw(Where):
    """A filter given as a dictionary, kept as given."""

    where: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The dictionary itself."""
        return self.where


@dataclass
class And(Where):
    """All ``conditions`` hold."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$and": [...]}``."""
        return {"$and": [c.to_dict() for c in self.conditions]}


@dataclass
class Or(Where):
    """Any of ``conditions`` holds."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$or": [...]}``."""
        return {"$or": [c.to_dict() for c in self.conditions]}


@dataclass
class _Compare(Where):
    key: str
    value: Any
    _op = ""

    def to_dict(self) -> dict[str, Any]:
        """``{key: {op: value}}``."""
        return {self.key: {self._op: self.value}}


@dataclass
class Eq(_Compare):
    """``key`` equals ``value``."""

    _op = "$eq"


@dataclass
class Ne(_Compare):
    """``key`` differs from ``value``."""

    _op = "$ne"


@dataclass
class Gt(_Compare):
    """``key`` is greater than ``value``."""

    _op = "$gt"


@dataclass
class Gte(_Compare):
    """``key`` is at least ``value``."""

    _op = "$gte"


@dataclass
class Lt(_Compare):
    """``key`` is less than ``value``."""

    _op = "$lt"


@dataclass
class Lte(_Compare):
    """``key`` is at most ``value``."""

    _op = "$lte"


@dataclass
class In(_Compare):
    """``key`` is one of ``value`` (a list)."""

    _op = "$in"


@dataclass
class Nin(_Compare):
    """``key`` is none of ``value`` (a list)."""

    _op = "$nin"


@dataclass
class Contains(_Compare):
    """``key`` contains ``value``."""

    _op = "$contains"


@dataclass
class NotContains(_Compare):
    """``key`` does not contain ``value``."""

    _op = "$not_contains"


@dataclass
class Regex(_Compare):
    """``key`` matches the pattern ``value``."""

    _op = "$regex"


@dataclass
class NotRegex(_Compare):
    """``key`` does not match the pattern ``value``."""

    _op = "$not_regex"


class Key:
    """A field to filter, rank or select on: a metadata key, or ``#id``, ``#document``, ``#embedding``,
    ``#metadata``, ``#score`` (``Key.ID`` … ``Key.SCORE``). ``K`` is the same class."""

    ID: Key
    DOCUMENT: Key
    EMBEDDING: Key
    METADATA: Key
    SCORE: Key

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Key({self.name!r})"

    def __eq__(self, value: Any) -> Eq:  # type: ignore[override]  # Chroma's operators build filters
        return Eq(self.name, value)

    def __ne__(self, value: Any) -> Ne:  # type: ignore[override]
        return Ne(self.name, value)

    def __gt__(self, value: Any) -> Gt:
        return Gt(self.name, value)

    def __ge__(self, value: Any) -> Gte:
        return Gte(self.name, value)

    def __lt__(self, value: Any) -> Lt:
        return Lt(self.name, value)

    def __le__(self, value: Any) -> Lte:
        return Lte(self.name, value)

    def is_in(self, values: list[Any]) -> In:
        """``$in``."""
        return In(self.name, values)

    def not_in(self, values: list[Any]) -> Nin:
        """``$nin``."""
        return Nin(self.name, values)

    def regex(self, pattern: str) -> Regex:
        """``$regex``."""
        return Regex(self.name, pattern)

    def not_regex(self, pattern: str) -> NotRegex:
        """``$not_regex``."""
        return NotRegex(self.name, pattern)

    def contains(self, value: Any) -> Contains:
        """``$contains``."""
        return Contains(self.name, value)

    def not_contains(self, value: Any) -> NotContains:
        """``$not_contains``."""
        return NotContains(self.name, value)


Key.ID, Key.DOCUMENT, Key.EMBEDDING = Key("#id"), Key("#document"), Key("#embedding")
Key.METADATA, Key.SCORE = Key("#metadata"), Key("#score")
K = Key


def _key_name(key: Union[Key, str]) -> str:
    return key.name if isinstance(key, Key) else key


# ---- ranking -----------------------------------------------------------------------------


class Rank:
    """A ranking expression; arithmetic (``+ - * /``, ``abs``, ``exp``, ``log``, ``max``, ``min``) combines them."""

    def to_dict(self) -> dict[str, Any]:
        """Chroma's rank dictionary for this expression."""
        raise NotImplementedError(f"{type(self).__name__} has no dictionary form")

    def __add__(self, other: Any) -> Sum:
        return Sum([self, _rank(other)])

    def __radd__(self, other: Any) -> Sum:
        return Sum([_rank(other), self])

    def __sub__(self, other: Any) -> Sub:
        return Sub(self, _rank(other))

    def __rsub__(self, other: Any) -> Sub:
        return Sub(_rank(other), self)

    def __mul__(self, other: Any) -> Mul:
        return Mul([self, _rank(other)])

    def __rmul__(self, other: Any) -> Mul:
        return Mul([_rank(other), self])

    def __truediv__(self, other: Any) -> Div:
        return Div(self, _rank(other))

    def __rtruediv__(self, other: Any) -> Div:
        return Div(_rank(other), self)

    def __neg__(self) -> Mul:
        return Mul([Val(-1), self])

    def __abs__(self) -> Abs:
        return Abs(self)

    def abs(self) -> Abs:
        """``|rank|``."""
        return Abs(self)

    def exp(self) -> Exp:
        """``e ** rank``."""
        return Exp(self)

    def log(self) -> Log:
        """``ln(rank)``."""
        return Log(self)

    def max(self, other: Any) -> Max:
        """The larger of the two."""
        return Max([self, _rank(other)])

    def min(self, other: Any) -> Min:
        """The smaller of the two."""
        return Min([self, _rank(other)])


def _rank(value: Any) -> Rank:
    if isinstance(value, Rank):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Val(float(value))
    raise TypeError(f"Cannot combine a rank expression with {type(value).__name__}; use a Rank or a number")


@dataclass
class Val(Rank):
    """A constant score."""

    value: float

    def to_dict(self) -> dict[str, Any]:
        """``{"$val": value}``."""
        return {"$val": self.value}


@dataclass
class _Unary(Rank):
    rank: Rank
    _op = ""

    def to_dict(self) -> dict[str, Any]:
        """``{op: rank}``."""
        return {self._op: self.rank.to_dict()}


@dataclass
class Abs(_Unary):
    """``|rank|``."""

    _op = "$abs"


@dataclass
class Exp(_Unary):
    """``e ** rank``."""

    _op = "$exp"


@dataclass
class Log(_Unary):
    """``ln(rank)``."""

    _op = "$log"


@dataclass
class _Many(Rank):
    ranks: list[Rank]
    _op = ""

    def to_dict(self) -> dict[str, Any]:
        """``{op: [ranks]}``."""
        return {self._op: [r.to_dict() for r in self.ranks]}


@dataclass
class Sum(_Many):
    """The sum of ``ranks``."""

    _op = "$sum"


@dataclass
class Mul(_Many):
    """The product of ``ranks``."""

    _op = "$mul"


@dataclass
class Max(_Many):
    """The largest of ``ranks``."""

    _op = "$max"


@dataclass
class Min(_Many):
    """The smallest of ``ranks``."""

    _op = "$min"


@dataclass
class Sub(Rank):
    """``left - right``."""

    left: Rank
    right: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$sub": {"left", "right"}}``."""
        return {"$sub": {"left": self.left.to_dict(), "right": self.right.to_dict()}}


@dataclass
class Div(Rank):
    """``left / right``."""

    left: Rank
    right: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$div": {"left", "right"}}``."""
        return {"$div": {"left": self.left.to_dict(), "right": self.right.to_dict()}}


@dataclass
class Knn(Rank):
    """Nearest-neighbour score of ``query`` (text, dense or sparse vector) against ``key``."""

    query: Any
    key: Union[Key, str] = field(default_factory=lambda: Key.EMBEDDING)
    limit: int = 16
    default: Optional[float] = None
    return_rank: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"$knn": {...}}``."""
        query = self.query
        if isinstance(query, SparseVector):
            query = query.to_dict()
        elif hasattr(query, "tolist"):
            query = query.tolist()
        out: dict[str, Any] = {"query": query, "key": _key_name(self.key), "limit": self.limit}
        if self.default is not None:
            out["default"] = self.default
        if self.return_rank:
            out["return_rank"] = True
        return {"$knn": out}


@dataclass
class Rrf(Rank):
    """Reciprocal rank fusion of ``ranks``: ``-sum(weight_i / (k + rank_i))``."""

    ranks: list[Rank]
    k: int = 60
    weights: Optional[list[float]] = None
    normalize: bool = False

    def __post_init__(self) -> None:
        if not self.ranks:
            raise ValueError("RRF requires at least one rank")
        if self.k <= 0:
            raise ValueError(f"k must be positive, got {self.k}")
        if self.weights is not None and len(self.weights) != len(self.ranks):
            raise ValueError(f"Number of weights ({len(self.weights)}) must match number of ranks ({len(self.ranks)})")

    def to_dict(self) -> dict[str, Any]:
        """The fusion written out with the arithmetic operators, as Chroma sends it."""
        weights = self.weights or [1.0] * len(self.ranks)
        if self.normalize:
            total = sum(weights)
            weights = [w / total for w in weights]
        terms: list[Rank] = [Val(w) / (Val(float(self.k)) + r) for w, r in zip(weights, self.ranks, strict=True)]
        return (-(Sum(terms) if len(terms) > 1 else terms[0])).to_dict()


# ---- the rest of a search ----------------------------------------------------------------


@dataclass
class Limit:
    """Pagination: skip ``offset`` results, return at most ``limit``."""

    offset: int = 0
    limit: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        """``{"offset", "limit"?}``."""
        return {"offset": self.offset, **({"limit": self.limit} if self.limit is not None else {})}


@dataclass
class Select:
    """Which fields results carry: ``Key`` constants or metadata keys."""

    keys: set[Union[Key, str]] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """``{"keys": [...]}``."""
        return {"keys": sorted(_key_name(k) for k in self.keys)}


class Aggregate:
    """Which records to keep from each group."""

    def to_dict(self) -> dict[str, Any]:
        """Chroma's aggregate dictionary."""
        raise NotImplementedError(f"{type(self).__name__} has no dictionary form")


def _names(keys: Any) -> list[str]:
    return [_key_name(k) for k in (keys if isinstance(keys, list) else [keys])]


@dataclass
class MinK(Aggregate):
    """Keep the ``k`` records with the smallest ``keys`` per group."""

    keys: Any
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$min_k": {...}}``."""
        return {"$min_k": {"keys": _names(self.keys), "k": self.k}}


@dataclass
class MaxK(Aggregate):
    """Keep the ``k`` records with the largest ``keys`` per group."""

    keys: Any
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$max_k": {...}}``."""
        return {"$max_k": {"keys": _names(self.keys), "k": self.k}}


@dataclass
class GroupBy:
    """Group results by metadata ``keys`` and keep records per group by ``aggregate``."""

    keys: Any = field(default_factory=list)
    aggregate: Optional[Aggregate] = None

    def to_dict(self) -> dict[str, Any]:
        """``{}`` when unset, else ``{"keys", "aggregate"}``."""
        if not self.keys or self.aggregate is None:
            return {}
        return {"keys": _names(self.keys), "aggregate": self.aggregate.to_dict()}


@dataclass
class _RawRank(Rank):
    rank: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.rank


def _checked(value: Any, kind: type, name: str, raw: Any) -> Any:
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, dict) and raw is not None:
        return raw(value)
    raise TypeError(f"{name} must be a {kind.__name__} object, dict, or None, got {type(value).__name__}")


class Search:
    """A search request: ``where`` filter, ``rank``, ``group_by``, ``limit``, ``select``.

    Build it directly or with the chaining methods; each returns a new ``Search``.
    """

    def __init__(self, where: Any = None, rank: Any = None, group_by: Any = None, limit: Any = None,
                 select: Any = None) -> None:
        self._where = _checked(where, Where, "where", _Raw)
        self._rank = _checked(rank, Rank, "rank", _RawRank)
        self._group_by = _checked(group_by, GroupBy, "group_by", lambda d: GroupBy(**d)) or GroupBy()
        if isinstance(limit, int) and not isinstance(limit, bool):
            limit = Limit(limit=limit)
        self._limit = _checked(limit, Limit, "limit", lambda d: Limit(**d)) or Limit()
        if isinstance(select, (list, set)):
            select = Select(keys=set(select))
        self._select = _checked(select, Select, "select", lambda d: Select(keys=set(d.get("keys", [])))) or Select()

    def _with(self, **changes: Any) -> Search:
        parts = {"where": self._where, "rank": self._rank, "group_by": self._group_by, "limit": self._limit,
                 "select": self._select, **changes}
        return Search(**parts)

    def where(self, where: Any) -> Search:
        """A copy with this filter."""
        return self._with(where=where)

    def rank(self, rank: Any) -> Search:
        """A copy with this ranking."""
        return self._with(rank=rank)

    def group_by(self, group_by: Any) -> Search:
        """A copy with this grouping."""
        return self._with(group_by=group_by)

    def limit(self, limit: int = 0, offset: int = 0) -> Search:
        """A copy returning at most ``limit`` results after ``offset``."""
        return self._with(limit=Limit(offset=offset, limit=limit))

    def select(self, *keys: Union[Key, str]) -> Search:
        """A copy returning these fields."""
        return self._with(select=Select(keys=set(keys)))

    def select_all(self) -> Search:
        """A copy returning document, embedding, metadata and score."""
        return self.select(Key.DOCUMENT, Key.EMBEDDING, Key.METADATA, Key.SCORE)

    def to_dict(self) -> dict[str, Any]:
        """Chroma's wire form of the request."""
        return {"filter": self._where.to_dict() if self._where is not None else None,
                "rank": self._rank.to_dict() if self._rank is not None else None,
                "group_by": self._group_by.to_dict(), "limit": self._limit.to_dict(),
                "select": self._select.to_dict()}


SearchWhere = Where
