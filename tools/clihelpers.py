"""What every ``sediment`` command shares: exit codes, error reporting, JSON output, progress.

Exit codes (documented in docs/CLI.md):

* 0 — success (for ``verify``: the directory is clean)
* 1 — the command ran and found problems (``verify``), or failed, or was declined
* 2 — usage error (click's own)
* 3 — another process holds the data directory (a writing tool refused)
* 4 — the data is damaged and the command could not proceed (run ``verify``/``repair``)
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sedimentdb.engine.storage_errors import CorruptionError, LockedError, StorageError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_LOCKED = 3
EXIT_DAMAGED = 4

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")


def fail(message: str, code: int) -> None:
    """Print ``message`` on stderr and exit with ``code``."""
    click.echo(f"sediment: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turn engine errors into a one-line message on stderr and a documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LockedError as exc:
            fail(f"refusing: {exc}", EXIT_LOCKED)
        except CorruptionError as exc:
            fail(f"damaged data: {exc}\nRun `sediment verify` for a full report and `sediment repair` to fix it.",
                 EXIT_DAMAGED)
        except StorageError as exc:
            fail(str(exc), EXIT_PROBLEMS)

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout."""
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def human_bytes(n: int | float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


class TerminalProgress:
    """A progress callback that draws one updating line on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool | None = None, min_interval: float = 0.1) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.min_interval = min_interval
        self._last = 0.0
        self._started = time.monotonic()
        self._label = ""
        self._drawn = False

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if label != self._label:
            self._label, self._started = label, now
        finished = total is not None and done >= total
        if not finished and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self._started
        if total:
            pct = 100.0 * done / total
            eta = f" eta {elapsed * (total - done) / done:.0f}s" if done and not finished else ""
            width = 24
            fill = int(width * done / total)
            text = f"{label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {pct:5.1f}%{eta}"
        else:
            text = f"{label} {done} ({elapsed:.0f}s)"
        sys.stderr.write("\r\x1b[2K" + text)
        self._drawn = True
        if finished:
            sys.stderr.write("\n")
            self._drawn = False
        sys.stderr.flush()

    def close(self) -> None:
        """End the progress line, if one is drawn."""
        if self.enabled and self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn = False
