"""What a query pays per unindexed tail row, and what indexing a row costs: the figures
behind ``max_unindexed_rows``' default.

Prints the querying thread's CPU for one exact scan (the tail's ``exact_knn``, one BLAS
thread as queries run) over N rows of dim 384 for several N, one hnswlib query on a graph of
the same rows, and hnswlib's insertion rate (rows per CPU second and per wall second) with
one thread and with every core, in steps as the indexer and a catching-up writer take them.

    .venv/bin/python bench/scan_cost.py
"""

from __future__ import annotations

import os
import time

import hnswlib
import numpy as np

from sedimentdb.engine.blas import one_blas_thread
from sedimentdb.engine.indexer import index_threads
from sedimentdb.engine.segments.exact import exact_knn, norms
from sedimentdb.engine.tailgraph import STEP

DIM = 384
SIZES = (1024, 2048, 4096, 8192, 16384)
REPEAT = 30


def main() -> None:
    """Measure and print."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(100, DIM)).astype(np.float32)
    n = max(SIZES) + 8192
    vecs = (centers[rng.integers(0, 100, n)] + 0.35 * rng.normal(size=(n, DIM))).astype(np.float32)
    query = vecs[:1] + 0.01
    vnorms = norms(vecs)
    with one_blas_thread():
        for size in SIZES:
            cpu = []
            for _ in range(REPEAT):
                c = time.thread_time()
                exact_knn("cosine", query, vecs[:size], 10, None, vnorms[:size])
                cpu.append(time.thread_time() - c)
            print(f"exact scan of {size:>6} rows: CPU p50 {1000 * np.median(cpu):.3f} ms")
    index = hnswlib.Index(space="cosine", dim=DIM)
    index.init_index(max_elements=n, M=16, ef_construction=100, random_seed=100)
    done = max(SIZES)
    index.add_items(vecs[:done], np.arange(done), num_threads=index_threads())
    index.set_ef(100)
    cpu = []
    for i in range(REPEAT):
        c = time.thread_time()
        index.knn_query(vecs[i:i + 1] + 0.01, k=10, num_threads=1)
        cpu.append(time.thread_time() - c)
    print(f"hnswlib query on {done} rows (ef 100): CPU p50 {1000 * np.median(cpu):.3f} ms")
    for threads in sorted({1, index_threads()}):
        step = STEP * threads
        rows = 4096 - 4096 % step
        wall, proc = time.perf_counter(), time.process_time()
        for s in range(done, done + rows, step):
            index.add_items(vecs[s:s + step], np.arange(s, s + step), num_threads=threads)
        wall, proc = time.perf_counter() - wall, time.process_time() - proc
        done += rows
        print(f"hnswlib insert, {threads} thread(s), steps of {step}: {rows / proc:.0f} rows per CPU s, "
              f"{rows / wall:.0f} rows/s wall")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
