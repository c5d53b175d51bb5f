"""Logging for the ``sediment`` entry point (the library never configures logging).

Logs go to stderr so stdout stays clean for data. The level comes from ``SEDIMENT_LOG_LEVEL``
(default ``warning``: the engine's routine info lines stay quiet in a tool); ``--log-json``
switches to one JSON object per line for log shippers.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

LEVEL_ENV = "SEDIMENT_LOG_LEVEL"
DEFAULT_LEVEL = "warning"


def level_from_env(environ: dict[str, str] | None = None) -> int:
    """The numeric log level named by ``SEDIMENT_LOG_LEVEL`` (unknown names fall back to warning)."""
    name = (environ if environ is not None else os.environ).get(LEVEL_ENV, DEFAULT_LEVEL)
    level = logging.getLevelName(name.strip().upper())
    return level if isinstance(level, int) else logging.WARNING


def configure_logging(json_logs: bool = False, level: int | None = None) -> None:
    """Send structlog output to stderr, as JSON lines or human-readable, at ``level``."""
    level = level_from_env() if level is None else level
    processors: list = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_logs:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
