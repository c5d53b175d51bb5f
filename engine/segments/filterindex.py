"""Vectorised ``where``/``where_document`` evaluation over all rows of a segment.

For each metadata key the index holds typed numpy columns (a kind tag per row, plus bool,
int64, float64 and dictionary-coded string values) and, for array values, the flattened
elements with the row that owns each. A leaf condition is then a few numpy comparisons over
the column, so a filter over 100k rows costs milliseconds. Values the typed columns cannot
represent exactly (ints beyond int64, nested dicts) are kept aside and evaluated with the
reference predicate, ``sedimentdb.engine.filters.leaf_matches``; the result must equal
``compile_where`` row by row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sedimentdb.engine import filters as W

TAG_ABSENT, TAG_BOOL, TAG_INT, TAG_FLOAT, TAG_STR, TAG_ARRAY, TAG_OTHER = range(7)
_TAG_OF_TYPE = {bool: TAG_BOOL, int: TAG_INT, float: TAG_FLOAT, str: TAG_STR, list: TAG_ARRAY}
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# Integers up to this magnitude convert to float64 exactly, so mixed comparisons stay exact.
EXACT_FLOAT_INT = 1 << 53
_NUMPY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    W.EQ: operator.eq, W.GT: operator.gt, W.GTE: operator.ge, W.LT: operator.lt, W.LTE: operator.le,
}


def _tags(values: Sequence[Any]) -> np.ndarray:
    """The tag of each value; ints outside int64 are TAG_OTHER (kept as Python objects)."""
    get = _TAG_OF_TYPE.get
    tags = np.fromiter((get(t, TAG_OTHER) for t in map(type, values)), dtype=np.uint8, count=len(values))
    ints = np.flatnonzero(tags == TAG_INT)
    if ints.size:
        try:
            np.asarray([values[i] for i in ints.tolist()], dtype=np.int64)
        except OverflowError:
            big = [i for i in ints.tolist() if not INT64_MIN <= values[i] <= INT64_MAX]
            tags[big] = TAG_OTHER
    return tags


@dataclass
class StoredValues:
    """The compact, persisted form of a value column.

    ``tags`` has one entry per slot; every other field holds only the slots of its own tag,
    in slot order (so the tags say which slot each value belongs to).
    """

    tags: np.ndarray
    bools: np.ndarray
    ints: np.ndarray
    floats: np.ndarray
    codes: np.ndarray
    dictionary: list[str]
    others: list[Any]

    @classmethod
    def build(cls, size: int, slots: Sequence[int], values: Sequence[Any]) -> StoredValues:
        """From ``values`` at ascending ``slots``; other slots are absent."""
        value_tags = _tags(values)
        tags = np.zeros(size, dtype=np.uint8)
        tags[np.asarray(slots, dtype=np.int64)] = value_tags

        def pick(tag: int) -> list[Any]:
            return [values[i] for i in np.flatnonzero(value_tags == tag).tolist()]

        dictionary: dict[str, int] = {}
        codes = [dictionary.setdefault(x, len(dictionary)) for x in pick(TAG_STR)]
        return cls(
            tags=tags,
            bools=np.asarray(pick(TAG_BOOL), dtype=bool),
            ints=np.asarray(pick(TAG_INT), dtype=np.int64),
            floats=np.asarray(pick(TAG_FLOAT), dtype=np.float64),
            codes=np.asarray(codes, dtype=np.int64),
            dictionary=list(dictionary),
            others=pick(TAG_OTHER),
        )


class ValueColumn:
    """Dense typed columns over ``size`` slots, ready for vectorised comparisons."""

    def __init__(self, stored: StoredValues) -> None:
        self.stored = stored
        self.tags = stored.tags
        self.size = size = len(stored.tags)
        self.int_rows = self.tags == TAG_INT
        self.float_rows = self.tags == TAG_FLOAT
        self.bools = np.zeros(size, dtype=bool)
        self.bools[self.tags == TAG_BOOL] = stored.bools
        self.ints = np.zeros(size, dtype=np.int64)
        self.ints[self.int_rows] = stored.ints
        self.floats = np.zeros(size, dtype=np.float64)
        self.floats[self.float_rows] = stored.floats
        self.codes = np.full(size, -1, dtype=np.int64)
        self.codes[self.tags == TAG_STR] = stored.codes
        self.dictionary = {value: code for code, value in enumerate(stored.dictionary)}
        # Arrays never equal or order against a scalar; only odd values need the slow path.
        other_slots = np.flatnonzero(self.tags == TAG_OTHER).tolist()
        if len(other_slots) != len(stored.others):
            raise ValueError("value column has a different number of odd values than tags")
        self.other: list[tuple[int, Any]] = list(zip(other_slots, stored.others, strict=True))
        self.ints_as_float = self.ints.astype(np.float64)
        # Compared as int64: converted to float first, 2**53 + 1 rounds to 2**53 and passes.
        self.ints_exact = bool(((stored.ints >= -EXACT_FLOAT_INT) & (stored.ints <= EXACT_FLOAT_INT)).all())

    @classmethod
    def build(cls, size: int, slots: Sequence[int], values: Sequence[Any]) -> ValueColumn:
        """A column from ``values`` at ascending ``slots``."""
        return cls(StoredValues.build(size, slots, values))

    def equal(self, operand: Any) -> np.ndarray:
        """Slots whose value equals ``operand`` (Chroma equality)."""
        kind = W.kind_of(operand)
        if kind == W.BOOL:
            out = (self.tags == TAG_BOOL) & (self.bools == operand)
        elif kind == W.STRING:
            out = self.codes == self.dictionary.get(operand, -2)
        else:
            out = self._numeric(W.EQ, operand)
            return out  # _numeric already handled the odd values
        self._apply_other(out, lambda v: W.values_equal(v, operand))
        return out

    def order(self, op: str, operand: Any) -> np.ndarray:
        """Slots whose value is a number satisfying ``value <op> operand``."""
        return self._numeric(op, operand)

    def _numeric(self, op: str, x: Any) -> np.ndarray:
        fn = _NUMPY_OPS[op]
        out = np.zeros(self.size, dtype=bool)
        out |= self._int_part(op, fn, x)
        if isinstance(x, float) or abs(x) <= EXACT_FLOAT_INT:
            out |= self.float_rows & fn(self.floats, float(x))
        else:
            self._python(out, self.float_rows, self.floats, op, x)
        reference = (lambda v: W.values_equal(v, x)) if op == W.EQ else (lambda v: W.compare(op, v, x))
        self._apply_other(out, reference)
        return out

    def _int_part(self, op: str, fn: Callable[[Any, Any], Any], x: Any) -> np.ndarray:
        rows = self.int_rows
        if isinstance(x, int):
            if INT64_MIN <= x <= INT64_MAX:
                return rows & fn(self.ints, x)
            # Beyond int64 every stored int compares the same way.
            return rows & bool(fn(0, x))
        if self.ints_exact:
            return rows & fn(self.ints_as_float, x)
        out = np.zeros(self.size, dtype=bool)
        self._python(out, rows, self.ints, op, x)
        return out

    def _python(self, out: np.ndarray, rows: np.ndarray, column: np.ndarray, op: str, x: Any) -> None:
        idx = np.flatnonzero(rows)
        values = column[idx].tolist()
        ok = [W.values_equal(v, x) if op == W.EQ else W.compare(op, v, x) for v in values]
        out[idx[np.asarray(ok, dtype=bool)]] = True

    def _apply_other(self, out: np.ndarray, predicate: Callable[[Any], bool]) -> None:
        for slot, value in self.other:
            if predicate(value):
                out[slot] = True


class KeyIndex:
    """Everything about one metadata key over the rows of a segment.

    ``values`` holds each row's value; ``elements`` holds the elements of array values,
    flattened, and ``owners`` the row each element belongs to (for ``$contains``).
    """

    def __init__(self, n: int, values: ValueColumn, owners: np.ndarray, elements: ValueColumn) -> None:
        if values.size != n or len(owners) != elements.size or (owners.size and int(owners.max()) >= n):
            raise ValueError("key index columns disagree on their sizes")
        self.n = n
        self.values = values
        self.owners = owners
        self.elements = elements

    @classmethod
    def build(cls, n: int, rows: list[int], values: list[Any]) -> KeyIndex:
        """From the (ascending) rows that have the key and their values."""
        owners: list[int] = []
        elements: list[Any] = []
        for row, value in zip(rows, values, strict=True):
            if type(value) is list:
                owners.extend([row] * len(value))
                elements.extend(value)
        return cls(n, ValueColumn.build(n, rows, values), np.asarray(owners, dtype=np.int64),
                   ValueColumn.build(len(elements), range(len(elements)), elements))

    def positive(self, op: str, operand: Any) -> np.ndarray:
        """Rows satisfying a positive leaf ($eq, $in, $contains or an ordering)."""
        if op == W.EQ:
            return self.values.equal(operand)
        if op == W.IN:
            out = np.zeros(self.n, dtype=bool)
            for x in operand:
                out |= self.values.equal(x)
            return out
        if op == W.CONTAINS:
            out = np.zeros(self.n, dtype=bool)
            out[self.owners[self.elements.equal(operand)]] = True
            return out
        return self.values.order(op, operand)


_NEGATION = {W.NE: W.EQ, W.NIN: W.IN, W.NOT_CONTAINS: W.CONTAINS}


# What the index keeps for an object value: its kind is all a filter can see.
OPAQUE: dict[str, Any] = {}


class FilterIndex:
    """Per-key columns of a segment's metadata plus its documents, for vectorised matching.

    ``documents`` is a zero-argument callable returning the documents column, so documents
    are only decoded when a ``where_document`` is evaluated.
    """

    def __init__(self, n: int, keys: dict[str, KeyIndex], documents: Callable[[], Sequence[str | None]]) -> None:
        self.n = n
        self.keys = keys
        self._documents = documents

    @classmethod
    def build(cls, metadatas: Sequence[dict[str, Any] | None],
              documents: Callable[[], Sequence[str | None]]) -> FilterIndex:
        """Index ``metadatas`` (one per row)."""
        n = len(metadatas)
        by_key: dict[str, tuple[list[int], list[Any]]] = {}
        for row, meta in enumerate(metadatas):
            if meta:
                for key, value in meta.items():
                    slot = by_key.get(key)
                    if slot is None:
                        slot = by_key[key] = ([], [])
                    slot[0].append(row)
                    # No filter looks inside an object (filters.kind_of: OTHER is never equal,
                    # never ordered, has no elements): a sparse vector is indexed as an empty
                    # one instead of a third copy of its numbers (metadata.col, sparse.idx).
                    slot[1].append(OPAQUE if type(value) is dict else value)
        return cls(n, {key: KeyIndex.build(n, rows, values) for key, (rows, values) in by_key.items()},
                   documents)

    def match(self, where: dict[str, Any] | None, where_document: dict[str, Any] | None) -> np.ndarray:
        """Boolean mask of the rows satisfying both filters (None = no filter)."""
        mask = self.where(where) if where is not None else np.ones(self.n, dtype=bool)
        if where_document is not None and mask.any():
            mask &= self.where_document(where_document)
        return mask

    def where(self, where: dict[str, Any]) -> np.ndarray:
        """Rows matching a ``where`` clause."""
        if not isinstance(where, dict):
            raise ValueError(f"Expected where to be a dict, got {where!r}")
        mask = np.ones(self.n, dtype=bool)
        for key, expr in where.items():
            mask &= self._where_item(key, expr)
        return mask

    def _where_item(self, key: Any, expr: Any) -> np.ndarray:
        if not isinstance(key, str):
            raise ValueError(f"Expected where keys to be strings, got {key!r}")
        if key in (W.AND, W.OR):
            return _combine(key, [self.where(c) for c in W.logical_children(key, expr, "where")], self.n)
        if key.startswith("$"):
            raise ValueError(f"Unknown logical operator {key!r} in where; expected $and or $or")
        mask = np.ones(self.n, dtype=bool)
        for op, operand in W.field_conditions(key, expr):
            mask &= self._leaf(key, op, operand)
        return mask

    def _leaf(self, key: str, op: str, operand: Any) -> np.ndarray:
        index = self.keys.get(key)
        if index is None:
            return np.full(self.n, W.leaf_matches(op, operand, False, None), dtype=bool)
        if op in _NEGATION:
            return ~index.positive(_NEGATION[op], operand)
        return index.positive(op, operand)

    def where_document(self, where_document: dict[str, Any]) -> np.ndarray:
        """Rows whose document matches a ``where_document`` clause."""
        if not isinstance(where_document, dict):
            raise ValueError(f"Expected where document to be a dict, got {where_document!r}")
        mask = np.ones(self.n, dtype=bool)
        for op, expr in where_document.items():
            if op in (W.AND, W.OR):
                children = W.logical_children(op, expr, "where document")
                mask &= _combine(op, [self.where_document(c) for c in children], self.n)
                continue
            if op not in W.DOCUMENT_OPS:
                raise ValueError(
                    f"Expected where document operator to be one of {', '.join(W.DOCUMENT_OPS)}, got {op!r}"
                )
            operand = W.document_operand(op, expr)
            mask &= np.fromiter(
                (W.document_leaf_matches(op, operand, d) for d in self._documents()), dtype=bool, count=self.n
            )
        return mask


def _combine(op: str, masks: list[np.ndarray], n: int) -> np.ndarray:
    if op == W.AND:
        out = np.ones(n, dtype=bool)
        for m in masks:
            out &= m
    else:
        out = np.zeros(n, dtype=bool)
        for m in masks:
            out |= m
    return out
