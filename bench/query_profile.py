"""Where an indexed query's CPU goes: the public API against raw hnswlib on the same graph.

Builds (once) the suite's seeded 100k x 384 cosine collection through the public API and
compacts it to one graph; then, on the opened collection, runs ``collection.query`` one query
at a time (the query a list of floats, as the suite and an application pass it) for several
``include`` sets, interleaved query by query with ``knn_query`` on the very hnswlib index the
segment searches (same ef, same process), so every contender sees the same machine load.
Per contender: the querying thread's CPU (``time.thread_time``) p50/p99, the wall-clock
p50/p95/p99, and what happened to the slowest 5% of its queries: preempted (the thread was
descheduled, an involuntary context switch), waited (it blocked: a lock, the GIL) or a pass of
the cyclic garbage collector ran.

    .venv/bin/python bench/query_profile.py --build --path /tmp/sediment-qprof       # once, a few minutes
    .venv/bin/python bench/query_profile.py --path /tmp/sediment-qprof --queries 2000
    .venv/bin/python bench/query_profile.py --path /tmp/sediment-qprof --profile 40  # + cProfile
    .venv/bin/python bench/query_profile.py --path /tmp/sediment-qprof --pause-ms 0.2

``--pause-ms`` sleeps between queries, as an application that does anything else between
them (the scheduler treats a thread that sleeps differently from a closed loop).
``--chromadb DIR`` (in .venv-bench, which has chromadb) adds chromadb's ``query`` on the same
records, built in DIR on first use, to the interleaved contenders.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import BATCH, make_data  # noqa: E402  (a sibling script, not a package)

import sedimentdb  # noqa: E402

DIM = 384
INCLUDES: dict[str, list[str]] = {
    "include=[] (the suite)": [],
    "distances only": ["distances"],
    "default include": ["metadatas", "documents", "distances"],
}


def build(module: Any, path: str, n: int) -> None:
    """The suite's workload (ids, vectors, metadata, documents) in collection ``bench``, indexed."""
    data = make_data(n, DIM)
    client = module.PersistentClient(path=path)
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    for s in range(0, n, BATCH):
        col.add(ids=data["ids"][s:s + BATCH], embeddings=data["vecs"][s:s + BATCH],
                metadatas=data["metas"][s:s + BATCH], documents=data["docs"][s:s + BATCH])
    engine = getattr(client, "_engine", None)
    if module is sedimentdb and engine is not None:
        engine().compact()
    close = getattr(client, "close", None)
    if close is not None:
        close()


class Timings:
    """Per query: CPU and wall seconds, and what else happened meanwhile (context switches of
    the querying thread, passes of the cyclic garbage collector)."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.involuntary: list[int] = []
        self.voluntary: list[int] = []
        self.gc: list[int] = []

    def summary(self) -> str:
        """CPU p50/p99, wall p50/p95/p99/max (ms), and why the slowest 5% were slow."""
        c, w = np.asarray(self.cpu) * 1000, np.asarray(self.wall) * 1000
        slow = np.flatnonzero(w > np.percentile(w, 95))
        inv, vol, gcs = (int(np.count_nonzero(np.asarray(x)[slow])) for x in (self.involuntary, self.voluntary, self.gc))
        return (f"CPU p50 {np.percentile(c, 50):.3f} p99 {np.percentile(c, 99):.3f} | wall p50 {np.percentile(w, 50):.3f} "
                f"p95 {np.percentile(w, 95):.3f} p99 {np.percentile(w, 99):.3f} max {w.max():.1f} | slowest {len(slow)}: "
                f"{inv} preempted, {vol} waited, {gcs} gc")


class GcPasses:
    """Counts the cyclic garbage collector's passes while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        self.count += phase == "start"


def timed_once(call: Callable[[np.ndarray], Any], q: np.ndarray, out: Timings, passes: GcPasses) -> None:
    """``call(q)`` once, its figures appended to ``out``."""
    before, g = resource.getrusage(resource.RUSAGE_THREAD), passes.count
    c, t = time.thread_time(), time.perf_counter()
    call(q)
    out.wall.append(time.perf_counter() - t)
    out.cpu.append(time.thread_time() - c)
    after = resource.getrusage(resource.RUSAGE_THREAD)
    out.involuntary.append(after.ru_nivcsw - before.ru_nivcsw)
    out.voluntary.append(after.ru_nvcsw - before.ru_nvcsw)
    out.gc.append(passes.count - g)


