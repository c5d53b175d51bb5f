"""``sediment run --replicate DEST``: the server ships its own log in a background thread.

Same semantics as ``sediment replicate PATH --to DEST`` (a :class:`Shipper` over the data
directory's files, which holds the log until it is shipped), run inside the server so one
process is the whole primary. A failed round (destination unreachable, disk full, ...) is
logged and retried with exponential backoff; a :class:`FencedError` (a replica was promoted,
or another primary ships to this archive) stops shipping for good and shows in the status.
Stopping runs one last round, so every write acknowledged before a graceful stop is shipped.

Each round that ships something bumps :attr:`BackgroundShipper.generation`, which the
archive routes' long polls watch to answer as soon as a new log unit exists.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.replication import FencedError, Shipper, open_destination
from sedimentdb.engine.replication.destination import Destination

MAX_BACKOFF_S = 30.0
POLL_TICK_S = 0.01  # how often a long poll looks at the generation counter


class BackgroundShipper:
    """Runs shipping rounds for ``path`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, path: str, dest_url: str, *, interval: float = 1.0, snapshot_interval: float = 3600.0,
                 retain_snapshots: int | None = None, local_lsn: Callable[[], int] | None = None,
                 dest: Destination | None = None) -> None:
        self.path = path
        self.dest = dest if dest is not None else open_destination(dest_url)
        self.interval = interval
        self.local_lsn = local_lsn
        self.log = K.get_logger("sedimentdb.server.replication")
        self.shipper = Shipper(path, self.dest, snapshot_interval=snapshot_interval,
                               retain_snapshots=retain_snapshots, logger=self.log)
        self.generation = 0
        self._lock = threading.Lock()  # one round at a time: the loop's and the final one
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shipped_lsn: int | None = None
        self.rounds = 0
        self.failures = 0  # consecutive failed rounds
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_round_at: float | None = None
        self.caught_up_at: float | None = None  # start of the last successful round
        self.last_snapshot: str | None = None
        self.fenced = False

    # ---- lifetime -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the shipping thread."""
        self._thread = threading.Thread(target=self._run, name="sediment-shipper", daemon=True)
        self._thread.start()
        self.log.info("replication started", path=self.path, destination=self.dest.url)

    def stop(self, final_round: bool = True) -> None:
        """Stop the thread; then ship what is left (unless fenced) so nothing acknowledged is behind."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if final_round and not self.fenced:
            self.ship_now()
        self.log.info("replication stopped", path=self.path, lsn=self.shipped_lsn, error=self.last_error)

    @property
    def running(self) -> bool:
        """Whether the shipping thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            ok = self.ship_now()
            if self.fenced:
                return
            self._stop.wait(self.interval if ok else self._backoff())

    def _backoff(self) -> float:
        return min(MAX_BACKOFF_S, max(self.interval, 0.5) * 2 ** min(self.failures - 1, 10))

    # ---- rounds ---------------------------------------------------------------------------------------

    def ship_now(self) -> bool:
        """One shipping round; whether it succeeded (failures are logged and kept, never raised)."""
        with self._lock:
            started = time.time()
            try:
                result = self.shipper.ship_round()
            except FencedError as exc:
                self._failed(exc, started)
                self.fenced = True
                self.log.error("replication fenced: shipping stopped", path=self.path, error=str(exc),
                               hint=exc.hint)
                return False
            except Exception as exc:  # noqa: BLE001 - any failure is retried; the server keeps serving
                self._failed(exc, started)
                self.log.warning("replication round failed; retrying", path=self.path, error=str(exc),
                                 hint=getattr(exc, "hint", None), count=self.failures,
                                 duration_ms=round(self._backoff() * 1000))
                return False
            self.rounds += 1
            self.failures = 0
            self.last_round_at = time.time()
            self.caught_up_at = started
            self.shipped_lsn = result.head
            if result.snapshot:
                self.last_snapshot = result.snapshot
            if result.records or result.snapshot:
                self.generation += 1
                self.log.debug("shipped", lsn=result.head, records=result.records, bytes=result.bytes)
            return True

    def _failed(self, exc: BaseException, started: float) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_at = started

    # ---- status and long polls ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The live shipping state: last shipped LSN, lag in records and seconds, last error."""
        local = self.local_lsn() if self.local_lsn is not None else None
        lag = max(0, local - self.shipped_lsn) if local is not None and self.shipped_lsn is not None else None
        lag_s = None
        if lag is not None and self.caught_up_at is not None:
            lag_s = 0.0 if lag == 0 else round(time.time() - self.caught_up_at, 3)
        return {
            "destination": self.dest.url, "running": self.running and not self._stop.is_set(),
            "fenced": self.fenced, "interval": self.interval,
            "shipped_lsn": self.shipped_lsn, "local_lsn": local, "lag_records": lag, "lag_seconds": lag_s,
            "rounds": self.rounds, "consecutive_failures": self.failures, "last_error": self.last_error,
            "last_error_at": self.last_error_at, "last_round_at": self.last_round_at,
            "last_snapshot": self.last_snapshot,
        }

    async def changed(self, generation: int, deadline: float, stopping: Callable[[], bool]) -> None:
        """Wait (without a thread) until something new was shipped, ``deadline`` (monotonic) passes,
        or the server is stopping."""
        while self.generation == generation and time.monotonic() < deadline and not stopping():
            await asyncio.sleep(POLL_TICK_S)
