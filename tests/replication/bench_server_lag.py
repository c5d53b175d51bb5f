"""Replication lag through a server, for docs/REPLICATION.md (not a test; run by hand).

    .venv/bin/python tests/replication/bench_server_lag.py --seconds 20 --rate 200 --interval 0.05

A primary ``sediment run --replicate DIR --replicate-interval INTERVAL`` (durability full) takes
RATE single-record adds per second over HTTP (sedimentdb.HttpClient) for SECONDS; a
``sediment follow --from http://127.0.0.1:PORT REPLICA`` process streams from it (long polls).
For every write, lag = from the HTTP acknowledgement until the replica's applied position
(``replication/replica.json``) reaches the write's LSN (found afterwards in the replica's log).
At the end the replica's state digest is compared with the primary's at the same LSN.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sedimentdb as ours  # noqa: E402
from sedimentdb.engine.fileio import OsFileSystem  # noqa: E402
from sedimentdb.engine.replication.follower import read_position  # noqa: E402
from sedimentdb.engine.wal import scan  # noqa: E402
from sedimentdb.engine.wal.records import WriteBatch  # noqa: E402
from tests.http.server_process import ServerProcess  # noqa: E402
from tests.replication.test_server import FollowerProcess, digest_of, status  # noqa: E402


def watch(replica: Path, seen: list[tuple[int, float]], stop: threading.Event) -> None:
    """Record (position LSN, time first seen) whenever the replica's position moves."""
    last = -1
    while not stop.is_set():
        try:
            pos = read_position(str(replica))
        except (OSError, ValueError):
            pos = None  # replaced while read
        if pos is not None and pos.lsn != last:
            seen.append((pos.lsn, time.time()))
            last = pos.lsn
        time.sleep(0.001)


def lsn_of_ids(replica: Path) -> dict[str, int]:
    """LSN of every add in the replica's log, by record id."""
    out: dict[str, int] = {}
    for rec in scan(str(replica / "wal"), fs=OsFileSystem()):
        if isinstance(rec.record, WriteBatch):
            for rid in rec.record.ids:
                out[rid] = rec.lsn
    return out


def main(seconds: float, rate: float, interval: float, durability: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="sediment-server-lag-"))
    server = ServerProcess(root / "db", root / "server.log", env={"SEDIMENT_DURABILITY": durability},
                           args=("--replicate", str(root / "archive"), "--replicate-interval", str(interval)))
    server.start()
    follower = None
    try:
        client = ours.HttpClient(host="127.0.0.1", port=server.port)
        col = client.create_collection("lag", embedding_function=None)
        col.add(ids=["seed"], embeddings=[[0.0, 0.0, 0.0, 0.0]])
        follower = FollowerProcess(server.url, root / "replica", root / "follow.log", interval=interval).start()
        follower.wait_for(status(server)["last_lsn"])
        seen: list[tuple[int, float]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(root / "replica", seen, stop), daemon=True)
        watcher.start()

        acked: dict[str, float] = {}
        start = time.time()
        k = 0
        while time.time() - start < seconds:
            due = start + k / rate
            if due > time.time():
                time.sleep(due - time.time())
            col.add(ids=[f"w{k}"], embeddings=[[float(k), 1.0, 2.0, 3.0]])
            acked[f"w{k}"] = time.time()
            k += 1
        elapsed = time.time() - start
        last = status(server)["last_lsn"]
        follower.wait_for(last)
        time.sleep(0.05)
        stop.set()
        watcher.join()
        client.close()
        follower.stop()
        follower = None
        server.stop()

        lsns = lsn_of_ids(root / "replica")
        lags = []
        for rid, t_ack in acked.items():
            t_seen = next(t for lsn, t in seen if lsn >= lsns[rid])
            lags.append(max(0.0, t_seen - t_ack) * 1000)
        lags.sort()

        def pct(p: float) -> float:
            return lags[min(len(lags) - 1, int(p * len(lags)))]

        print(f"writes {len(acked)} in {elapsed:.1f}s ({len(acked) / elapsed:.0f}/s), durability {durability}, "
              f"interval {interval}s")
        print(f"lag ms: p50 {pct(0.5):.0f}  p90 {pct(0.9):.0f}  p99 {pct(0.99):.0f}  max {lags[-1]:.0f}  "
              f"mean {statistics.mean(lags):.0f}")
        mine, theirs = digest_of(root / "db"), digest_of(root / "replica")
        print(f"digests equal at LSN {theirs.lsn}: {mine.lsn == theirs.lsn and mine.digest == theirs.digest}")
    finally:
        if follower is not None:
            follower.stop()
        server.kill()
        print(f"files in {root} (remove when done)", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second (one record each)")
    parser.add_argument("--interval", type=float, default=0.05, help="the shipper's --replicate-interval")
    parser.add_argument("--durability", default="full", choices=["full", "normal", "off"])
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(args.seconds, args.rate, args.interval, args.durability)