def interleaved(calls: dict[str, Callable[[np.ndarray], Any]], queries: np.ndarray,
                pause: float = 0.0) -> dict[str, Timings]:
    """The contenders take turns (the order rotating each round), each with a query of its
    own (``queries`` is split between them: a query just answered by another would find
    the graph's nodes in the CPU's caches), ``pause`` seconds of sleep before each call."""
    out = {name: Timings() for name in calls}
    names = list(calls)
    passes = GcPasses()
    gc.callbacks.append(passes)
    try:
        for i in range(len(queries) // len(names)):
            for j in range(len(names)):
                name = names[(i + j) % len(names)]
                if pause:
                    time.sleep(pause)
                timed_once(calls[name], queries[i * len(names) + j], out[name], passes)
    finally:
        gc.callbacks.remove(passes)
    return out


def api_call(col: Any, include: list[str]) -> Callable[[np.ndarray], Any]:
    """One ``collection.query`` as an application calls it (the query a list of floats)."""
    return lambda q: col.query(query_embeddings=[q.tolist()], n_results=10, include=include)


def contenders(col: Any, graph: Any, chroma_col: Any) -> dict[str, Callable[[np.ndarray], Any]]:
    """Raw hnswlib on the segment's graph, SedimentDB per include set, chromadb if given."""
    calls: dict[str, Callable[[np.ndarray], Any]] = {
        "raw hnswlib knn_query": lambda q: graph.knn_query(q, k=10, num_threads=1)}
    calls |= {f"sedimentdb {label}": api_call(col, include) for label, include in INCLUDES.items()}
    if chroma_col is not None:
        calls["chromadb include=[]"] = api_call(chroma_col, [])
        calls["chromadb default include"] = api_call(chroma_col, INCLUDES["default include"])
    return calls


def open_chromadb(path: str, n: int) -> Any:
    """chromadb's collection ``bench`` at ``path``, built with the same records on first use."""
    import chromadb

    if not os.path.exists(path):
        build(chromadb, path, n)
    return chromadb.PersistentClient(path=path).get_collection("bench")


def main() -> None:
    """Build, or open and measure."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--build", action="store_true", help="create the collection first")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000, help="queries per contender")
    ap.add_argument("--profile", type=int, default=0, help="print this many cProfile lines (0: none)")
    ap.add_argument("--pause-ms", type=float, default=0.0,
                    help="also measure with this much sleep between queries (0: only the closed loop)")
    ap.add_argument("--chromadb", default=None, help="also query chromadb, its data in this directory")
    args = ap.parse_args()
    if args.build:
        build(sedimentdb, args.path, args.n)
    chroma_col = open_chromadb(args.chromadb, args.n) if args.chromadb else None
    client = sedimentdb.PersistentClient(path=args.path)
    col = client.get_collection("bench")
    cs = client._engine().collections[str(col.id)]
    segments = cs.segments()
    print(f"segments {len(segments)}, rows {col.count()}, tail rows {cs.active.count}, "
          f"load {os.getloadavg()[0]:.1f}, gc thresholds {gc.get_threshold()}")
    calls = contenders(col, segments[0].segment.graph, chroma_col)
    # Distinct queries near the suite's (its clusters, fresh noise): one per contender and round.
    rng = np.random.default_rng(11)
    base = make_data(1000, DIM, seed=7)["queries"]
    total = args.queries * len(calls)
    queries = (base[rng.integers(0, len(base), total)] + 0.1 * rng.standard_normal((total, DIM))).astype(np.float32)
    interleaved(calls, queries[:50 * len(calls)])  # warm: first touches, lazily built caches
    for pause in (0.0, args.pause_ms / 1000) if args.pause_ms else (0.0,):
        print(f"closed loop, load {os.getloadavg()[0]:.1f}:" if not pause else
              f"with {args.pause_ms:g} ms of sleep before each query, load {os.getloadavg()[0]:.1f}:")
        found = interleaved(calls, queries, pause)
        raw_p50 = np.percentile(found["raw hnswlib knn_query"].cpu, 50)
        for name, got in found.items():
            print(f"  {name:34s} {got.summary()} | CPU {np.percentile(got.cpu, 50) / raw_p50:.2f}x raw")
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        interleaved({"default": api_call(col, INCLUDES["default include"])}, queries)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    client.close()


if __name__ == "__main__":
    main()
