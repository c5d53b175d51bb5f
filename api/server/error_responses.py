"""Exceptions -> ``{"error": name, "message": text}`` responses with Chroma's status codes.

Chroma's clients pick the exception class from ``error`` (``chromadb.errors.error_types``),
so the names here decide what users catch. Validation errors that the embedded layer raises
as ``ValueError``/``TypeError`` are 400 ``InvalidArgumentError``, as in Chroma's Python
server. Anything unexpected is a 500 whose body names the failure but carries no traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from sedimentdb import errors

# Chroma 1.x answers a duplicate name with 409; the class name lets Chroma's own clients
# raise UniqueConstraintError (a ChromaError) and ours rebuild the embedded error exactly.
ALREADY_EXISTS = "UniqueConstraintError"


class HTTPProblem(Exception):
    """A request the server refuses before it reaches the database (bad JSON, body too big, ...)."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def error_body(name: str, message: str) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": name, "message": message}


def error_response(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer in Chroma's shape."""
    return JSONResponse(error_body(name, message), status_code=status, headers=headers)


def status_and_name(exc: BaseException) -> tuple[int, str, str]:
    """The (status, wire name, message) a handler's exception is answered with."""
    if isinstance(exc, HTTPProblem):
        return exc.status, exc.name, exc.message
    if isinstance(exc, errors.UniqueConstraintError):
        return 409, ALREADY_EXISTS, exc.message()
    if isinstance(exc, errors.AuthorizationError):
        # Chroma's server answers "reset is disabled" (PermissionDenied) with 403.
        return 403, exc.name(), exc.message()
    if isinstance(exc, errors.ChromaError):
        return exc.code(), exc.name(), exc.message()
    if isinstance(exc, NotImplementedError):
        return 501, "ChromaError", str(exc) or "Not implemented"
    if isinstance(exc, (ValueError, TypeError, OverflowError, KeyError)):
        return 400, errors.InvalidArgumentError.name(), str(exc)
    return 500, errors.InternalError.name(), f"{type(exc).__name__}: {exc}"
