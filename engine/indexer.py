"""The tail indexer: puts log-tail rows into the tails' graphs, in the background and,
past a bound, on the writer's own thread.

A background thread catches the graphs up a step (``tailgraph.STEP`` rows) at a time, so a
query scans only the rows logged since the indexer's last step. hnswlib lets go of the GIL
while it adds, and each background step uses one thread: the indexer takes at most one
core, and a query waits at most one step for the graph. While a compaction job runs, this
thread pauses and the job takes the steps between its own (``Compactor.check``), so
background work is one thread at a time.

A bulk load is logged far faster than any graph grows, so the background thread alone
leaves most of a load in no graph and every query scans it. ``max_unindexed_rows`` (N)
bounds that: a write that leaves more than N of its collection's tail rows in no graph
indexes them itself before it returns (:func:`catch_up`), taking the indexer's steps on
every core, since the writer is waiting for nothing else. A query then scans at most about
N rows (plus a concurrent batch), and ingest runs at the indexing rate, as in Chroma, which
indexes every write on the write path.
"""

from __future__ import annotations

import os
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

    def stopping(self) -> bool:
        """Whether ``stop()`` was called (the database is closing)."""
        return self._stop.is_set()

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


def index_threads() -> int:
    """Cores this process may run on: the hnswlib threads of a writer's catch-up steps."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def collection_backlog(cs: Any) -> int:
    """Rows of the collection's tails in no graph (the rows a query scans)."""
    return sum(p.unindexed() for p in cs.parts if isinstance(p, TailPart))


def catch_up(db: Any, collection_id: str, limit: int, own: int) -> int:
    """With more than ``limit`` of the collection's tail rows in no graph, index them on this
    thread (the caller's write is durable and applied; no lock is held); return the rows added.

    ``own`` is how many rows the caller's write added. The writer takes on at most twice that
    plus ``limit`` (its own rows, as many again of a backlog it inherited, and the bound, so
    a steady writer leaves about no rows behind). In steady state the backlog it finds is
    at most ``limit`` plus its own rows, so it returns with at most ``limit`` unindexed. A
    backlog it did not make — a tail replayed at open, which can be the whole last load —
    is not paid for by one write: the writes after it drain it at least as fast as they
    add rows, and the background indexer does the rest. When the database is closing it
    stops after its current step.
    """
    threads = index_threads()
    budget: int | None = None  # rows this writer took on
    added = 0
    while True:
        with db.lock:
            if db.closed or db.indexer.stopping():
                return added
            cs = db.collections.get(collection_id)
            if cs is None:  # deleted meanwhile
                return added
            backlog = collection_backlog(cs)
            if budget is None:
                if backlog <= limit:
                    return added
                budget = min(backlog, 2 * own + limit)
            if backlog == 0 or added >= budget:
                return added
            # Oldest tail first (a frozen tail is flushed first; its graph becomes the segment's).
            part = next(p for p in cs.parts if isinstance(p, TailPart) and p.unindexed())
            start, vectors = part.next_rows(STEP * threads)  # a step of about the background's wall time
        assert part.graph is not None
        if part.graph.add(vectors, start, num_threads=threads):  # no database lock: queries go on
            added += len(vectors)
