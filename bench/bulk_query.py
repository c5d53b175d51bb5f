"""What a query costs right after ``Database.bulk_ingest`` (the migration's path).

Bulk ingest writes a segment without a graph (the compactor builds it later), so until then
a query scans the segment. This loads N clustered records of dim 384 in one bulk ingest with
background work off and prints the querying thread's CPU and the wall clock per query, with
and without a 10%-selective ``where``.

    .venv/bin/python bench/bulk_query.py --n 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE as D
from sedimentdb.engine.database import DEFAULT_TENANT as T
from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions


def main() -> None:
    """Load, query, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    n, dim = args.n, 384
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(max(8, n // 1000), dim)).astype(np.float32)
    vecs = (centers[rng.integers(0, len(centers), n)] + 0.35 * rng.normal(size=(n, dim))).astype(np.float32)
    queries = (centers[rng.integers(0, len(centers), args.queries)]
               + 0.35 * rng.normal(size=(args.queries, dim))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(os.path.join(tmp, "db"), DatabaseOptions(background_compaction=False))
        cid = db.create_collection(T, D, "c", metadata={"hnsw:space": "cosine"}).id
        cpu0, wall0 = time.process_time(), time.perf_counter()
        db.bulk_ingest(cid, [f"r{i}" for i in range(n)], vecs, metadatas=[{"cat": f"c{i % 10}"} for i in range(n)])
        print(f"bulk_ingest of {n}: {time.perf_counter() - wall0:.2f} s wall, {time.process_time() - cpu0:.2f} s CPU")
        for where in (None, {"cat": "c3"}):
            cpu, wall = [], []
            for q in queries:
                c, t = time.thread_time(), time.perf_counter()
                db.query(cid, q[None, :], 10, where=where)
                cpu.append(time.thread_time() - c)
                wall.append(time.perf_counter() - t)
            print(f"query right after, where={where}: CPU p50 {1000 * np.median(cpu):.2f} ms, "
                  f"wall p50 {1000 * np.median(wall):.2f} ms")
        db.close()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
