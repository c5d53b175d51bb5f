"""Name rules for collections, tenants and databases (Chroma 1.x, chroma-api.md §2)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sedimentdb import errors

_NAME_CHARS = re.compile(r"^[a-zA-Z0-9._-]{3,512}$")
_NAME_MESSAGE = (
    "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
    "character in [a-zA-Z0-9]. Got: {name}"
)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def name_problem(name: Any) -> str | None:
    """What is wrong with a collection or database name, in Chroma's words (``validate_name``), or ``None``.

    3-512 chars of ``[a-zA-Z0-9._-]``, alphanumeric ends, no ``..``, not an IP address.
    """
    ok = (
        isinstance(name, str)
        and _NAME_CHARS.match(name) is not None
        and name[0].isalnum()
        and name[-1].isalnum()
    )
    if not ok:
        return _NAME_MESSAGE.format(name=name)
    # Chroma checks these two after the characters, each with its own message.
    if ".." in name:
        return f"Expected a name that does not contains two consecutive periods (..). Got {name}"
    if _is_ip_address(name):
        return f"Expected a name that is not a valid ip address. Got {name}"
    return None


def validate_collection_name(name: Any, field: str = "name") -> str:
    """A valid collection name (:func:`name_problem`), else ``InvalidArgumentError``.

    ``field`` is the request field the server names in its message (``new_name`` on rename).
    """
    problem = name_problem(name)
    if problem is not None:
        raise errors.InvalidArgumentError(f"Validation error: {field}: {problem}")
    return str(name)


def validate_database_name_over_http(name: str) -> str:
    """Chroma's HTTP server checks a new database's name with the collection-name rule first, and
    says what is wrong without a prefix (its embedded client only checks the length)."""
    problem = name_problem(name)
    if problem is not None:
        raise errors.InvalidArgumentError(problem)
    return name


def validate_database_name(name: str) -> str:
    """At least three characters."""
    if len(name) < 3:
        raise errors.InvalidArgumentError("database name must be at least 3 characters")
    return name


def validate_tenant_name(name: str) -> str:
    """At least three characters."""
    if len(name) < 3:
        raise errors.InvalidArgumentError(
            f'Validation error: name: Validation error: length [{{"value": String("{name}"), "min": Number(3)}}]'
        )
    return name
