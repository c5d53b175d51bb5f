"""Fork cost (issue 19): time and new disk bytes of ``collection.fork`` on an N x dim collection.

Loads N clustered float32 records (with a document and metadata each) through the public API
into a persistent client, compacts them into segments, adds a tail of ``--tail`` records that
stay in the log, then forks the collection ``--repeat`` times (each fork of the source, each
under a new name) and reports, per fork: wall-clock and CPU time of the call, one raw
write + fdatasync of a record that size just before it (a durable fork waits for one), the
bytes the data directory grew by, and the first query on the fork. Nothing asserts on these figures
(the targets are 50 ms and 1 MB at 100k x 384); docs/FORK.md records a run.

    .venv/bin/python bench/fork.py                       # 100k x 384, tail 1000, 3 forks
    .venv/bin/python bench/fork.py --n 10000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

import sedimentdb
from sedimentdb.tools.diskusage import tree_bytes

BATCH = 1000


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Clustered float32 vectors, like real embeddings."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(64, dim)).astype(np.float32)
    return centers[rng.integers(0, 64, n)] + rng.normal(scale=0.3, size=(n, dim)).astype(np.float32)


def load(col: Any, start: int, n: int, dim: int, seed: int) -> None:
    """Add records ``start .. start + n`` in batches."""
    for s in range(start, start + n, BATCH):
        m = min(BATCH, start + n - s)
        col.add(ids=[f"id{i}" for i in range(s, s + m)], embeddings=clustered(m, dim, seed + s),
                documents=[f"document number {i}" for i in range(s, s + m)],
                metadatas=[{"i": i, "cat": f"c{i % 10}"} for i in range(s, s + m)])


def raw_sync_ms(path: str, size: int = 224) -> float:
    """One ``write`` + ``fdatasync`` of ``size`` bytes to a new file in ``path``: the floor under a
    durable fork's wall-clock time (its log record is that small), measured just before it."""
    probe = os.path.join(path, "sync-probe")
    t = time.perf_counter()
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"x" * size)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    ms = (time.perf_counter() - t) * 1000
    os.unlink(probe)
    return ms


def measure(path: str, n: int, dim: int, tail: int, repeat: int) -> dict[str, Any]:
    """Build the collection, fork it ``repeat`` times; the figures."""
    client = sedimentdb.PersistentClient(path=path)
    col = client.create_collection("bench", embedding_function=None, metadata={"hnsw:space": "cosine"})
    t0 = time.perf_counter()
    load(col, 0, n, dim, 1)
    client._engine().compact()  # everything into segments
    loaded_s = time.perf_counter() - t0
    load(col, n, tail, dim, 2)  # a log tail the fork copies in memory
    query = clustered(1, dim, 99)
    forks = []
    for k in range(repeat):
        sync_ms = raw_sync_ms(path)
        before = tree_bytes(path)
        w, c = time.perf_counter(), time.process_time()
        fork = col.fork(f"bench-fork-{k}")
        wall_ms, cpu_ms = (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000
        grew = tree_bytes(path) - before
        q = time.perf_counter()
        fork.query(query_embeddings=query, n_results=10, include=[])
        forks.append({"wall_ms": round(wall_ms, 2), "cpu_ms": round(cpu_ms, 2), "raw_fdatasync_ms": round(sync_ms, 2),
                      "new_disk_bytes": grew,
                      "first_query_ms": round((time.perf_counter() - q) * 1000, 2), "count": fork.count()})
    out = {"n": n, "dim": dim, "tail": tail, "load_and_compact_s": round(loaded_s, 1),
           "data_dir_bytes": tree_bytes(path), "forks": forks, "load_average": os.getloadavg()}
    client.close()
    return out


def main() -> None:
    """Parse the arguments, run once, print the figures (and write them as JSON if asked)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--tail", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="parent of the temporary data directory")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    path = tempfile.mkdtemp(prefix="bench-fork-", dir=args.dir)
    try:
        print(f"loading {args.n} x {args.dim} and compacting ...", file=sys.stderr, flush=True)
        res = measure(path, args.n, args.dim, args.tail, args.repeat)
    finally:
        shutil.rmtree(path, ignore_errors=True)
    for k, f in enumerate(res["forks"]):
        print(f"fork {k}: {f['wall_ms']} ms wall, {f['cpu_ms']} ms CPU (raw write+fdatasync just before: "
              f"{f['raw_fdatasync_ms']} ms), {f['new_disk_bytes']} new bytes on disk, "
              f"first query {f['first_query_ms']} ms, {f['count']} records")
    print(f"N={res['n']} dim={res['dim']} tail={res['tail']} data dir {res['data_dir_bytes']} bytes, "
          f"load+compact {res['load_and_compact_s']} s, load average {res['load_average']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
