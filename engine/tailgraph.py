"""An HNSW graph over the in-memory log tail, grown in small steps beside queries.

Records reach the tail at log speed (tens of thousands a second); building their graph is
about a hundred times slower. A background indexer (``engine/indexer.py``) adds the tail's
rows in steps of ``STEP`` rows, and a query searches the graph for the rows it holds and
scans only the rows that arrived since; a write that leaves more than
``max_unindexed_rows`` rows in no graph takes those steps itself before it returns
(``indexer.catch_up``), on every core. Labels are tail row numbers. The graph uses the collection's M and construction ef,
so when the tail is flushed the compactor turns this graph into the segment's graph instead
of building another one (``graph.build_seeded_graph``).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import hnswlib
import numpy as np

from sedimentdb.engine.rwlock import ReadWriteLock
from sedimentdb.engine.segments.exact import exact_knn
from sedimentdb.engine.segments.graph import RANDOM_SEED

# Rows added per step: a query waits at most one step for the graph, and the indexer lets
# go of the graph between steps. hnswlib inserts about 5k rows of dim 384 per CPU-second,
# so 64 rows held the graph for ~12 ms and set the no-wait p95 (14 ms at 100k on a quiet
# VM); 16 rows hold it ~3 ms (p95 4-5 ms, under a 1k rec/s writer p99 15.5 -> 4.0 ms,
# bench/README.md "Indexer step"); ingest in those runs was 7.2-8.8k rec/s
# (6.3-6.7k in the runs with 64), so smaller steps cost no measurable throughput.
STEP = 16
# Capacity the graph starts with; it doubles as rows arrive (resize copies the graph).
INITIAL_CAPACITY = 4096


class TailGraph:
    """hnswlib index over rows ``0 .. indexed-1`` of one tail."""

    def __init__(self, space: str, dim: int, m: int, construction_ef: int, search_ef: int) -> None:
        self.space = space
        self.dim = dim
        self.params = {"M": m, "construction_ef": construction_ef, "search_ef": search_ef, "num_threads": 1}
        self.search_ef = search_ef
        self.index = hnswlib.Index(space=space, dim=dim)
        self.index.init_index(max_elements=INITIAL_CAPACITY, M=m, ef_construction=construction_ef,
                              random_seed=RANDOM_SEED)
        self.index.set_ef(search_ef)
        self.indexed = 0
        self.lock = ReadWriteLock()  # queries share it; each add step takes it alone
        self._adder = threading.Lock()  # one adder at a time (the indexer or the compactor)

    def add(self, vectors: np.ndarray, start: int, num_threads: int = 1) -> bool:
        """Add ``vectors`` as rows ``start ..`` with ``num_threads`` hnswlib threads; False
        (nothing done) when ``start`` is not the next row (another adder got there first)."""
        with self._adder:
            if start != self.indexed:
                return False
            stop = start + len(vectors)
            with self.lock.write():
                capacity = self.index.get_max_elements()
                if stop > capacity:
                    self.index.resize_index(max(stop, 2 * capacity))
                self.index.add_items(vectors, np.arange(start, stop, dtype=np.uint64),
                                       num_threads=num_threads)
                self.indexed = stop
        return True

    def as_seed(self, ids: list[str], versions: np.ndarray, vectors: np.ndarray) -> Any:
        """This graph in the shape ``graph.seed_mapping`` expects of a seed segment (call only
        once the tail takes no more rows and every row is indexed)."""
        with self._adder, self.lock.write():
            # A segment's graph holds exactly its rows: drop the spare capacity.
            if self.index.get_max_elements() > self.indexed:
                self.index.resize_index(self.indexed)
        return SimpleNamespace(
            graph=self.index, space=self.space, dim=self.dim, count=self.indexed, ids=ids, versions=versions,
            vectors=vectors, descriptor=SimpleNamespace(hnsw=self.params, segment_id="log-tail"),
            release_pages=lambda: None)


class GraphView:
    """The indexed rows of a tail, shaped like a Segment for ``planner.graph_search``.

    Built and used while the caller holds ``graph.lock`` for reading, so ``count`` cannot
    move under the search and hnswlib returns only labels below it.
    """

    def __init__(self, graph: TailGraph, vectors: np.ndarray, norms: np.ndarray) -> None:
        self.graph = graph.index
        self.count = graph.indexed
        self.space = graph.space
        self.search_ef = graph.search_ef
        self.descriptor = SimpleNamespace(hnsw={"num_threads": 1})
        self.vectors = vectors[: self.count]
        self._norms = norms[: self.count]

    def exact_search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` among ``allowed`` indexed rows (all if None)."""
        candidates = None if allowed is None else np.flatnonzero(allowed)
        return exact_knn(self.space, queries, self.vectors, k, candidates, self._norms)
