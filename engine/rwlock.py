"""A readers-writer lock where neither side starves the other (phase-fair).

hnswlib's ``knn_query`` may run alongside other queries but not alongside ``add_items`` or
``resize_index`` (its README: add_items is "thread-safe with other add_items calls, but not
with knn_query"). The tail's graph is read by queries and grown in short steps by the
indexer or by a writer catching up with its backlog, so queries share the lock and each step
takes it alone. A waiting writer holds back new readers: otherwise a steady stream of
queries would never let the graph grow. And the readers that waited through a step go
before the next step: otherwise a writer taking step after step (a writer catching up with
thousands of rows) would hold every query back until it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Many readers or one writer, in alternating phases when both wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._readers_waiting = 0
        # Set when a writer lets go while readers wait: they enter before the next writer.
        self._readers_turn = False

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared for the ``with`` block."""
        with self._cond:
            self._readers_waiting += 1
            try:
                while self._writing or (self._writers_waiting and not self._readers_turn):
                    self._cond.wait()
            finally:
                self._readers_waiting -= 1
                if not self._readers_waiting and self._readers_turn:
                    self._readers_turn = False  # every reader of this turn is in (or gave up)
                    self._cond.notify_all()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively for the ``with`` block."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers or self._readers_turn:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._readers_turn = self._readers_waiting > 0
                self._cond.notify_all()
