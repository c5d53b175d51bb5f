"""The fixed structlog key names used across SedimentDB.

Log calls use these keys and no others, so operators can filter and alert on them. The
library never configures logging; entry points (the CLI, the server) do.
"""

import logging
import sys
from typing import Any

EVENT = "event"
PATH = "path"
FILE = "file"
OFFSET = "offset"
LSN = "lsn"
FIRST_LSN = "first_lsn"
LAST_LSN = "last_lsn"
COLLECTION = "collection"
SEGMENT = "segment"
MANIFEST = "manifest"
GENERATION = "generation"
RECORDS = "records"
BYTES = "bytes"
DURATION_MS = "duration_ms"
ERROR = "error"
HINT = "hint"
MODE = "mode"
COUNT = "count"
DESTINATION = "destination"  # a replication archive (directory, s3:// or http:// URL)


class _QuietUntilConfigured:
    """A logger that is structlog's when the application configured structlog, and stdlib's otherwise.

    The library never configures logging. structlog's unconfigured default prints every
    level to stdout, which would put "database opened" lines into every user script; when
    nothing is configured we hand the same key/value events to the stdlib logger of the same
    name instead, which by Python's default shows warnings and errors only (on stderr).
    structlog is not even imported until the application has (an application that never
    imported it cannot have configured it): that keeps ~70 ms off ``import sedimentdb``.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def _target(self) -> Any:
        structlog = sys.modules.get("structlog")
        if structlog is not None and structlog.is_configured():
            return structlog.get_logger(self._name)
        return _KeyValueStdlib(logging.getLogger(self._name))

    def __getattr__(self, method: str) -> Any:
        return getattr(self._target(), method)


class _KeyValueStdlib:
    """``logger.info("event", key=value)`` onto a stdlib logger, rendered ``event='...' key=...``
    (sorted keys, as structlog's KeyValueRenderer does)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _emit(self, level: int, event: str, kw: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            exc_info = kw.pop("exc_info", None)
            text = " ".join(f"{k}={v!r}" for k, v in [("event", event), *sorted(kw.items())])
            self._logger.log(level, text, exc_info=exc_info)

    def debug(self, event: str, **kw: Any) -> None:
        """Log at DEBUG."""
        self._emit(logging.DEBUG, event, kw)

    def info(self, event: str, **kw: Any) -> None:
        """Log at INFO."""
        self._emit(logging.INFO, event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        """Log at WARNING."""
        self._emit(logging.WARNING, event, kw)

    def error(self, event: str, **kw: Any) -> None:
        """Log at ERROR."""
        self._emit(logging.ERROR, event, kw)


def get_logger(name: str) -> Any:
    """The logger every SedimentDB module uses (see :class:`_QuietUntilConfigured`)."""
    return _QuietUntilConfigured(name)
