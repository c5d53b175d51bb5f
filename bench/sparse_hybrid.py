"""Hybrid search cost: dense ``Knn`` alone vs dense + BM25 ``Rrf``, through ``collection.search``.

Issue 19 asks for dense + BM25 with Rrf p50 <= 3x dense-only p50 at 100k x 384. The collection
is built once: clustered 384-dim vectors, a synthetic English-like document per record (Zipf
word frequencies over a 5,000-word vocabulary, 8-40 words), its BM25 sparse vector computed by
``ChromaBm25EmbeddingFunction`` on write (the schema's sparse index on ``#document``), then
compacted into segments. Queries are measured one at a time, interleaved (dense, hybrid, query),
in wall time, in this process's CPU time and in the querying thread's CPU time (the machine is
shared: CPU time is what a query costs; the load average is printed next to the wall figures).

    .venv/bin/python bench/sparse_hybrid.py --build 100000 --path /tmp/sediment-hybrid   # once
    .venv/bin/python bench/sparse_hybrid.py --path /tmp/sediment-hybrid --queries 100
    .venv/bin/python bench/sparse_hybrid.py --path /tmp/sediment-hybrid --queries 300 --pruning
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time

import numpy as np

DIM = 384
NAME = "hybrid"
WORDS = 5000


def _vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < WORDS:
        words.add("".join(rng.choice(letters, size=int(rng.integers(3, 10)))))
    return sorted(words)


def _documents(rng: np.random.Generator, vocab: list[str], n: int) -> list[str]:
    weights = 1.0 / np.arange(1, len(vocab) + 1)  # Zipf: a few common words, a long tail
    weights /= weights.sum()
    lengths = rng.integers(8, 41, size=n)
    picks = rng.choice(len(vocab), size=int(lengths.sum()), p=weights)
    out, at = [], 0
    for length in lengths.tolist():
        out.append(" ".join(vocab[i] for i in picks[at:at + length]))
        at += length
    return out


def build(path: str, n: int) -> None:
    """The collection ``hybrid``: n records, BM25 on ``#document``, compacted."""
    import sedimentdb
    from sedimentdb import K, Schema, SparseVectorIndexConfig
    from sedimentdb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    rng = np.random.default_rng(0)
    vocab = _vocabulary(rng)
    centers = rng.standard_normal((64, DIM)).astype(np.float32)
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT,
                                                       embedding_function=ChromaBm25EmbeddingFunction()), key="bm25")
    client = sedimentdb.PersistentClient(path=path)
    col = client.create_collection(NAME, schema=schema, embedding_function=None)
    started = time.process_time()
    batch = 5000
    for start in range(0, n, batch):
        size = min(batch, n - start)
        vectors = centers[rng.integers(0, 64, size)] + 0.3 * rng.standard_normal((size, DIM)).astype(np.float32)
        col.add(ids=[f"r{i}" for i in range(start, start + size)], embeddings=vectors,
                documents=_documents(rng, vocab, size))
    print(f"added {n} records in {time.process_time() - started:.0f} s CPU")
    started = time.process_time()
    client._engine().compact(col.get_model().id)
    print(f"compacted in {time.process_time() - started:.0f} s CPU")
    with open(os.path.join(path, "bench-vocabulary.json"), "w") as f:
        json.dump(vocab, f)


def _p50(values: list[float]) -> float:
    return 1000 * float(np.median(values))


def _time_engine_calls(col) -> list[float]:
    """Wrap the embedded engine's read calls so they add their thread CPU to the returned cell."""
    engine = col._client._engine()
    spent = [0.0]
    for name in ("query", "sparse_query", "get"):
        def wrapped(*args, _real=getattr(engine, name), **kwargs):
            started = time.thread_time()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[0] += time.thread_time() - started
        setattr(engine, name, wrapped)
    return spent


