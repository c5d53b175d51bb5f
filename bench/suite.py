"""Benchmark suite: the same seeded workload through any Chroma-API module, side by side.

    python bench/suite.py                          # sedimentdb (+ chromadb if installed), N=10k,100k
    python bench/suite.py --n 10000 --modules sedimentdb,chromadb --json bench/results/run.json
    python bench/suite.py --scaling                # sedimentdb only, N = 10k, 100k, 1M
    python bench/suite.py --scaling --with-chromadb --raw-hnswlib   # both, and raw hnswlib

Right after the load, after 10% updates + 10% upserts, and under a thread adding 1,000
records/s, queries run at once ("no wait" figures); then the suite waits until everything
is indexed and measures the rest.

Each (module, N) runs in its own process, alternating modules, so peak RSS is per run and
machine drift hits both. The parent prints each figure for every module and the ratio
sedimentdb / chromadb. Chroma needs no network here: embeddings are always given.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

BATCH = 1000
DOC_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


# ---- workload -------------------------------------------------------------------------------------

def make_data(n: int, dim: int, seed: int = 7) -> dict[str, Any]:
    """Clustered vectors, metadata (int, 10-valued string, float) and a short document per record."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(8, n // 1000), dim)).astype(np.float32)
    labels = rng.integers(0, len(centers), size=n)
    vecs = (centers[labels] + 0.35 * rng.normal(size=(n, dim))).astype(np.float32)
    ids = [f"r{i}" for i in range(n)]
    metas = [{"i": i, "cat": f"c{i % 10}", "x": float(rng.random())} for i in range(n)]
    docs = [f"record {i} {DOC_WORDS[i % 10]} {DOC_WORDS[(i // 10) % 10]}" for i in range(n)]
    queries = (centers[rng.integers(0, len(centers), size=200)]
               + 0.35 * rng.normal(size=(200, dim))).astype(np.float32)
    return {"vecs": vecs, "ids": ids, "metas": metas, "docs": docs, "queries": queries}


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)


