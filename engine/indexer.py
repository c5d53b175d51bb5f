"""The tail indexer: a background thread that adds log-tail rows to the tails' graphs.

Writes are acknowledged at log speed and never wait for a graph; this thread catches the
graphs up a step (``tailgraph.STEP`` rows) at a time, so a query scans at most the rows
logged since the indexer's last step plus its backlog, never a whole bulk load. hnswlib
lets go of the GIL while it adds, and each step uses one thread: the indexer takes at most
one core, and a query waits at most one step for the graph. While a compaction job runs,
this thread pauses and the job takes the steps between its own (``Compactor.check``), so
background work is one thread at a time.
"""

from __future__ import annotations

from typing import Any

from sedimentdb.engine.background import BackgroundLoop
from sedimentdb.engine.parts import TailPart
from sedimentdb.engine.tailgraph import STEP

POLL_SECONDS = 1.0
# How often a paused indexer looks whether the compaction job has ended.
PAUSE_SECONDS = 0.05


class TailIndexer(BackgroundLoop):
    """Fills the graphs of one database's tails in the background.

    ``stop()`` returns after the current step (at most ``STEP`` rows); ``notify()`` says rows
    were applied to a tail.
    """

    thread_name = "sedimentdb-tail-indexer"

    def __init__(self, db: Any) -> None:
        super().__init__()
        self.db = db
        self.steps = 0  # steps done (tests and benchmarks read it)

    def backlog(self) -> int:
        """Tail rows not yet in a graph, over every collection."""
        with self.db.lock:
            return sum(p.unindexed() for cs in self.db.collections.values() for p in cs.parts
                       if isinstance(p, TailPart))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            while not self._stop.is_set():
                compactor = getattr(self.db, "compactor", None)
                if compactor is not None and compactor.busy.is_set():
                    self._stop.wait(PAUSE_SECONDS)  # the job takes our steps meanwhile
                    continue
                if not self.step():
                    break

    def step(self) -> bool:
        """Index the next rows of the oldest tail that has any; False when none has."""
        with self.db.lock:
            if self.db.closed:
                return False
            work = next_work(self.db.collections.values())
            if work is None:
                return False
            part, start, vectors = work
        assert part.graph is not None
        part.graph.add(vectors, start)  # no database lock: writes and queries go on
        self.steps += 1
        return True


def next_work(collections: Any) -> tuple[TailPart, int, Any] | None:
    """(tail, first row, vectors) of the next step, oldest tail first (it is flushed first)."""
    for cs in collections:
        for part in cs.parts:
            if isinstance(part, TailPart) and part.unindexed():
                start, vectors = part.next_rows(STEP)
                return part, start, vectors
    return None
