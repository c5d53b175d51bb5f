"""Micro-benchmark of write-ahead log appends (not a test).

    python bench/wal_append.py                       # 60 batches of 1000 x 384-dim per configuration
    python bench/wal_append.py --batches 200 --json bench/results/wal_append.json
    python bench/wal_append.py --dir /mnt/nvme/tmp   # measure another disk

For each durability mode (full, normal, off) and each thread count (1 and 8) it appends the same
batches (1000 records of 384-dim float32 vectors, ids, short documents, small metadata; one
``WriteBatch`` = one log record) through ``Wal.append`` into a fresh log directory, and reports
records/s, MB/s of log bytes, and the ratio to this machine's raw rate measured in the same run:
one ``os.write`` of exactly one record's frame bytes followed by ``os.fdatasync``, repeated as many
times, on a file in the same directory, measured right before each log run (disks in shared VMs
drift by 2-3x within seconds, so each ratio compares neighbours). Every configuration runs
``--repeat`` rounds, interleaved; the medians are reported. ``raw write`` (no sync) is context.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.wal import Wal
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.frames import encode_frames
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def make_batches(count: int, size: int, dim: int, seed: int = 7) -> list[WriteBatch]:
    """``count`` distinct add batches of ``size`` records each."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(count):
        vecs = rng.normal(size=(size, dim)).astype(np.float32)
        ids = [f"b{b}-r{i}" for i in range(size)]
        docs = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)) for i in range(size)]
        metas = [{"i": i, "tag": WORDS[i % len(WORDS)], "score": float(i) / size} for i in range(size)]
        out.append(WriteBatch(WriteOp.ADD, "bench", ids, vecs, docs, metas, None))
    return out


def frame_bytes(batch: WriteBatch) -> bytes:
    """The exact bytes the log writes for ``batch`` (its frames, padded)."""
    rtype, payload = codec.encode(batch)
    return encode_frames(1, rtype, payload)


def raw_rate(directory: str, data: bytes, n: int, sync: bool) -> float:
    """Seconds per ``write`` (+ ``fdatasync``) of ``data``, averaged over ``n`` appends."""
    path = os.path.join(directory, "raw.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fsync(fd)
        t0 = time.perf_counter()
        for _ in range(n):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fdatasync(fd)
        return (time.perf_counter() - t0) / n
    finally:
        os.close(fd)
        os.unlink(path)


def run_wal(directory: str, batches: list[WriteBatch], total: int, mode: str, threads: int,
            interval_ms: int) -> dict[str, Any]:
    """Append ``total`` batches with ``threads`` threads; return timing and counters."""
    wal = Wal.open(directory, fs=OsFileSystem(), durability=mode, sync_interval_ms=interval_ms)
    per_thread = [total // threads + (1 if t < total % threads else 0) for t in range(threads)]
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        start.wait()
        try:
            for k in range(per_thread[t]):
                wal.append(batches[(t + k * threads) % len(batches)])
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - t0
    last = wal.last_lsn
    wal.close()  # its final sync (normal/full) is not timed: it is the same in every run
    if errors:
        raise errors[0]
    log_bytes = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory)
                    if n.endswith(".log"))
    return {"seconds": elapsed, "records": sum(len(batches[0].ids) for _ in range(total)),
            "batches": total, "log_bytes": log_bytes, "last_lsn": last}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=60, help="batches appended per configuration")
    ap.add_argument("--batch-size", type=int, default=1000, help="records per batch (one log record)")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--threads", default="1,8", help="comma-separated thread counts")
    ap.add_argument("--modes", default="full,normal,off", help="comma-separated durability modes")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are reported")
    ap.add_argument("--sync-interval-ms", type=int, default=200, help="interval of durability=normal")
    ap.add_argument("--dir", default=None, help="parent directory for the logs (default: a temp dir)")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                    help="write results as JSON to FILE (or stdout with no FILE)")
    args = ap.parse_args(argv)

    batches = make_batches(8, args.batch_size, args.dim)
    data = frame_bytes(batches[0])
    mb = len(data) / 1e6
    configs = [(m, int(t)) for m in args.modes.split(",") for t in args.threads.split(",")]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in configs}
    raw_sync: list[float] = []
    raw_nosync: list[float] = []
    root = tempfile.mkdtemp(prefix="wal-bench-", dir=args.dir)
    try:
        for rnd in range(args.repeat):
            raw_nosync.append(raw_rate(root, data, args.batches, sync=False))
            for mode, threads in configs:
                base = raw_rate(root, data, args.batches, sync=True)
                raw_sync.append(base)
                d = os.path.join(root, f"{mode}-{threads}-{rnd}")
                r = run_wal(d, batches, args.batches, mode, threads, args.sync_interval_ms)
                shutil.rmtree(d)
                r["mb_s"] = r["log_bytes"] / 1e6 / r["seconds"]
                r["ratio_to_raw_fdatasync"] = r["mb_s"] / (mb / base)
                runs[(mode, threads)].append(r)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med = statistics.median
    raw = {"batch_bytes": len(data), "write_fdatasync_s": med(raw_sync), "write_only_s": med(raw_nosync),
           "write_fdatasync_mb_s": mb / med(raw_sync), "write_only_mb_s": mb / med(raw_nosync),
           "write_fdatasync_records_s": args.batch_size / med(raw_sync),
           "write_fdatasync_mb_s_range": [mb / max(raw_sync), mb / min(raw_sync)]}
    rows = []
    for (mode, threads), rs in runs.items():
        rows.append({"mode": mode, "threads": threads, "batches": args.batches,
                     "records_s": med(r["records"] / r["seconds"] for r in rs),
                     "mb_s": med(r["mb_s"] for r in rs),
                     "ratio_to_raw_fdatasync": med(r["ratio_to_raw_fdatasync"] for r in rs),
                     "rounds": rs})

    result = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                          "cpus": os.cpu_count()},
              "workload": {"batch_size": args.batch_size, "dim": args.dim, "batches": args.batches,
                           "repeat": args.repeat, "sync_interval_ms": args.sync_interval_ms},
              "raw": raw, "wal": rows}
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
            return 0
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(f"batch: {args.batch_size} records x {args.dim} dims = {len(data) / 1e6:.2f} MB of log per append")
    lo, hi = raw["write_fdatasync_mb_s_range"]
    print(f"raw write+fdatasync: {raw['write_fdatasync_records_s']:>10,.0f} records/s "
          f"{raw['write_fdatasync_mb_s']:8.1f} MB/s   ({med(raw_sync) * 1e3:.2f} ms per batch; "
          f"{lo:.0f}-{hi:.0f} MB/s over {len(raw_sync)} measurements)")
    print(f"raw write only:      {args.batch_size / med(raw_nosync):>10,.0f} records/s "
          f"{raw['write_only_mb_s']:8.1f} MB/s")
    print(f"medians of {args.repeat} rounds of {args.batches} appends; ratio = log MB/s / raw MB/s measured "
          "just before")
    print(f"{'mode':<8}{'threads':>8}{'records/s':>14}{'MB/s':>10}{'x raw fdatasync':>18}")
    for r in rows:
        print(f"{r['mode']:<8}{r['threads']:>8}{r['records_s']:>14,.0f}{r['mb_s']:>10.1f}"
              f"{r['ratio_to_raw_fdatasync']:>18.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
