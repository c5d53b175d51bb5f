"""One background thread's lifecycle, shared by the compactor and the tail indexer.

Both wait on a wake event with a poll timeout, stop at their next check of ``_stop``, and are
joined by ``stop()`` — the shape must be the same in both, or ``close()`` could hang on one.
"""

from __future__ import annotations

import threading


class BackgroundLoop:
    """A daemon thread running ``_loop``; ``notify`` wakes it, ``stop`` ends and joins it."""

    thread_name = "sedimentdb-background"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread at its next check (after its current step or job) and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def notify(self) -> None:
        """Something changed that the thread may act on: wake it."""
        self._wake.set()

    def _loop(self) -> None:  # pragma: no cover - every subclass defines its loop
        raise NotImplementedError