def measure(path: str, queries: int, limit: int) -> dict[str, float]:
    """p50 wall and CPU ms of dense Knn, dense + BM25 Rrf and plain ``query``, interleaved."""
    import sedimentdb
    from sedimentdb import Knn, Rrf, Search

    with open(os.path.join(path, "bench-vocabulary.json")) as f:
        vocab = json.load(f)
    wall, cpu = time.perf_counter(), time.process_time()
    col = sedimentdb.PersistentClient(path=path).get_collection(NAME, embedding_function=None)
    col.search(Search().rank(Knn(query="x", key="bm25", limit=1)))  # opens the segments
    opened = {"open_first_search_s": round(time.perf_counter() - wall, 2),
              "open_first_search_cpu_s": round(time.process_time() - cpu, 2)}
    rng = np.random.default_rng(1)
    texts = _documents(rng, vocab, queries)
    vectors = rng.standard_normal((queries, DIM)).astype(np.float32)
    timings: dict[str, list[float]] = {f"{k}{unit}": [] for k in ("dense", "hybrid", "query")
                                       for unit in ("", "_cpu", "_thread_cpu", "_python_cpu")}
    in_engine = _time_engine_calls(col)

    def timed(name: str, run, *args) -> None:
        wall, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
        in_engine[0] = 0.0
        run(*args)
        timings[name].append(time.perf_counter() - wall)
        timings[name + "_cpu"].append(time.process_time() - cpu)
        timings[name + "_thread_cpu"].append(time.thread_time() - own)
        # The API's own Python: the thread's CPU outside the engine's query/sparse_query/get.
        timings[name + "_python_cpu"].append(time.thread_time() - own - in_engine[0])

    def dense(vector: list[float]) -> None:
        col.search(Search().rank(Knn(query=vector, limit=limit)).limit(limit))

    def hybrid(vector: list[float], text: str) -> None:
        col.search(Search().rank(Rrf([Knn(query=vector, return_rank=True, limit=limit),
                                      Knn(query=text, key="bm25", return_rank=True, limit=limit)])).limit(limit))

    def query(vector: list[float]) -> None:
        col.query(query_embeddings=[vector], n_results=limit, include=[])

    for text, vector in zip(texts, vectors.tolist(), strict=True):
        short = " ".join(text.split()[:4])  # a keyword query, as users type them
        timed("dense", dense, vector)
        timed("hybrid", hybrid, vector, short)
        timed("query", query, vector)
    out = {name: round(_p50(values), 2) for name, values in timings.items()}
    out["hybrid_over_dense"] = round(out["hybrid"] / out["dense"], 2)
    out["hybrid_over_dense_cpu"] = round(out["hybrid_cpu"] / out["dense_cpu"], 2)
    out["dense_over_query"] = round(out["dense"] / out["query"], 2)
    out["dense_over_query_cpu"] = round(out["dense_cpu"] / out["query_cpu"], 2)
    # The querying thread's own CPU: without the engine's background threads, which a shared
    # machine's load also slows down.
    out["hybrid_over_dense_thread_cpu"] = round(out["hybrid_thread_cpu"] / out["dense_thread_cpu"], 2)
    out["dense_over_query_thread_cpu"] = round(out["dense_thread_cpu"] / out["query_thread_cpu"], 2)
    out.update(opened)
    out["segment_bytes"] = {name: sum(os.path.getsize(f) for f in glob.glob(os.path.join(path, "segments", "*", name)))
                            for name in ("metadata.col", "filter.idx", "sparse.idx")}
    out["load_average_1m"] = os.getloadavg()[0]
    out["records"] = col.count()
    return out


def pruning(path: str, queries: int) -> dict[str, float]:
    """How much of the query's posting lists the max-score scorer enumerates (engine/segments/
    sparse_topk.py), against their total length: the same BM25 queries as :func:`measure`."""
    import sedimentdb
    from sedimentdb import Knn, Search
    from sedimentdb.engine.segments import sparse_topk

    with open(os.path.join(path, "bench-vocabulary.json")) as f:
        vocab = json.load(f)
    col = sedimentdb.PersistentClient(path=path).get_collection(NAME, embedding_function=None)
    texts = _documents(np.random.default_rng(1), vocab, queries)
    seen = {"lists": 0, "enumerated": 0, "exhaustive": 0}
    real_terms, real_score, real_exhaustive = sparse_topk._terms, sparse_topk._score_new_rows, sparse_topk._exhaustive

    def terms(*args):
        out = real_terms(*args)
        seen["lists"] += sum(t.length for t in out)
        return out

    def score(postings, terms_, nxt, read, done):
        seen["enumerated"] += terms_[nxt].length
        return real_score(postings, terms_, nxt, read, done)

    def exhaustive(postings, terms_, allowed):
        seen["exhaustive"] += 1
        seen["enumerated"] += sum(t.length for t in terms_)
        return real_exhaustive(postings, terms_, allowed)

    sparse_topk._terms, sparse_topk._score_new_rows, sparse_topk._exhaustive = terms, score, exhaustive
    lists, enumerated = [], []
    try:
        for text in texts:
            before = dict(seen)
            col.search(Search().rank(Knn(query=" ".join(text.split()[:4]), key="bm25", limit=16)).limit(16))
            lists.append(seen["lists"] - before["lists"])
            enumerated.append(seen["enumerated"] - before["enumerated"])
    finally:
        sparse_topk._terms, sparse_topk._score_new_rows, sparse_topk._exhaustive = (real_terms, real_score,
                                                                                    real_exhaustive)
    return {"queries": queries, "list_postings_p50": float(np.median(lists)),
            "list_postings_p90": float(np.percentile(lists, 90)),
            "enumerated_p50": float(np.median(enumerated)), "enumerated_mean": round(float(np.mean(enumerated))),
            "exhaustive_fallbacks": seen["exhaustive"]}


def main() -> None:
    """Build the collection, or measure it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", required=True)
    parser.add_argument("--build", type=int, default=0, help="build a collection of this many records first")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--limit", type=int, default=16, help="each Knn's limit and the page size")
    parser.add_argument("--pruning", action="store_true", help="count the postings the sparse scorer reads instead")
    args = parser.parse_args()
    if args.build:
        build(args.path, args.build)
    if args.pruning:
        print(json.dumps(pruning(args.path, args.queries), indent=1))
        return
    print(json.dumps(measure(args.path, args.queries, args.limit), indent=1))


if __name__ == "__main__":
    main()