def exact_topk(vecs: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[set[int]]:
    """Brute-force cosine top-k row indices per query."""
    sims = unit(queries) @ unit(vecs).T
    if allowed is not None:
        sims[:, ~allowed] = -np.inf
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    return [set(t.tolist()) for t in top]


def recall(results: list[list[str]], truth: list[set[int]]) -> float:
    """Mean recall@k of id lists against exact row sets."""
    hits = [len({int(i[1:]) for i in r} & t) / max(1, len(t)) for r, t in zip(results, truth, strict=True)]
    return float(np.mean(hits))


def pct(lat: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    """p50/p95/p99 in milliseconds and queries per second; with ``cpu`` (the querying
    thread's CPU seconds per query) also its median, which a loaded machine inflates far
    less than the wall-clock figures (they include waiting for a core)."""
    a = np.asarray(lat) * 1000
    out = {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
           "p99_ms": float(np.percentile(a, 99)), "qps": float(1000 / a.mean())}
    if cpu:
        out["cpu_p50_ms"] = float(np.percentile(np.asarray(cpu) * 1000, 50))
    return out


def dir_bytes(path: str) -> int:
    """Bytes of every file below ``path``."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# ---- one run (in a worker process) ------------------------------------------------------------------

def open_client(module_name: str, path: str) -> Any:
    """A persistent client of ``module_name`` at ``path`` (full durability for sedimentdb)."""
    mod = importlib.import_module(module_name)
    if module_name == "sedimentdb":
        os.environ.setdefault("SEDIMENT_DURABILITY", "full")
    return mod.PersistentClient(path=path)


def wait_indexed(module_name: str, client: Any) -> None:
    """Block until everything ingested is in an index (SedimentDB: compaction finished)."""
    engine = getattr(client, "_engine", None)
    if module_name == "sedimentdb" and engine is not None:
        engine().compact()


def segment_count(module_name: str, client: Any) -> int | None:
    """How many segments a SedimentDB query searches (query latency grows with it)."""
    engine = getattr(client, "_engine", None)
    if module_name != "sedimentdb" or engine is None:
        return None
    return sum(len(cs.segments()) for cs in engine().collections.values())


def timed_queries(col: Any, queries: np.ndarray, k: int,
                  **kw: Any) -> tuple[list[list[str]], list[float], list[float]]:
    """One query per call; returns ids, latencies and the querying thread's CPU times."""
    out, lat, cpu = [], [], []
    for q in queries:
        c, t = time.thread_time(), time.perf_counter()
        r = col.query(query_embeddings=[q.tolist()], n_results=k, include=[], **kw)
        lat.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        out.append(r["ids"][0])
    return out, lat, cpu


def rss_mb() -> dict[str, float]:
    """Current and peak resident memory of this process, MB."""
    now = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
    return {"rss_mb": now, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def graphs_searched(col: Any) -> dict[str, int] | None:
    """What an unfiltered SedimentDB query of ``col`` searches now: HNSW graphs (segments'
    and log tails'), and rows scanned by brute force (segments without a graph, tail rows
    not yet in their tail's graph); None for other modules."""
    client = getattr(col, "_client", None)
    engine = getattr(client, "_engine", None)
    if engine is None:
        return None
    from sedimentdb.engine.parts import GRAPH_FROM_ROWS, SegmentPart

    graphs = scanned = 0
    for part in engine().collections[str(col.id)].parts:
        if isinstance(part, SegmentPart):
            has = part.segment.graph is not None
            graphs, scanned = graphs + has, scanned + (0 if has else part.count)
        else:
            indexed = part.graph.indexed if part.graph is not None else 0
            has = indexed >= GRAPH_FROM_ROWS
            graphs, scanned = graphs + has, scanned + part.count - (indexed if has else 0)
    return {"graphs": graphs, "scanned_rows": scanned}


def phase(col: Any, data: dict[str, Any], queries: np.ndarray) -> dict[str, Any]:
    """Query figures at this moment, without waiting for any indexing: unfiltered and the
    10%-selective where, each with recall@10 against exact search over the current records,
    and what a query searched (graphs, scanned rows) when the phase began."""
    vecs = data["vecs"]
    out: dict[str, Any] = {"searched": graphs_searched(col)}
    got, lat, cpu = timed_queries(col, queries, 10)
    out["query"] = pct(lat, cpu) | {"recall10": recall(got, exact_topk(vecs, queries, 10))}
    allowed = np.array([m["cat"] == "c3" for m in data["metas"]])
    got, lat, cpu = timed_queries(col, queries, 10, where={"cat": "c3"})
    out["where10"] = pct(lat, cpu) | {"recall10": recall(got, exact_topk(vecs, queries, 10, allowed))}
    return out | rss_mb()


def mutate_now(col: Any, data: dict[str, Any], n: int) -> None:
    """Update 10% and upsert another 10% (new vectors near the old), no waiting; ``data``
    then holds the records as they now are."""
    rng = np.random.default_rng(3)
    m = max(BATCH, n // 10)
    picked = rng.choice(n, size=2 * m, replace=False)
    vecs = data["vecs"].copy()
    new = (vecs[picked] + 0.05 * rng.normal(size=(2 * m, vecs.shape[1]))).astype(np.float32)
    for s in range(0, 2 * m, BATCH):
        chunk = [data["ids"][i] for i in picked[s:s + BATCH]]
        (col.update if s < m else col.upsert)(ids=chunk, embeddings=new[s:s + BATCH])
    vecs[picked] = new
    data["vecs"] = vecs


def with_writer(col: Any, data: dict[str, Any], queries: np.ndarray, rate: int = 1000) -> dict[str, Any]:
    """Queries while a thread adds ``rate`` new records a second (one batch a second); each
    query's recall is against the records acknowledged before it started. ``data`` then
    includes the added records."""
    n, dim = len(data["ids"]), data["vecs"].shape[1]
    total = rate * 90  # the writer stops after 90 s if the queries take longer; only what was added is kept
    extra = make_data(total, dim, seed=11)
    added = [0]
    stop = threading.Event()

    def writer() -> None:
        start = time.perf_counter()
        while not stop.is_set() and added[0] < total:
            s = added[0]
            col.add(ids=[f"r{n + i}" for i in range(s, s + BATCH)], embeddings=extra["vecs"][s:s + BATCH],
                    metadatas=[{"i": n + i, "cat": f"c{(n + i) % 10}", "x": 0.5} for i in range(s, s + BATCH)],
                    documents=extra["docs"][s:s + BATCH])
            added[0] = s + BATCH
            stop.wait(max(0.0, start + added[0] / rate - time.perf_counter()))

    thread = threading.Thread(target=writer, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    time.sleep(1.5)  # the writer is under way
    runs: dict[str, tuple[list[float], list[list[str]], list[Any], list[float]]] = {}
    for key, where in (("query", None), ("where10", {"cat": "c3"})):
        lat, got, seen, cpu = [], [], [], []
        for q in queries:
            before = n + added[0]
            c, t = time.thread_time(), time.perf_counter()
            r = col.query(query_embeddings=[q.tolist()], n_results=10, include=[],
                          **({"where": where} if where else {}))
            lat.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
            got.append(r["ids"][0])
            # A batch acknowledged during the query may or may not be in its answer.
            seen.append((before, n + added[0]))
        runs[key] = (lat, got, seen, cpu)
    stop.set()
    thread.join()
    done = added[0]
    out: dict[str, Any] = {"writer_rps": done / (time.perf_counter() - t0), "searched": graphs_searched(col)}
    # Ground truth after the timed part, so it takes no CPU from the queries.
    everything = np.concatenate([data["vecs"], extra["vecs"][:done]])
    sims = unit(queries) @ unit(everything).T
    cats = np.array([m["cat"] == "c3" for m in data["metas"]] + [(n + i) % 10 == 3 for i in range(done)])
    for key, (lat, got, seen, cpu) in runs.items():
        hits = []
        for qi, window in enumerate(seen):
            truth: set[int] = set()
            for visible in window:
                row = sims[qi].copy()
                row[visible:] = -np.inf
                if key == "where10":
                    row[~cats] = -np.inf
                truth |= set(np.argpartition(-row, 10)[:10].tolist())
            hits.append(len({int(i[1:]) for i in got[qi]} & truth) / 10)
        out[key] = pct(lat, cpu) | {"recall10": float(np.mean(hits))}
    data["vecs"] = np.concatenate([data["vecs"], extra["vecs"][:done]])
    data["ids"] = data["ids"] + [f"r{n + i}" for i in range(done)]
    data["metas"] = data["metas"] + [{"i": n + i, "cat": f"c{(n + i) % 10}", "x": 0.5} for i in range(done)]
    data["docs"] = data["docs"] + list(extra["docs"][:done])
    return out | rss_mb()


def raw_hnswlib(vecs: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """The same vectors in one raw hnswlib index (Chroma's defaults: M 16, construction ef
    100, ef 100), queried one at a time in this process: the floor for an HNSW query here."""
    import hnswlib

    index = hnswlib.Index(space="cosine", dim=vecs.shape[1])
    index.init_index(max_elements=len(vecs), M=16, ef_construction=100)
    index.add_items(vecs, np.arange(len(vecs)))
    index.set_ef(100)
    lat, got, cpu = [], [], []
    for q in queries:
        c, t = time.thread_time(), time.perf_counter()
        labels, _ = index.knn_query(q, k=10, num_threads=1)
        lat.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        got.append([f"r{i}" for i in labels[0]])
    return pct(lat, cpu) | {"recall10": recall(got, exact_topk(vecs, queries, 10))}


def run_worker(module_name: str, n: int, dim: int, path: str, nq: int, raw: bool = False) -> dict[str, Any]:
    """The whole workload for one module; returns its figures."""
    data = make_data(n, dim)
    ids, queries = data["ids"], data["queries"][:nq]
    res: dict[str, Any] = {"module": module_name, "n": n, "dim": dim}
    client = open_client(module_name, path)
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, n, BATCH):
        col.add(ids=ids[s:s + BATCH], embeddings=data["vecs"][s:s + BATCH], metadatas=data["metas"][s:s + BATCH],
                documents=data["docs"][s:s + BATCH])
    t1 = time.perf_counter()
    res["ingest_rps"] = n / (t1 - t0)
    # Every thread of the process (SedimentDB indexes on the writer's thread past its bound).
    res["ingest_cpu_s"] = time.process_time() - c0
    res["load_average_after_ingest"] = os.getloadavg()[0]
    # No waiting: what an application sees when it queries right after writing.
    res["nowait_load"] = phase(col, data, queries)
    mutate_now(col, data, n)
    res["nowait_mutated"] = phase(col, data, queries)
    res["nowait_writer"] = with_writer(col, data, queries)
    vecs, ids, n = data["vecs"], data["ids"], len(data["ids"])
    t1 = time.perf_counter()
    wait_indexed(module_name, client)
    t2 = time.perf_counter()
    res["indexed_s"] = t2 - t1
    res["disk_bytes_load"] = dir_bytes(path)
    res["segments"] = segment_count(module_name, client)
    res["searched"] = graphs_searched(col)
    truth = exact_topk(vecs, queries, 10)
    got, lat, cpu = timed_queries(col, queries, 10)
    res["query"] = pct(lat, cpu) | {"recall10": recall(got, truth)}
    t = time.perf_counter()
    batched = col.query(query_embeddings=queries, n_results=10, include=[])
    res["query_batched_qps"] = len(queries) / (time.perf_counter() - t)
    res["query_batched_recall10"] = recall(batched["ids"], truth)
    allowed = np.array([m["cat"] == "c3" for m in data["metas"]])
    got, lat, cpu = timed_queries(col, queries, 10, where={"cat": "c3"})
    res["query_where10"] = pct(lat, cpu) | {"recall10": recall(got, exact_topk(vecs, queries, 10, allowed))}
    dallowed = np.array(["delta" in d for d in data["docs"]])
    got, lat, cpu = timed_queries(col, queries[:50], 10, where_document={"$contains": "delta"})
    res["query_contains"] = pct(lat, cpu) | {"recall10": recall(got, exact_topk(vecs, queries[:50], 10, dallowed))}
    rng = np.random.default_rng(1)
    pick = [ids[i] for i in rng.integers(0, n, size=100)]
    t = time.perf_counter()
    for s in range(0, 100, 10):
        col.get(ids=pick[s:s + 10])
    res["get_ids_ms"] = (time.perf_counter() - t) / 10 * 1000
    res |= mutate(col, vecs, ids, n, queries, client, module_name)
    res["disk_bytes_mutated"] = dir_bytes(path)
    close = getattr(client, "close", None)
    if close:
        close()
    res["reopen_first_query_s"] = reopen_time(module_name, path, queries[0])
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if raw:
        res["raw_hnswlib"] = raw_hnswlib(vecs, queries)
    return res


def mutate(col: Any, vecs: np.ndarray, ids: list[str], n: int, queries: np.ndarray, client: Any,
           module_name: str) -> dict[str, Any]:
    """Update, upsert and delete 10% each; recall afterwards against the mutated truth."""
    rng = np.random.default_rng(2)
    m = max(BATCH, n // 10)
    upd = rng.choice(n, size=m, replace=False)
    new = (vecs[upd] + 0.05 * rng.normal(size=(m, vecs.shape[1]))).astype(np.float32)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    for s in range(0, m, BATCH):
        col.update(ids=[ids[i] for i in upd[s:s + BATCH]], embeddings=new[s:s + BATCH])
    out["update_rps"] = m / (time.perf_counter() - t)
    vecs = vecs.copy()
    vecs[upd] = new
    t = time.perf_counter()
    for s in range(0, m, BATCH):
        col.upsert(ids=[ids[i] for i in upd[s:s + BATCH]], embeddings=vecs[upd[s:s + BATCH]])
    out["upsert_rps"] = m / (time.perf_counter() - t)
    dele = rng.choice(n, size=m, replace=False)
    t = time.perf_counter()
    for s in range(0, m, BATCH):
        col.delete(ids=[ids[i] for i in dele[s:s + BATCH]])
    out["delete_rps"] = m / (time.perf_counter() - t)
    wait_indexed(module_name, client)
    alive = np.ones(n, dtype=bool)
    alive[dele] = False
    got, _, _ = timed_queries(col, queries[:100], 10)
    out["recall10_after_mutations"] = recall(got, exact_topk(vecs, queries[:100], 10, alive))
    return out


def reopen_time(module_name: str, path: str, query: np.ndarray) -> float:
    """Seconds for a fresh process to open the database and answer a first query."""
    code = (
        "import time,sys,json; t=time.perf_counter(); import importlib; "
        f"m=importlib.import_module({module_name!r}); c=m.PersistentClient(path={path!r}); "
        f"col=c.get_collection('bench'); col.query(query_embeddings=[{query.tolist()!r}], n_results=10); "
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# ---- the parent ----------------------------------------------------------------------------------------

FIGURES = [
    ("load_average_after_ingest", "machine load average (1 min) after ingest", False),
    ("ingest_rps", "acknowledged ingest, records/s", True),
    ("ingest_cpu_s", "ingest: process CPU, s", False),
    ("nowait_load.searched.graphs", "no wait, after load: graphs searched", False),
    ("nowait_load.searched.scanned_rows", "no wait, after load: rows scanned", False),
    ("nowait_load.query.p50_ms", "no wait, after load: query p50, ms", False),
    ("nowait_load.query.cpu_p50_ms", "no wait, after load: query CPU p50, ms", False),
    ("nowait_load.query.p95_ms", "no wait, after load: query p95, ms", False),
    ("nowait_load.query.p99_ms", "no wait, after load: query p99, ms", False),
    ("nowait_load.query.qps", "no wait, after load: queries/s", True),
    ("nowait_load.query.recall10", "no wait, after load: recall@10", True),
    ("nowait_load.where10.p50_ms", "no wait, after load: where p50, ms", False),
    ("nowait_load.where10.p99_ms", "no wait, after load: where p99, ms", False),
    ("nowait_load.where10.recall10", "no wait, after load: where recall@10", True),
    ("nowait_load.peak_rss_mb", "no wait, after load: peak RSS, MB", False),
    ("nowait_mutated.searched.graphs", "no wait, after mutations: graphs searched", False),
    ("nowait_mutated.searched.scanned_rows", "no wait, after mutations: rows scanned", False),
    ("nowait_mutated.query.p50_ms", "no wait, after 10% upd+10% ups: p50, ms", False),
    ("nowait_mutated.query.cpu_p50_ms", "no wait, after mutations: query CPU p50, ms", False),
    ("nowait_mutated.query.p95_ms", "no wait, after 10% upd+10% ups: p95, ms", False),
    ("nowait_mutated.query.p99_ms", "no wait, after 10% upd+10% ups: p99, ms", False),
    ("nowait_mutated.query.qps", "no wait, after 10% upd+10% ups: q/s", True),
    ("nowait_mutated.query.recall10", "no wait, after 10% upd+10% ups: recall", True),
    ("nowait_mutated.where10.p50_ms", "no wait, after mutations: where p50, ms", False),
    ("nowait_mutated.where10.p99_ms", "no wait, after mutations: where p99, ms", False),
    ("nowait_mutated.where10.recall10", "no wait, after mutations: where recall", True),
    ("nowait_mutated.peak_rss_mb", "no wait, after mutations: peak RSS, MB", False),
    ("nowait_writer.writer_rps", "writer thread: records/s achieved", True),
    ("nowait_writer.searched.graphs", "under writer, at its end: graphs searched", False),
    ("nowait_writer.query.p50_ms", "under 1k rec/s writer: query p50, ms", False),
    ("nowait_writer.query.cpu_p50_ms", "under writer: query CPU p50, ms", False),
    ("nowait_writer.query.p95_ms", "under 1k rec/s writer: query p95, ms", False),
    ("nowait_writer.query.p99_ms", "under 1k rec/s writer: query p99, ms", False),
    ("nowait_writer.query.qps", "under 1k rec/s writer: queries/s", True),
    ("nowait_writer.query.recall10", "under 1k rec/s writer: recall@10", True),
    ("nowait_writer.where10.p50_ms", "under writer: where p50, ms", False),
    ("nowait_writer.where10.p99_ms", "under writer: where p99, ms", False),
    ("nowait_writer.where10.recall10", "under writer: where recall@10", True),
    ("nowait_writer.peak_rss_mb", "under writer: peak RSS, MB", False),
    ("indexed_s", "then until fully indexed, s", False),
    ("reopen_first_query_s", "reopen to first query, s", False),
    ("segments", "segments after indexing (SedimentDB)", False),
    ("searched.graphs", "once indexed: graphs searched", False),
    ("query.p50_ms", "query p50, ms", False),
    ("raw_hnswlib.p50_ms", "raw hnswlib, same vectors: query p50, ms", False),
    ("query.cpu_p50_ms", "query CPU p50 (querying thread), ms", False),
    ("raw_hnswlib.cpu_p50_ms", "raw hnswlib: query CPU p50, ms", False),
    ("query.p95_ms", "query p95, ms", False),
    ("query.p99_ms", "query p99, ms", False),
    ("query.qps", "queries/s (single)", True),
    ("query.recall10", "recall@10", True),
    ("query_batched_qps", "queries/s (batched)", True),
    ("query_where10.p50_ms", "10%-selective where p50, ms", False),
    ("query_where10.recall10", "10%-selective where recall@10", True),
    ("query_contains.p50_ms", "where_document $contains p50, ms", False),
    ("query_contains.recall10", "where_document $contains recall@10", True),
    ("get_ids_ms", "get 10 ids, ms", False),
    ("update_rps", "update records/s", True),
    ("upsert_rps", "upsert records/s", True),
    ("delete_rps", "delete records/s", True),
    ("recall10_after_mutations", "recall@10 after mutations", True),
    ("disk_bytes_load", "disk bytes after load", False),
    ("disk_bytes_mutated", "disk bytes after mutations", False),
    ("peak_rss_mb", "peak RSS, MB", False),
]


def lookup(res: dict[str, Any], key: str) -> float | None:
    """A dotted figure from a result, or None."""
    cur: Any = res
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return None if cur is None else float(cur)


def spawn(module_name: str, n: int, dim: int, nq: int, raw: bool = False) -> dict[str, Any]:
    """Run one worker process in a fresh temporary data directory."""
    path = tempfile.mkdtemp(prefix=f"bench-{module_name}-", dir=os.environ.get("BENCH_DIR"))
    try:
        cmd = [sys.executable, __file__, "--worker", module_name, "--n", str(n), "--dim", str(dim),
               "--queries", str(nq), "--path", path] + (["--raw-hnswlib"] if raw else [])
        print(f"running {module_name} N={n} dim={dim} ...", file=sys.stderr, flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{module_name} worker failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(path, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> None:
    """Print each figure for every module and the sedimentdb/chromadb ratio."""
    for n in sorted({r["n"] for r in results}):
        rows = {r["module"]: r for r in results if r["n"] == n}
        mods = list(rows)
        print(f"\nN = {n}, dim = {results[0]['dim']}")
        print(f"{'figure':40s}" + "".join(f"{m:>16s}" for m in mods) + ("       ratio" if len(mods) > 1 else ""))
        for key, label, _higher in FIGURES:
            vals = [lookup(rows[m], key) for m in mods]
            line = f"{label:40s}" + "".join(f"{v:16.4g}" if v is not None else f"{'-':>16s}" for v in vals)
            if len(mods) > 1 and vals[0] is not None and vals[1]:
                line += f"{vals[0] / vals[1]:12.3g}"
            print(line)


def main() -> None:
    """Parse arguments; run as the parent or as one worker."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default=None, help="comma-separated, default sedimentdb[,chromadb]")
    ap.add_argument("--n", default="10000,100000", help="comma-separated record counts")
    ap.add_argument("--dim", type=int, default=384, choices=[384, 768, 1536])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", default=None, help="write all results to this file")
    ap.add_argument("--scaling", action="store_true", help="sedimentdb at N = 10k, 100k, 1M")
    ap.add_argument("--with-chromadb", action="store_true", help="--scaling with chromadb too (1M takes long)")
    ap.add_argument("--raw-hnswlib", action="store_true",
                    help="also time raw hnswlib over the same vectors in the worker process")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, int(args.n), args.dim, args.path, args.queries, args.raw_hnswlib)))
        return
    modules = args.modules.split(",") if args.modules else (
        ["sedimentdb"] + (["chromadb"] if importlib.util.find_spec("chromadb") else []))
    ns = [10_000, 100_000, 1_000_000] if args.scaling else [int(x) for x in args.n.split(",")]
    if args.scaling and not args.with_chromadb:
        modules = ["sedimentdb"]
    results = [spawn(m, n, args.dim, args.queries, args.raw_hnswlib) for n in ns for m in modules]
    report(results)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
