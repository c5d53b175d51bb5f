"""Segment benchmark (not collected by pytest): write, open, search and filter N x 384.

Run: .venv/bin/python tests/segments/bench_segments.py [N] [--space cosine]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time

import numpy as np
import structlog

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, write_segment


def _data(n: int, dim: int, rng: np.random.Generator) -> SegmentData:
    centres = rng.standard_normal((200, dim)).astype(np.float32)
    vectors = (centres[rng.integers(0, 200, n)] + 0.5 * rng.standard_normal((n, dim), dtype=np.float32))
    return SegmentData(
        ids=[f"id{i}" for i in range(n)], ordinals=np.arange(n, dtype=np.uint64),
        versions=np.ones(n, dtype=np.uint64), vectors=vectors.astype(np.float32),
        documents=[f"document number {i} about topic {i % 50}" for i in range(n)],
        metadatas=[{"cat": f"c{i % 10}", "n": i, "score": (i % 1000) / 10, "flag": i % 2 == 0,
                    "tags": [f"t{i % 7}", f"t{i % 11}"]} for i in range(n)],
        uris=[None] * n,
    )


def _p50_ms(fn, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q.reshape(1, -1))
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def _recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]))


def _bench_merge(fs: OsFileSystem, directory: str, seg: Segment, args: argparse.Namespace,
                 rng: np.random.Generator) -> None:
    extra = _data(args.merge, args.dim, rng)
    extra.ids = [f"new{i}" for i in range(args.merge)]
    rows = list(range(seg.count))
    merged = SegmentData(
        ids=seg.ids + extra.ids, ordinals=np.concatenate([seg.ordinals, extra.ordinals]),
        versions=np.concatenate([seg.versions, extra.versions]),
        vectors=np.concatenate([seg.vectors, extra.vectors]),
        documents=seg.documents(rows) + extra.documents, metadatas=seg.metadatas(rows) + extra.metadatas,
        uris=seg.uris(rows) + extra.uris,
    )
    params = HnswParams(space=args.space)
    for name, seed in (("seeded", seg), ("from scratch", None)):
        t = time.perf_counter()
        desc = write_segment(fs, directory, f"m-{name[0]}", "c", merged, space=args.space, hnsw=params,
                             min_lsn=1, max_lsn=2, seed=seed)
        took = time.perf_counter() - t
        out = Segment.open(fs, directory, desc)
        queries = out.vectors[rng.integers(0, len(merged), 200)] + 0.05
        recall = _recall(out.search(queries, 10)[0], out.exact_search(queries, 10)[0])
        print(f"merge {seg.count} + {args.merge} {name}: {took:.1f} s, recall@10 {recall:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--space", default="cosine")
    parser.add_argument("--merge", type=int, default=0,
                        help="also time a merge adding this many rows, seeded vs from scratch")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rng = np.random.default_rng(0)
    data = _data(args.n, args.dim, rng)
    fs = OsFileSystem()
    directory = tempfile.mkdtemp(prefix="sediment-bench-")
    try:
        t = time.perf_counter()
        desc = write_segment(fs, directory, "s", "c", data, space=args.space, hnsw=HnswParams(space=args.space),
                             min_lsn=1, max_lsn=1)
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        seg = Segment.open(fs, directory, desc)
        open_s = time.perf_counter() - t
        size = sum(f["size"] for f in desc.files.values())
        print(f"n={args.n} dim={args.dim} space={args.space} cpus={os.cpu_count()}")
        print(f"write {write_s:.1f} s, open {open_s:.2f} s, {size / args.n:.0f} bytes/record")
        print("  files: " + ", ".join(f"{k} {v['size'] / 1e6:.1f} MB" for k, v in sorted(desc.files.items())))
        queries = seg.vectors[rng.integers(0, args.n, 200)] + 0.1 * rng.standard_normal((200, args.dim),
                                                                                         dtype=np.float32)
        print(f"search k=10 p50 {_p50_ms(lambda q: seg.search(q, 10), queries):.2f} ms")
        for where in ({"cat": "c3"}, {"n": {"$gte": args.n // 2}},
                      {"$and": [{"score": {"$lt": 50}}, {"flag": True}]}, {"tags": {"$contains": "t3"}}):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                mask = seg.match(where, None)
                times.append(time.perf_counter() - t)
            print(f"match {where}: p50 {1000 * np.median(times):.2f} ms, selects {mask.mean():.1%}")
        for where in ({"cat": "c3"}, {"flag": True}):
            mask = seg.match(where, None)
            p50 = _p50_ms(lambda q, m=mask: seg.search(q, 10, allowed=m), queries)
            recall = _recall(seg.search(queries, 10, allowed=mask)[0], seg.exact_search(queries, 10, mask)[0])
            print(f"search k=10 with a {mask.mean():.0%} filter: p50 {p50:.2f} ms, recall@10 {recall:.4f}")
        print(f"recall@10 unfiltered {_recall(seg.search(queries, 10)[0], seg.exact_search(queries, 10)[0]):.4f}")
        if args.merge:
            _bench_merge(fs, directory, seg, args, rng)
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
