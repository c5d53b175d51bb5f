"""Requests/s and p50/p99 latency of add and query through ``sediment run`` (HTTP API v2).

Starts a real server on 127.0.0.1 (free port, temporary data directory), preloads a
collection, then for each concurrency level runs that many client threads, each with its own
``sedimentdb.HttpClient``: first ``--ops`` adds per thread (``--batch`` records each), then
``--ops`` queries per thread (``--n-results`` nearest of one vector); heartbeats first give the
floor a request costs with no database work. Latency is measured in
the client around each call, so it includes validation, JSON/base64 encoding, HTTP, the
server and the engine (with ``--durability full``, an fdatasync per group commit).

    .venv/bin/python bench/server_load.py                     # table on stdout
    .venv/bin/python bench/server_load.py --json bench/results/server_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sedimentdb as chromadb  # noqa: E402
from tests.http.server_process import ServerProcess  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _run(port: int, threads: int, op: str, ops: int, batch: int, dim: int, n_results: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        col = client.get_collection("bench", embedding_function=None)
        rng = np.random.default_rng(index)
        mine: list[float] = []
        ready.wait()
        for i in range(ops):
            vectors = rng.standard_normal((batch if op == "add" else 1, dim)).astype(np.float32)
            started = time.perf_counter()
            if op == "add":
                col.add(ids=[f"{threads}-{index}-{i}-{k}" for k in range(batch)], embeddings=vectors,
                        metadatas=[{"thread": index, "i": i}] * batch)
            elif op == "heartbeat":
                client.heartbeat()
            else:
                col.query(query_embeddings=vectors, n_results=n_results)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
        client.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "op": op, "concurrency": threads, "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "records_per_s": len(latencies) * (batch if op == "add" else 1 if op == "query" else 0) / elapsed,
        "p50_ms": _percentile(latencies, 50) * 1000, "p99_ms": _percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def main() -> None:
    """Parse options, run, print a table (and JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client thread counts")
    parser.add_argument("--ops", type=int, default=200, help="requests per thread per operation")
    parser.add_argument("--batch", type=int, default=10, help="records per add")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--preload", type=int, default=10_000, help="records in the collection before timing")
    parser.add_argument("--n-results", type=int, default=10)
    parser.add_argument("--durability", default="full", choices=("full", "normal", "off"))
    parser.add_argument("--compact-tail-records", type=int, default=None,
                        help="SEDIMENT_COMPACT_TAIL_RECORDS for the server (default: the engine's, 20000); "
                             "lower it to query HNSW segments instead of the brute-force searched tail")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directory")
    parser.add_argument("--json", nargs="?", const="-", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        env = {"SEDIMENT_DURABILITY": args.durability}
        if args.compact_tail_records is not None:
            env["SEDIMENT_COMPACT_TAIL_RECORDS"] = str(args.compact_tail_records)
        proc = ServerProcess(Path(root) / "data", Path(root) / "server.log", env=env,
                             args=("--log-level", "warning")).start()
        try:
            client = chromadb.HttpClient(host="127.0.0.1", port=proc.port)
            col = client.create_collection("bench", embedding_function=None)
            rng = np.random.default_rng(0)
            for start in range(0, args.preload, 1000):
                n = min(1000, args.preload - start)
                col.add(ids=[f"pre-{start + k}" for k in range(n)],
                        embeddings=rng.standard_normal((n, args.dim)).astype(np.float32))
            load_before = os.getloadavg()[0]
            rows = []
            for threads in (int(c) for c in args.concurrency.split(",")):
                for op in ("heartbeat", "add", "query"):
                    rows.append(_run(proc.port, threads, op, args.ops, args.batch, args.dim, args.n_results))
        finally:
            proc.stop()

    print(f"sediment run, {args.durability} durability, dim {args.dim}, add batch {args.batch}, "
          f"query n_results {args.n_results}, preload {args.preload}, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before timing")
    print(f"{'op':<6} {'conc':>4} {'req/s':>9} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r['op']:<6} {r['concurrency']:>4} {r['requests_per_s']:>9.1f} {r['records_per_s']:>10.1f} "
              f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
    if args.json:
        report = {"machine": {"cpus": os.cpu_count(), "load_average": load_before, "python": platform.python_version(),
                              "system": platform.platform()}, "options": vars(args), "rows": rows}
        text = json.dumps(report, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
