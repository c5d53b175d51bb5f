"""Chroma's ``where`` and ``where_document`` filters, evaluated over one record.

This module is the reference semantics of filtering in SedimentDB: the in-memory tail uses it
directly, and the vectorised per-segment index (``sedimentdb.engine.segments.filterindex``)
must agree with it row for row (a property test checks that).

Semantics (reference/chroma-api.md §5):

* ``{"k": v}`` is ``{"k": {"$eq": v}}``.
* Values fall into kinds: bool, number (int or float, compared numerically and exactly),
  str, array (list) and anything else. Two values are *equal* only when their kinds agree
  and they are equal: ``True`` never equals ``1``, ``1`` equals ``1.0``.
* ``$eq``, ``$in``, ``$gt``/``$gte``/``$lt``/``$lte`` and ``$contains`` need the key to be
  present; ``$ne``, ``$nin`` and ``$not_contains`` are their exact negations, so they match
  records that lack the key (or hold a value of another kind).
* ``$gt``/``$gte``/``$lt``/``$lte`` compare numbers only; a value of another kind never matches.
* ``$contains``/``$not_contains`` on a metadata key test membership in an array value; a
  scalar value never contains anything.
* A record without metadata behaves like one with no keys; a ``None`` document never matches
  ``$contains``/``$regex`` and always matches ``$not_contains``/``$not_regex``.
* A dict with several keys (or a field with several operators) is read as their ``$and``,
  as MongoDB does; Chroma's validator rejects it before it gets here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sedimentdb.engine.rust_regex import compile_rust_regex

MetadataPredicate = Callable[[dict[str, Any] | None], bool]
DocumentPredicate = Callable[[str | None], bool]

EQ, NE, GT, GTE, LT, LTE = "$eq", "$ne", "$gt", "$gte", "$lt", "$lte"
IN, NIN, CONTAINS, NOT_CONTAINS = "$in", "$nin", "$contains", "$not_contains"
REGEX, NOT_REGEX, AND, OR = "$regex", "$not_regex", "$and", "$or"

ORDER_OPS = (GT, GTE, LT, LTE)
FIELD_OPS = (EQ, NE, GT, GTE, LT, LTE, IN, NIN, CONTAINS, NOT_CONTAINS)
DOCUMENT_OPS = (CONTAINS, NOT_CONTAINS, REGEX, NOT_REGEX, AND, OR)

# Value kinds; equality and ordering are only defined within one kind.
BOOL, NUMBER, STRING, ARRAY, OTHER = "bool", "number", "str", "array", "other"


def kind_of(value: Any) -> str:
    """The filter kind of a metadata value or operand (bool is not a number here)."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    return OTHER


def values_equal(a: Any, b: Any) -> bool:
    """Chroma equality: same kind (bool, number or str) and equal value."""
    ka = kind_of(a)
    return ka == kind_of(b) and ka in (BOOL, NUMBER, STRING) and bool(a == b)


def compare(op: str, value: Any, operand: Any) -> bool:
    """``value <op> operand`` for the ordering operators; false unless ``value`` is a number."""
    if kind_of(value) != NUMBER:
        return False
    if op == GT:
        return bool(value > operand)
    if op == GTE:
        return bool(value >= operand)
    if op == LT:
        return bool(value < operand)
    return bool(value <= operand)


def leaf_matches(op: str, operand: Any, present: bool, value: Any) -> bool:
    """Whether one ``{field: {op: operand}}`` condition holds for a field's value.

    ``present`` says whether the record has the field at all. This is the single definition
    of a leaf's meaning; the vectorised segment index falls back to it for unusual values.
    """
    if op == NE:
        return not leaf_matches(EQ, operand, present, value)
    if op == NIN:
        return not leaf_matches(IN, operand, present, value)
    if op == NOT_CONTAINS:
        return not leaf_matches(CONTAINS, operand, present, value)
    if not present:
        return False
    if op == EQ:
        return values_equal(value, operand)
    if op == IN:
        return any(values_equal(value, x) for x in operand)
    if op == CONTAINS:
        return isinstance(value, list) and any(values_equal(e, operand) for e in value)
    return compare(op, value, operand)


def check_leaf(key: str, op: str, operand: Any) -> None:
    """Raise ValueError when a leaf condition cannot be evaluated."""
    if op not in FIELD_OPS:
        raise ValueError(
            f"Unknown operator {op!r} for key {key!r} in where; expected one of {', '.join(FIELD_OPS)}"
        )
    if op in ORDER_OPS:
        if kind_of(operand) != NUMBER:
            raise ValueError(
                f"Expected operand value to be an int or a float for operator {op}, got {operand!r}"
            )
    elif op in (IN, NIN):
        if not isinstance(operand, list):
            raise ValueError(f"Expected operand value to be a list for operator {op}, got {operand!r}")
        for x in operand:
            _check_scalar(key, op, x)
    else:
        _check_scalar(key, op, operand)


