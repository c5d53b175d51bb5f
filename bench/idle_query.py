"""Query latency right after an open and after the database sat idle, with page-cache refaults.

Queries score their candidates from the raw vectors in the segment files. Where the machine
evicts idle file pages (this VM runs a DAMON ``pageout`` scheme: pages idle for 30 s), those
reads go to disk and a query over many segments slows down; this measures by how much.

    .venv/bin/python bench/idle_query.py --build 1000000 --path /tmp/sediment-idle   # once, ~3 min
    .venv/bin/python bench/idle_query.py --path /tmp/sediment-idle --idle 60
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.options import DatabaseOptions

DIM = 384
OPTIONS = DatabaseOptions(background_compaction=False, durability="off")


def build(path: str, n: int) -> None:
    """A cosine collection ``c`` of ``n`` clustered vectors, compacted every 40k rows."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((64, DIM)).astype(np.float32)
    with Database.open(path, OPTIONS) as db:
        cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c",
                                   configuration={"hnsw": {"space": "cosine"}}).id
        for start in range(0, n, 5000):
            vecs = centers[rng.integers(0, 64, 5000)] + 0.3 * rng.standard_normal((5000, DIM)).astype(np.float32)
            db.add(cid, [f"r{i}" for i in range(start, start + 5000)], vecs)
            if start // 5000 % 8 == 7:
                db.compact()
        db.compact()


def refaults() -> int:
    """File pages read back after eviction since boot (Linux)."""
    with open("/proc/vmstat") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("workingset_refault_file"))


def measure(db: Database, cid: str, seed: int, n: int) -> tuple[float, int]:
    """p50 ms of ``n`` single queries and the file pages refaulted meanwhile."""
    queries = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    include = Include(documents=False, metadatas=False)
    before, lat = refaults(), []
    for q in queries:
        t = time.perf_counter()
        db.query(cid, q[None], 10, include=include)
        lat.append(time.perf_counter() - t)
    return 1000 * float(np.median(lat)), refaults() - before


def main() -> None:
    """Build, or open and measure."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--build", type=int, default=0, help="create the database with this many records")
    ap.add_argument("--idle", type=float, default=60.0, help="seconds to sit idle before the second run")
    ap.add_argument("--queries", type=int, default=150)
    args = ap.parse_args()
    if args.build:
        build(args.path, args.build)
        return
    with Database.open(args.path, OPTIONS) as db:
        cid = db.get_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
        print(f"segments: {len(db.collections[cid].segments())}")
        for label, seed in (("right after open", 1), (f"after {args.idle:g} s idle", 2)):
            if seed == 2:
                time.sleep(args.idle)
            p50, pages = measure(db, cid, seed, args.queries)
            print(f"{label}: query p50 {p50:.2f} ms, {pages} file pages refaulted")


if __name__ == "__main__":
    main()
