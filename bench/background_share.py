"""How much of the machine SedimentDB's background work takes while queries run.

    .venv/bin/python bench/background_share.py --n 100000 --seconds 20

Loads N records (dim 384, the suite's workload) as fast as the log takes them, then runs
single queries for ``--seconds`` while the tail indexer and the compactor work, and prints
per thread the CPU seconds used in that window divided by its wall time (1.0 = one core),
with the query latencies beside them. Thread CPU comes from /proc/self/task/<tid>/stat
(Linux). Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import BATCH, make_data, pct  # noqa: E402

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database  # noqa: E402
from sedimentdb.engine.options import DatabaseOptions  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of every thread of this process, by thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), "other (BLAS and hnswlib worker threads)")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return out


def main() -> None:
    """Run the measurement and print it (``--json`` for the raw figures)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = make_data(args.n, 384)
    path = tempfile.mkdtemp(prefix="bench-share-")
    db = Database.open(path, DatabaseOptions(durability="normal"))
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "bench", metadata={"hnsw:space": "cosine"}).id
    for s in range(0, args.n, BATCH):
        db.add(cid, data["ids"][s:s + BATCH], data["vecs"][s:s + BATCH], data["docs"][s:s + BATCH],
               data["metas"][s:s + BATCH])
    before, started, lat = thread_cpu(), time.perf_counter(), []
    backlog0 = db.indexer.backlog()
    while time.perf_counter() - started < args.seconds:
        q = data["queries"][len(lat) % len(data["queries"])]
        t = time.perf_counter()
        db.query(cid, q, 10)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    after = thread_cpu()
    share = {name: round((after.get(name, 0.0) - before.get(name, 0.0)) / wall, 3) for name in after}
    result = {"n": args.n, "seconds": round(wall, 1), "backlog_start": backlog0,
              "backlog_end": db.indexer.backlog(), "cores_used_by_thread": share,
              "queries": pct(lat) | {"count": len(lat)}, "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    db.close()
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
