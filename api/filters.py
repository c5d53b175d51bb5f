"""The ``where`` and ``where_document`` grammar, validated with Chroma's messages (chroma-api.md §5).

Only the shape is checked here; the engine evaluates the filters. The Python client's rules
are stricter than the server's (``$and``/``$or`` need two clauses, ``$regex`` is refused in
``where``), and since the client runs first, its rules are the ones users see.
"""

from __future__ import annotations

from typing import Any

from sedimentdb import errors
from sedimentdb.engine.rust_regex import compile_rust_regex
from sedimentdb.errors import engine_boundary

COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
WHERE_OPERATORS = ("$gt", "$gte", "$lt", "$lte", "$ne", "$eq", "$in", "$nin", "$contains", "$not_contains")
CONTAINS = ("$contains", "$not_contains")
LOGICAL = ("$and", "$or")
DOCUMENT_KEY = "#document"
WHERE_DOCUMENT_OPERATORS = ("$contains", "$not_contains", "$regex", "$not_regex", "$and", "$or")
# JSON objects and arrays a filter may nest: serde_json's default recursion limit, where Chroma's
# server stops parsing. Each $and/$or level is two (an object and its list), so 63 levels fit.
MAX_FILTER_NESTING = 128


class FilterTooDeepError(errors.InvalidArgumentError, ValueError):
    """A filter nested deeper than MAX_FILTER_NESTING: a ValueError like every other filter error,
    and Chroma's InvalidArgumentError (400) over HTTP."""


class UnknownWhereOperatorError(errors.InvalidArgumentError, ValueError):
    """A where key starting with ``$`` that is not ``$and``/``$or``: Chroma's InvalidArgumentError
    ("Invalid where clause"), and a ValueError like every other filter error."""


# Types that hold nothing nested: a list of only these needs no walk.
SCALAR_TYPES = {int, float, str, bool, type(None)}


def filter_nesting(value: Any, limit: int = MAX_FILTER_NESTING) -> int:
    """How many objects and lists ``value`` nests (counting stops just past ``limit``).

    Iterative on purpose: the validators below recurse, and a filter deep enough to exhaust
    Python's stack must be refused before any of them runs (issue 16, item 9).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(children, list) and set(map(type, children)) <= SCALAR_TYPES:
            continue  # a list of plain values (a query vector) nests nothing: skip it at C speed
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_filter_depth(name: str, value: Any) -> None:
    """Refuse ``value`` (a where or where_document) nested deeper than MAX_FILTER_NESTING."""
    if filter_nesting(value) > MAX_FILTER_NESTING:
        raise FilterTooDeepError(
            f"Expected {name} to nest at most {MAX_FILTER_NESTING} objects and lists "
            f"({MAX_FILTER_NESTING // 2 - 1} levels of $and/$or), got a deeper {name}"
        )


def validate_where(where: Any) -> None:
    """Raise ValueError unless ``where`` is a well-formed metadata filter."""
    if not isinstance(where, dict):
        raise ValueError(f"Expected where to be a dict, got {where}")
    if len(where) != 1:
        raise ValueError(f"Expected where to have exactly one operator, got {where}")
    for key, value in where.items():
        if not isinstance(key, str):
            raise ValueError(f"Expected where key to be a str, got {key}")
        if key in CONTAINS:
            raise ValueError(
                f"Expected where key to be a metadata field name or a logical operator ($and, $or), got {key}"
            )
        if key in LOGICAL:
            _validate_logical(value)
            continue
        if key.startswith("$"):  # Chroma passes it on and its engine refuses it; so does ours, as a 400
            raise UnknownWhereOperatorError(
                f"Invalid where clause: unknown logical operator {key}; expected $and or $or")
        if not isinstance(value, (str, int, float, dict)):
            raise ValueError(f"Expected where value to be a str, int, float, or operator expression, got {value}")
        if isinstance(value, dict):
            _validate_operator_expression(key, value)


def _validate_logical(value: Any) -> None:
    if not isinstance(value, list):
        raise ValueError(f"Expected where value for $and or $or to be a list of where expressions, got {value}")
    if len(value) <= 1:
        raise ValueError(
            f"Expected where value for $and or $or to be a list with at least two where expressions, got {value}"
        )
    for clause in value:
        validate_where(clause)


def _validate_operator_expression(key: str, expression: dict[Any, Any]) -> None:
    if len(expression) != 1:
        raise ValueError(f"Expected operator expression to have exactly one operator, got {expression}")
    for operator, operand in expression.items():
        if operator in COMPARISONS and not isinstance(operand, (int, float)):
            raise ValueError(f"Expected operand value to be an int or a float for operator {operator}, got {operand}")
        if operator in ("$in", "$nin") and not isinstance(operand, list):
            raise ValueError(f"Expected operand value to be an list for operator {operator}, got {operand}")
        if operator in CONTAINS:
            _validate_contains(key, operator, operand)
        if operator not in WHERE_OPERATORS:
            raise ValueError(f"Expected where operator to be one of {', '.join(WHERE_OPERATORS)}, got {operator}")
        if not isinstance(operand, (str, int, float, list)):
            raise ValueError(
                f"Expected where operand value to be a str, int, float, or list of those type, got {operand}"
            )
        if isinstance(operand, list) and (
            len(operand) == 0 or not all(isinstance(x, type(operand[0])) for x in operand)
        ):
            raise ValueError(
                "Expected where operand value to be a non-empty list, and all values to be of the same type "
                f"got {operand}"
            )


def _validate_contains(key: str, operator: str, operand: Any) -> None:
    if key == DOCUMENT_KEY:
        if not isinstance(operand, str):
            raise ValueError(f"Expected operand value to be a str for operator {operator} on #document, got {operand}")
    elif not isinstance(operand, (str, int, float)):
        raise ValueError(
            f"Expected operand value to be a str, int, float, or bool for operator {operator}, got {operand}"
        )


def validate_where_document(where_document: Any) -> None:
    """Raise ValueError unless ``where_document`` is a well-formed document filter."""
    if not isinstance(where_document, dict):
        raise ValueError(f"Expected where document to be a dictionary, got {where_document}")
    if len(where_document) != 1:
        raise ValueError(f"Expected where document to have exactly one operator, got {where_document}")
    for operator, operand in where_document.items():
        if operator not in WHERE_DOCUMENT_OPERATORS:
            raise ValueError(
                "Expected where document operator to be one of "
                f"{', '.join(WHERE_DOCUMENT_OPERATORS)}, got {operator}"
            )
        if operator in LOGICAL:
            if not isinstance(operand, list):
                raise ValueError(
                    "Expected document value for $and or $or to be a list of where document expressions, "
                    f"got {operand}"
                )
            if len(operand) <= 1:
                raise ValueError(
                    "Expected document value for $and or $or to be a list with at least two where document "
                    f"expressions, got {operand}"
                )
            for clause in operand:
                validate_where_document(clause)
        elif not isinstance(operand, str):
            raise ValueError(f"Expected where document operand value for operator {operator} to be a str, got {operand}")
        elif len(operand) == 0:
            raise ValueError(f"Expected where document operand value for operator {operator} to be a non-empty str")


def validate_filters(where: Any, where_document: Any) -> None:
    """Both filters, when given (their depth first: the checks recurse)."""
    check_filter_depth("where", where)
    check_filter_depth("where document", where_document)
    if where is not None:
        validate_where(where)
    if where_document is not None:
        validate_where_document(where_document)


def check_where_server(where: Any) -> None:
    """What the server's parser refuses after the client accepted it: booleans in range comparisons."""
    if isinstance(where, dict):
        for key, value in where.items():
            if key in LOGICAL and isinstance(value, list):
                for clause in value:
                    check_where_server(clause)
            elif isinstance(value, dict):
                for operator, operand in value.items():
                    if operator in COMPARISONS and isinstance(operand, bool):
                        raise errors.InvalidArgumentError("Invalid where clause")


