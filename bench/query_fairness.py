"""Does one large query starve small requests? Latency of 1-row gets while a big query runs.

Starts ``sediment run`` on 127.0.0.1 (free port, temporary directory, durability off),
preloads ``--rows`` vectors of ``--dim``, measures a 1-row ``get`` alone, then sends one query
of ``--vectors`` query vectors (``--n-results`` each) and, while it runs, 1-row gets back to
back from another thread. Reports the big query's time and the gets' p50/max during it.

    .venv/bin/python bench/query_fairness.py
    .venv/bin/python bench/query_fairness.py --chunk 0       # one engine call per query (before the fix)
    .venv/bin/python bench/query_fairness.py --rows 20000 --vectors 5000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.http.server_process import ServerProcess  # noqa: E402

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def _preload(http: httpx.Client, rows: int, dim: int) -> str:
    cid = http.post(COLLECTIONS, json={"name": "fair"}).json()["id"]
    rng = np.random.default_rng(0)
    for start in range(0, rows, 2000):
        n = min(2000, rows - start)
        r = http.post(f"{COLLECTIONS}/{cid}/add", json={
            "ids": [f"r{start + i}" for i in range(n)], "embeddings": rng.standard_normal((n, dim)).tolist()})
        r.raise_for_status()
    return cid


def _get_once(http: httpx.Client, cid: str) -> float:
    started = time.perf_counter()
    http.post(f"{COLLECTIONS}/{cid}/get", json={"ids": ["r1"]}).raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure(url: str, cid: str, vectors: int, n_results: int, dim: int) -> dict[str, float]:
    """Gets alone, then gets during one big query."""
    with httpx.Client(base_url=url, timeout=600) as http:
        alone = [_get_once(http, cid) for _ in range(50)]
    body = {"query_embeddings": np.random.default_rng(1).standard_normal((vectors, dim)).tolist(),
            "n_results": n_results, "include": ["distances"]}
    done = threading.Event()
    outcome: dict[str, float] = {}

    def big() -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            started = time.perf_counter()
            r = http.post(f"{COLLECTIONS}/{cid}/query", json=body)
            outcome["big_query_s"] = time.perf_counter() - started
            outcome["big_query_status"] = r.status_code
        done.set()

    during: list[float] = []
    thread = threading.Thread(target=big)
    with httpx.Client(base_url=url, timeout=600) as http:
        thread.start()
        time.sleep(0.2)  # the big body is being sent and parsed; start timing once it is in the engine
        while not done.is_set():
            during.append(_get_once(http, cid))
    thread.join()
    return {"get_alone_p50_ms": statistics.median(alone), "get_alone_max_ms": max(alone),
            "gets_during": len(during), "get_during_p50_ms": statistics.median(during) if during else float("nan"),
            "get_during_max_ms": max(during) if during else float("nan"), **outcome}


def main() -> None:
    """Parse arguments, run the server, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--vectors", type=int, default=2000)
    parser.add_argument("--n-results", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=None,
                        help="SEDIMENT_QUERY_CHUNK_VECTORS for the server (0: one engine call, as before the fix)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {} if args.chunk is None else {"SEDIMENT_QUERY_CHUNK_VECTORS": str(args.chunk)}
        server = ServerProcess(Path(tmp) / "data", Path(tmp) / "server.log", env=env).start()
        try:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                cid = _preload(http, args.rows, args.dim)
            figures = {"chunk": args.chunk if args.chunk is not None else "default", "rows": args.rows, "dim": args.dim, "vectors": args.vectors, "n_results": args.n_results,
                       **measure(server.url, cid, args.vectors, args.n_results, args.dim)}
        finally:
            server.stop()
    for key, value in figures.items():
        print(f"{key:>20}: {value:.2f}" if isinstance(value, float) else f"{key:>20}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
