"""Chroma's error classes (``chromadb.errors``), their wire names, and the engine boundary.

Every class keeps Chroma's ``name()`` and ``code()`` (the HTTP status), because user code
catches them by class and the HTTP layer sends ``{"error": name(), "message": ...}``.
:func:`translate` is the one place where engine errors become Chroma errors.
"""

from __future__ import annotations

from typing import Any

from sedimentdb.engine import storage_errors as engine_errors


class ChromaError(Exception):
    """Root of Chroma's errors: an HTTP status (``code``), a wire ``name`` and a ``message``."""

    trace_id: str | None = None

    def code(self) -> int:
        """The HTTP status this error is served with."""
        return 400

    def message(self) -> str:
        """The human-readable message (the exception's arguments joined)."""
        return ", ".join(str(a) for a in self.args)

    @classmethod
    def name(cls) -> str:
        """The error's name on the wire."""
        return "ChromaError"


class InvalidDimensionException(ChromaError):
    """An embedding has the wrong dimension (the 0.4-0.6 class)."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "InvalidDimension"


class IDAlreadyExistsError(ChromaError):
    """An id already exists."""

    def code(self) -> int:
        """HTTP 409."""
        return 409

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "IDAlreadyExists"


class DuplicateIDError(ChromaError):
    """The same id appears more than once in one call."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "DuplicateID"


class InvalidArgumentError(ChromaError):
    """A value the database cannot accept."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "InvalidArgumentError"


class InvalidUUIDError(ChromaError):
    """A malformed UUID."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "InvalidUUID"


class InvalidHTTPVersion(ChromaError):
    """An unsupported HTTP version."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "InvalidHTTPVersion"


class AuthorizationError(ChromaError):
    """The caller may not do this (e.g. reset while it is disabled)."""

    def code(self) -> int:
        """HTTP 401."""
        return 401

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "AuthorizationError"


class NotFoundError(ChromaError):
    """A tenant, database or collection does not exist."""

    def code(self) -> int:
        """HTTP 404."""
        return 404

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "NotFoundError"


class UniqueConstraintError(ChromaError):
    """A name is already taken (the 0.4-0.6 class)."""

    def code(self) -> int:
        """HTTP 409."""
        return 409

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "UniqueConstraintError"


class BatchSizeExceededError(ChromaError):
    """A batch is larger than the maximum batch size."""

    def code(self) -> int:
        """HTTP 413."""
        return 413

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "BatchSizeExceededError"


class VersionMismatchError(ChromaError):
    """Client and server versions are incompatible."""

    def code(self) -> int:
        """HTTP 500."""
        return 500

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "VersionMismatchError"


class InternalError(ChromaError):
    """Anything else that went wrong inside the database."""

    def code(self) -> int:
        """HTTP 500."""
        return 500

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "InternalError"


class RateLimitError(ChromaError):
    """Too many requests."""

    def code(self) -> int:
        """HTTP 429."""
        return 429

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "RateLimitError"


class BackoffError(ChromaError):
    """The server asks the client to back off."""

    def code(self) -> int:
        """HTTP 429."""
        return 429

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "Backoff"


class QuotaError(ChromaError):
    """A quota was exceeded."""

    def code(self) -> int:
        """HTTP 400."""
        return 400

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "QuotaError"


class StaleReadError(ChromaError):
    """A read observed stale data."""

    def code(self) -> int:
        """HTTP 412."""
        return 412

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "StaleReadError"


class ConditionalWriteConflictError(ChromaError):
    """A conditional write lost a race."""

    def code(self) -> int:
        """HTTP 409."""
        return 409

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "ConditionalWriteConflictError"


class TransactionsNotSupportedError(ChromaError):
    """Transactions are not supported."""

    def code(self) -> int:
        """HTTP 501."""
        return 501

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "TransactionsNotSupported"


class ChromaAuthError(ChromaError):
    """Authentication failed; the message is always ``Forbidden``."""

    def code(self) -> int:
        """HTTP 403."""
        return 403

    def message(self) -> str:
        """Chroma never says why."""
        return "Forbidden"

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "AuthError"


class ReadOnlyError(ChromaError):
    """A write on a client opened with ``Settings(sediment_read_only=True)`` (SedimentDB's own).

    Not one of Chroma's classes: a Chroma client receiving it over HTTP raises a plain
    ChromaError with this message.
    """

    def code(self) -> int:
        """HTTP 403: the request is understood, and refused for what the database is."""
        return 403

    @classmethod
    def name(cls) -> str:
        """The wire name."""
        return "ReadOnlyError"


def read_only(operation: str) -> ReadOnlyError:
    """The error for ``operation`` (e.g. ``add``) on a database opened read-only.

    The message names no path: over HTTP it would tell clients where the server's files are.
    """
    return ReadOnlyError(f"Cannot {operation}: the database is opened read-only (sediment_read_only=True); "
                         "write through the process that owns it")


class _AlreadyExistsError(InternalError, UniqueConstraintError):
    """A duplicate tenant, database or collection.

    Chroma 1.x surfaces these as ``InternalError`` locally; 0.4-0.6 raised
    ``UniqueConstraintError``. Being both lets code written for either version catch it.
    """

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Its class is named InternalError (below), which pickle would look up and find to be
        # another class: rebuild it through the factory instead.
        return already_exists, (self.message(),)


# Tracebacks and type(e).__name__ show what Chroma 1.x shows.
_AlreadyExistsError.__name__ = _AlreadyExistsError.__qualname__ = "InternalError"


error_types: dict[str, type[ChromaError]] = {
    cls.name(): cls
    for cls in (
        InvalidDimensionException, IDAlreadyExistsError, DuplicateIDError, InvalidArgumentError,
        InvalidUUIDError, InvalidHTTPVersion, AuthorizationError, NotFoundError, UniqueConstraintError,
        BatchSizeExceededError, VersionMismatchError, InternalError, RateLimitError, BackoffError,
        QuotaError, StaleReadError, ConditionalWriteConflictError, TransactionsNotSupportedError,
        ChromaAuthError, ReadOnlyError, ChromaError,
    )
}
# Older servers send the short name for invalid arguments.
error_types["InvalidArgument"] = InvalidArgumentError


def already_exists(message: str) -> ChromaError:
    """The error Chroma raises for a duplicate tenant, database or collection name."""
    return _AlreadyExistsError(message)


def translate(exc: engine_errors.StorageError) -> ChromaError:
    """The Chroma error for an engine error (the one boundary between the two trees).

    Argument and lookup errors keep the engine's message, which is written in Chroma's words;
    everything about storage (corruption, I/O, locks, a closed database) is an InternalError
    whose message says what happened and what to do.
    """
    if isinstance(exc, engine_errors.InvalidArgumentError):
        return InvalidArgumentError(exc.message)
    if isinstance(exc, engine_errors.NotFoundError):
        return NotFoundError(exc.message)
    if isinstance(exc, engine_errors.AlreadyExistsError):
        return already_exists(exc.message)
    if isinstance(exc, engine_errors.ReadOnlyError):
        return ReadOnlyError(exc.message)
    return InternalError(str(exc))


class _EngineBoundary:
    """The context manager :func:`engine_boundary` returns (stateless, so one serves every
    block; a class rather than a generator: it wraps every call, queries included)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, engine_errors.StorageError):
            raise translate(exc) from exc


_BOUNDARY = _EngineBoundary()


def engine_boundary() -> _EngineBoundary:
    """Run engine calls inside this block; their errors leave it as Chroma errors."""
    return _BOUNDARY