def _regex_operands(clause: Any) -> list[str]:
    if isinstance(clause, list):
        return [p for item in clause for p in _regex_operands(item)]
    if not isinstance(clause, dict):
        return []
    found = [v for k, v in clause.items() if k in ("$regex", "$not_regex") and isinstance(v, str)]
    return found + [p for v in clause.values() for p in _regex_operands(v)]


def check_regexes(where: Any, where_document: Any) -> None:
    """Every ``$regex``/``$not_regex`` pattern is valid in Chroma's (Rust) dialect, checked up front.

    Chroma refuses a bad pattern before it reads anything, so an empty collection refuses it too.
    """
    for pattern in _regex_operands(where) + _regex_operands(where_document):
        with engine_boundary():
            compile_rust_regex(pattern)


def _is_document_clause(clause: Any) -> bool:
    return isinstance(clause, dict) and len(clause) == 1 and DOCUMENT_KEY in clause


def mentions_key(where: Any, key: str) -> bool:
    """Whether a clause on ``key`` appears anywhere in the filter."""
    if isinstance(where, dict):
        return any(k == key or mentions_key(v, key) for k, v in where.items())
    if isinstance(where, list):
        return any(mentions_key(c, key) for c in where)
    return False


def _mentions_document(where: Any) -> bool:
    return mentions_key(where, DOCUMENT_KEY)


def lift_document_clauses(where: Any, where_document: Any) -> tuple[Any, Any]:
    """Move ``{"#document": {"$contains": ...}}`` clauses of ``where`` into ``where_document``.

    Chroma 1.x accepts document filters inside ``where``; the engine evaluates document filters
    only as ``where_document``. A top-level clause, or one inside a top-level ``$and``, moves
    over exactly (the two filters are ANDed anyway).
    """
    if not _mentions_document(where):
        return where, where_document
    if _is_document_clause(where):
        kept: list[Any] = []
        lifted = [where[DOCUMENT_KEY]]
    elif isinstance(where, dict) and "$and" in where and not any(_mentions_document(c) for c in where["$and"]
                                                                  if not _is_document_clause(c)):
        kept = [c for c in where["$and"] if not _is_document_clause(c)]
        lifted = [c[DOCUMENT_KEY] for c in where["$and"] if _is_document_clause(c)]
    else:
        raise errors.InvalidArgumentError(
            "#document filters are supported at the top level of where or inside a top-level $and only"
        )
    if where_document is not None:
        lifted.append(where_document)
    new_where = None if not kept else kept[0] if len(kept) == 1 else {"$and": kept}
    new_document = lifted[0] if len(lifted) == 1 else {"$and": lifted}
    return new_where, new_document
