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


class ValueColumn:
    """Typed columns over ``size`` slots; slots not given a value are absent."""

    def __init__(self, size: int, slots: Sequence[int], values: Sequence[Any]) -> None:
        self.size = size
        self.tags = np.zeros(size, dtype=np.uint8)
        tags = _tags(values)
        slot_arr = np.asarray(slots, dtype=np.int64)
        self.tags[slot_arr] = tags
        self.bools = np.zeros(size, dtype=bool)
        self.ints = np.zeros(size, dtype=np.int64)
        self.floats = np.zeros(size, dtype=np.float64)
        self.codes = np.full(size, -1, dtype=np.int64)
        self.dictionary: dict[str, int] = {}
        self.other: list[tuple[int, Any]] = []
        self._fill(slot_arr, tags, values)
        self.int_rows = self.tags == TAG_INT
        self.float_rows = self.tags == TAG_FLOAT
        self.ints_as_float = self.ints.astype(np.float64)
        self.ints_exact = bool((np.abs(self.ints[self.int_rows].astype(np.float64)) <= EXACT_FLOAT_INT).all())

    def _fill(self, slots: np.ndarray, tags: np.ndarray, values: Sequence[Any]) -> None:
        def pick(tag: int) -> tuple[np.ndarray, list[Any]]:
            idx = np.flatnonzero(tags == tag)
            return slots[idx], [values[i] for i in idx.tolist()]

        s, v = pick(TAG_BOOL)
        self.bools[s] = np.asarray(v, dtype=bool)
        s, v = pick(TAG_INT)
        self.ints[s] = np.asarray(v, dtype=np.int64)
        s, v = pick(TAG_FLOAT)
        self.floats[s] = np.asarray(v, dtype=np.float64)
        s, v = pick(TAG_STR)
        self.codes[s] = [self.dictionary.setdefault(x, len(self.dictionary)) for x in v]
        # Arrays never equal or order against a scalar; only odd values need the slow path.
        s, v = pick(TAG_OTHER)
        self.other.extend(zip(s.tolist(), v, strict=True))

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
    """Everything about one metadata key over the rows of a segment."""

    def __init__(self, n: int, rows: list[int], values: list[Any]) -> None:
        self.n = n
        self.values = ValueColumn(n, rows, values)
        owners: list[int] = []
        elements: list[Any] = []
        for row, value in zip(rows, values, strict=True):
            if type(value) is list:
                owners.extend([row] * len(value))
                elements.extend(value)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.elements = ValueColumn(len(elements), range(len(elements)), elements)

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


class FilterIndex:
    """Per-key columns of a segment's metadata plus its documents, for vectorised matching."""

    def __init__(self, metadatas: Sequence[dict[str, Any] | None], documents: Sequence[str | None]) -> None:
        self.n = len(metadatas)
        self.documents = documents
        by_key: dict[str, tuple[list[int], list[Any]]] = {}
        for row, meta in enumerate(metadatas):
            if meta:
                for key, value in meta.items():
                    slot = by_key.get(key)
                    if slot is None:
                        slot = by_key[key] = ([], [])
                    slot[0].append(row)
                    slot[1].append(value)
        self.keys = {key: KeyIndex(self.n, rows, values) for key, (rows, values) in by_key.items()}

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
                (W.document_leaf_matches(op, operand, d) for d in self.documents), dtype=bool, count=self.n
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
