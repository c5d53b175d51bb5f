"""Where an indexed query's CPU goes: the public API against raw hnswlib on the same graph.

Builds (once) the suite's seeded 100k x 384 cosine collection through the public API and
compacts it to one graph; then, on the opened collection, times ``collection.query`` one
query at a time (the querying thread's CPU, ``time.thread_time``, and wall clock) against
``knn_query`` on the very hnswlib index the segment searches (same ef, same process), per
``include`` set, and prints the cProfile of the API query with the largest cumulative costs.

    .venv/bin/python bench/query_profile.py --build --path /tmp/sediment-qprof       # once, a few minutes
    .venv/bin/python bench/query_profile.py --path /tmp/sediment-qprof --queries 2000
    .venv/bin/python bench/query_profile.py --path /tmp/sediment-qprof --profile 40  # + cProfile

The tail percentiles (p95/p99) are printed too: on an idle collection they show pauses that
are not the query's own work (the cyclic garbage collector, a background thread).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import BATCH, make_data  # noqa: E402  (a sibling script, not a package)

import sedimentdb  # noqa: E402

DIM = 384
INCLUDES: dict[str, list[str]] = {
    "include=[] (the suite)": [],
    "default include": ["metadatas", "documents", "distances"],
    "distances only": ["distances"],
}


def build(path: str, n: int) -> None:
    """The suite's workload (ids, vectors, metadata, documents) in collection ``bench``, compacted."""
    data = make_data(n, DIM)
    client = sedimentdb.PersistentClient(path=path)
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    for s in range(0, n, BATCH):
        col.add(ids=data["ids"][s:s + BATCH], embeddings=data["vecs"][s:s + BATCH],
                metadatas=data["metas"][s:s + BATCH], documents=data["docs"][s:s + BATCH])
    client._engine().compact()
    client.close()


def stats(cpu: list[float], wall: list[float]) -> str:
    """CPU p50/p99 and wall p50/p95/p99/max in ms."""
    c, w = np.asarray(cpu) * 1000, np.asarray(wall) * 1000
    return (f"CPU p50 {np.percentile(c, 50):.3f} p99 {np.percentile(c, 99):.3f}  wall p50 {np.percentile(w, 50):.3f} "
            f"p95 {np.percentile(w, 95):.3f} p99 {np.percentile(w, 99):.3f} max {w.max():.2f}")


def run_api(col: Any, queries: np.ndarray, include: list[str]) -> tuple[list[float], list[float]]:
    """One ``collection.query`` per query row, as an application calls it (a list of floats)."""
    cpu, wall = [], []
    for q in queries:
        qq = [q.tolist()]
        c, t = time.thread_time(), time.perf_counter()
        col.query(query_embeddings=qq, n_results=10, include=include)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return cpu, wall


def run_raw(graph: Any, queries: np.ndarray) -> tuple[list[float], list[float]]:
    """``knn_query`` on the segment's own hnswlib index, one query at a time."""
    cpu, wall = [], []
    for q in queries:
        c, t = time.thread_time(), time.perf_counter()
        graph.knn_query(q, k=10, num_threads=1)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return cpu, wall


def main() -> None:
    """Build, or open and measure."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--build", action="store_true", help="create the collection first")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--profile", type=int, default=0, help="print this many cProfile lines (0: none)")
    args = ap.parse_args()
    if args.build:
        build(args.path, args.n)
    client = sedimentdb.PersistentClient(path=args.path)
    col = client.get_collection("bench")
    cs = client._engine().collections[str(col.id)]
    segments = cs.segments()
    print(f"segments {len(segments)}, rows {col.count()}, tail rows {cs.active.count}, "
          f"load {os.getloadavg()[0]:.1f}, gc thresholds {gc.get_threshold()}, frozen {gc.get_freeze_count()}")
    rng = np.random.default_rng(11)
    queries = make_data(1000, DIM, seed=7)["queries"]
    queries = queries[rng.integers(0, len(queries), args.queries)] + 0.01 * rng.standard_normal(
        (args.queries, DIM)).astype(np.float32)
    run_api(col, queries[:50], [])  # warm: first touches, lazily built caches
    graph = segments[0].segment.graph
    raw = run_raw(graph, queries)
    print(f"{'raw hnswlib knn_query':28s} {stats(*raw)}")
    raw_p50 = np.percentile(raw[0], 50)
    for label, include in INCLUDES.items():
        cpu, wall = run_api(col, queries, include)
        print(f"{label:28s} {stats(cpu, wall)}  CPU ratio {np.percentile(cpu, 50) / raw_p50:.2f}x")
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        run_api(col, queries, ["metadatas", "documents", "distances"])
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    client.close()


if __name__ == "__main__":
    main()
