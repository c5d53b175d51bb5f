"""The fixed structlog key names used across SedimentDB.

Log calls use these keys and no others, so operators can filter and alert on them. The
library never configures logging; entry points (the CLI, the server) do.
"""

import logging
from typing import Any

import structlog

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
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def _target(self) -> Any:
        if structlog.is_configured():
            return structlog.get_logger(self._name)
        return structlog.wrap_logger(
            logging.getLogger(self._name),
            wrapper_class=structlog.stdlib.BoundLogger,
            processors=[structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=True)],
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self._target(), method)


def get_logger(name: str) -> Any:
    """The logger every SedimentDB module uses (see :class:`_QuietUntilConfigured`)."""
    return _QuietUntilConfigured(name)
