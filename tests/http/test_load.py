"""Bounded load on ``sediment run`` with full durability: concurrent writers and readers, then ``kill -9``.

No request may fail, every acknowledged write must be readable, and after the server is
killed without any shutdown code and started again, nothing acknowledged is lost.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import sedimentdb as ours
from tests.http.server_process import ServerProcess

WORKERS = 8
ROUNDS = 6
BATCH = 10
DIM = 16


def _client(proc: ServerProcess) -> ours.http.RemoteClient:
    return ours.HttpClient(host="127.0.0.1", port=proc.port)


def _worker(proc: ServerProcess, worker: int) -> list[str]:
    """Add batches and query after each; the ids the server acknowledged."""
    client = _client(proc)
    col = client.get_collection("load", embedding_function=None)
    rng = np.random.default_rng(worker)
    acked: list[str] = []
    for round_ in range(ROUNDS):
        ids = [f"w{worker}-r{round_}-{k}" for k in range(BATCH)]
        vectors = rng.standard_normal((BATCH, DIM)).astype(np.float32)
        col.add(ids=ids, embeddings=vectors, metadatas=[{"worker": worker, "round": round_}] * BATCH)
        acked += ids
        hit = col.query(query_embeddings=vectors[:1], n_results=1, include=["distances"])
        assert hit["ids"][0] == [ids[0]]
        mine = col.get(where={"worker": worker}, include=[])
        assert len(mine["ids"]) == len(acked)
    client.close()
    return acked


def test_concurrent_clients_then_kill_9(tmp_path: Path) -> None:
    """8 concurrent clients; then a writer is cut off by SIGKILL; a restart has every acknowledged id."""
    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log", env={"SEDIMENT_DURABILITY": "full"}).start()
    _client(proc).create_collection("load", embedding_function=None, metadata={"hnsw:space": "l2"})
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda w: _worker(proc, w), range(WORKERS)))
    acked = [i for ids in results for i in ids]
    assert len(acked) == WORKERS * ROUNDS * BATCH

    # A writer keeps going while the server is killed; what it saw acknowledged must survive.
    late_acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        col = _client(proc).get_collection("load", embedding_function=None)
        n = 0
        while not stop.is_set():
            ids = [f"late-{n}-{k}" for k in range(BATCH)]
            try:
                col.add(ids=ids, embeddings=np.ones((BATCH, DIM), dtype=np.float32) * n)
            except Exception:
                return  # the server died mid-request: this batch was never acknowledged
            late_acked.extend(ids)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.0)
    proc.kill()
    stop.set()
    thread.join(timeout=30)
    assert late_acked, "the writer should have been acknowledged at least once before the kill"

    again = ServerProcess(tmp_path / "data", tmp_path / "server2.log", env={"SEDIMENT_DURABILITY": "full"}).start()
    try:
        col = _client(again).get_collection("load", embedding_function=None)
        everything = acked + late_acked
        found: set[str] = set()
        for start in range(0, len(everything), 1000):
            found.update(col.get(ids=everything[start:start + 1000], include=[])["ids"])
        assert found == set(everything)
        assert col.count() >= len(everything)
    finally:
        again.stop()