def _check_scalar(key: str, op: str, operand: Any) -> None:
    if kind_of(operand) not in (BOOL, NUMBER, STRING):
        raise ValueError(
            f"Expected operand value for operator {op} on key {key!r} to be a str, int, float or bool, "
            f"got {operand!r}"
        )


def field_conditions(key: str, expr: Any) -> list[tuple[str, Any]]:
    """The (operator, operand) pairs of ``{key: expr}``; a literal is shorthand for ``$eq``."""
    if isinstance(expr, dict):
        if not expr:
            raise ValueError(f"Expected an operator for key {key!r} in where, got an empty dict")
        pairs = list(expr.items())
    else:
        pairs = [(EQ, expr)]
    for op, operand in pairs:
        check_leaf(key, op, operand)
    return pairs


def logical_children(op: str, expr: Any, what: str) -> list[dict[str, Any]]:
    """The sub-clauses of ``$and``/``$or``; they must be a list of dicts."""
    if not isinstance(expr, list) or not all(isinstance(c, dict) for c in expr):
        raise ValueError(f"Expected {op} in {what} to be a list of {what} dicts, got {expr!r}")
    return expr


def compile_where(where: dict[str, Any] | None) -> MetadataPredicate:
    """Compile a ``where`` clause into a predicate over one record's metadata (``None`` = none).

    ``None`` or ``{}`` matches every record. Raises ValueError for clauses that make no sense.
    """
    if where is None:
        return _always
    if not isinstance(where, dict):
        raise ValueError(f"Expected where to be a dict, got {where!r}")
    parts = [_compile_where_item(key, expr) for key, expr in where.items()]
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    return lambda meta: all(p(meta) for p in parts)


def _always(_: Any) -> bool:
    return True


def _compile_where_item(key: Any, expr: Any) -> MetadataPredicate:
    if not isinstance(key, str):
        raise ValueError(f"Expected where keys to be strings, got {key!r}")
    if key in (AND, OR):
        subs = [compile_where(c) for c in logical_children(key, expr, "where")]
        if key == AND:
            return lambda meta: all(p(meta) for p in subs)
        return lambda meta: any(p(meta) for p in subs)
    if key.startswith("$"):
        raise ValueError(f"Unknown logical operator {key!r} in where; expected $and or $or")
    conditions = field_conditions(key, expr)

    def predicate(meta: dict[str, Any] | None) -> bool:
        present = meta is not None and key in meta
        value = meta[key] if present else None  # type: ignore[index]
        return all(leaf_matches(op, operand, present, value) for op, operand in conditions)

    return predicate


def document_leaf_matches(op: str, operand: Any, document: str | None) -> bool:
    """Whether one document condition holds; ``operand`` is a str or a compiled regex."""
    if op == NOT_CONTAINS:
        return not document_leaf_matches(CONTAINS, operand, document)
    if op == NOT_REGEX:
        return not document_leaf_matches(REGEX, operand, document)
    if document is None:
        return False
    if op == CONTAINS:
        return operand in document
    return operand.search(document) is not None


def document_operand(op: str, operand: Any) -> Any:
    """Validate a document operand; regexes come back compiled."""
    if not isinstance(operand, str):
        raise ValueError(
            f"Expected where document operand value for operator {op} to be a str, got {operand!r}"
        )
    if op in (REGEX, NOT_REGEX):
        return compile_rust_regex(operand)  # Chroma's dialect; InvalidArgumentError if it refuses it
    return operand


def compile_where_document(where_document: dict[str, Any] | None) -> DocumentPredicate:
    """Compile a ``where_document`` clause into a predicate over one document (``None`` = none).

    ``None`` or ``{}`` matches every record. Raises ValueError for clauses that make no sense.
    """
    if where_document is None:
        return _always
    if not isinstance(where_document, dict):
        raise ValueError(f"Expected where document to be a dict, got {where_document!r}")
    parts = [_compile_document_item(op, expr) for op, expr in where_document.items()]
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    return lambda doc: all(p(doc) for p in parts)


def _compile_document_item(op: Any, expr: Any) -> DocumentPredicate:
    if op in (AND, OR):
        subs = [compile_where_document(c) for c in logical_children(op, expr, "where document")]
        if op == AND:
            return lambda doc: all(p(doc) for p in subs)
        return lambda doc: any(p(doc) for p in subs)
    if op not in DOCUMENT_OPS:
        raise ValueError(
            "Expected where document operator to be one of "
            f"{', '.join(DOCUMENT_OPS)}, got {op!r}"
        )
    operand = document_operand(op, expr)
    return lambda doc: document_leaf_matches(op, operand, doc)
