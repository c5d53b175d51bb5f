"""Replication figures for docs/REPLICATION.md (not a test; run by hand).

    .venv/bin/python tests/replication/bench_replication.py lag --seconds 20 --rate 200 --interval 0.2
    .venv/bin/python tests/replication/bench_replication.py restore --records 100000 --dim 128

``lag``: a primary takes a steady stream of writes (RATE batches/s of 10 records, durability
full); a shipper ships every INTERVAL seconds to a directory archive and a follower polls it
every INTERVAL seconds. For every write the lag is the time from its acknowledgement until
the follower has applied it. ``restore``: build a primary with RECORDS records, compact,
ship once, then time ``restore`` (snapshot + log) and the first open of the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination, Follower, Shipper, restore, state_digest


def bench_lag(seconds: float, rate: float, interval: float, dim: int) -> None:
    root = tempfile.mkdtemp(prefix="sediment-lag-")
    db = Database.open(os.path.join(root, "primary"), DatabaseOptions())
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    dest = DirDestination(os.path.join(root, "archive"))
    shipper = Shipper(db.path, dest, snapshot_interval=1e9)
    shipper.ship_round()
    follower = Follower(dest, os.path.join(root, "replica"))
    follower.start()
    acked: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()

    def ship() -> None:
        while not stop.is_set():
            shipper.ship_round(snapshot=False)
            time.sleep(interval)

    def follow() -> None:
        while not stop.is_set():
            follower.step()
            now = time.monotonic()
            for lsn in [k for k in acked if k not in seen and k <= follower.db.last_lsn]:
                seen[lsn] = now
            time.sleep(interval)

    threads = [threading.Thread(target=ship), threading.Thread(target=follow)]
    for t in threads:
        t.start()
    rng = np.random.default_rng(0)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        ids = [f"r{n}_{i}" for i in range(10)]
        lsn = db.add(cid, ids, rng.random((10, dim), dtype=np.float32), documents=[f"doc {i}" for i in ids])
        acked[lsn] = time.monotonic()
        n += 1
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
    deadline = time.monotonic() + 10 * interval + 5
    while len(seen) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    lags = sorted((seen[k] - acked[k]) * 1000 for k in acked if k in seen)
    same = state_digest(db).digest == state_digest(follower.db).digest
    print(f"writes {n} ({n / seconds:.0f} batches/s, {10 * n / seconds:.0f} records/s), interval {interval}s")
    print(f"lag ms: p50 {statistics.median(lags):.0f}  p90 {lags[int(0.9 * len(lags))]:.0f}  "
          f"p99 {lags[int(0.99 * len(lags))]:.0f}  max {lags[-1]:.0f}  (applied {len(lags)}/{len(acked)})")
    print(f"digests equal at LSN {db.last_lsn}: {same}")
    follower.close()
    db.close()


def bench_restore(records: int, dim: int) -> None:
    root = tempfile.mkdtemp(prefix="sediment-restore-")
    db = Database.open(os.path.join(root, "primary"), DatabaseOptions(background_compaction=False))
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    rng = np.random.default_rng(0)
    t0 = time.monotonic()
    for s in range(0, records, 1000):
        ids = [f"r{i}" for i in range(s, min(records, s + 1000))]
        db.add(cid, ids, rng.random((len(ids), dim), dtype=np.float32),
               documents=[f"document {i}" for i in ids], metadatas=[{"i": i} for i in range(len(ids))])
    db.compact()
    for s in range(0, records // 10, 1000):  # some log after the snapshot
        ids = [f"u{i}" for i in range(s, s + 1000)]
        db.add(cid, ids, rng.random((len(ids), dim), dtype=np.float32))
    built = time.monotonic() - t0
    want = state_digest(db)
    db.close()
    dest = DirDestination(os.path.join(root, "archive"))
    t0 = time.monotonic()
    Shipper(os.path.join(root, "primary"), dest).ship_round(snapshot=True)
    shipped = time.monotonic() - t0
    t0 = time.monotonic()
    plan = restore(dest, os.path.join(root, "restored"))
    restored = time.monotonic() - t0
    t0 = time.monotonic()
    out = Database.open(os.path.join(root, "restored"), DatabaseOptions(read_only=True, background_compaction=False))
    opened = time.monotonic() - t0
    got = state_digest(out)
    out.close()
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(dest.root) for f in fs)
    print(f"{want.records} records, dim {dim}; built in {built:.1f}s; archive {size / 2**20:.1f} MiB "
          f"(snapshot + {len(plan.units)} log units), shipped in {shipped:.2f}s")
    print(f"restore (snapshot + log to LSN {plan.target_lsn}): {restored:.2f}s; first open: {opened:.2f}s; "
          f"digest equal: {got.digest == want.digest}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    lag = sub.add_parser("lag")
    lag.add_argument("--seconds", type=float, default=20)
    lag.add_argument("--rate", type=float, default=200)
    lag.add_argument("--interval", type=float, default=0.2)
    lag.add_argument("--dim", type=int, default=128)
    rs = sub.add_parser("restore")
    rs.add_argument("--records", type=int, default=100_000)
    rs.add_argument("--dim", type=int, default=128)
    a = p.parse_args()
    if a.cmd == "lag":
        bench_lag(a.seconds, a.rate, a.interval, a.dim)
    else:
        bench_restore(a.records, a.dim)


if __name__ == "__main__":
    main()
