"""Benchmark ``sediment migrate-from-chroma`` against reading the same data out with chromadb.

Run in the bench venv (it needs the full chromadb to build the source and to time its read)::

    .venv-bench/bin/python bench/migrate.py                     # 100k x 384, source kept in /tmp
    .venv-bench/bin/python bench/migrate.py --records 20000 --json bench/results/migrate.json

It builds (once; reused while ``--chroma-dir`` exists) a Chroma directory of N records of
``--dim`` float32 embeddings (cosine, a document and three metadata keys each) with chromadb,
then times, each in a fresh process:

* chromadb's own read-out: open the directory and ``get(include=[embeddings, documents,
  metadatas])`` every record (pages of ``--page`` records), what a hand-written migration
  script has to do;
* ``sediment migrate-from-chroma SRC DEST --json``: read without chromadb, write the SedimentDB
  database, verify it (counts, digests, exact-distance queries), rename it into place.

With ``--graph`` it then times, in the sediment command's Python, what the import defers: the
compactor rewriting the migrated (graphless) segment with an HNSW graph (``Database.compact``),
and 50 queries before and after.

It prints records/s of both, the ratio, the CPU seconds of each process (user + system: on
a loaded machine a steadier measure than wall time), the migration's phases (read, write,
verify), and the machine's load (``uptime``). Nothing asserts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = r"""
import sys, numpy as np, chromadb
path, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
col = chromadb.PersistentClient(path=path).create_collection("bench", metadata={"hnsw:space": "cosine"},
                                                              embedding_function=None)
for s in range(0, n, 5000):
    m = min(5000, n - s)
    col.add(ids=[f"id{i}" for i in range(s, s + m)], embeddings=rng.normal(size=(m, dim)).astype(np.float32),
            documents=[f"document number {i} about topic {i % 10}" for i in range(s, s + m)],
            metadatas=[{"i": i, "topic": f"t{i % 10}", "score": i / 7} for i in range(s, s + m)])
print(col.count())
"""

READ = r"""
import sys, time, chromadb
path, page = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
col = chromadb.PersistentClient(path=path).get_collection("bench", embedding_function=None)
n, got = col.count(), 0
while got < n:
    r = col.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=got)
    got += len(r["ids"])
    if not r["ids"]:
        break
print(got, time.perf_counter() - t)
"""


GRAPH = r"""
import sys, time, numpy as np
from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.ops.common import quiet_logger
T = time.process_time
db = Database.open(sys.argv[1], DatabaseOptions(background_compaction=False), logger=quiet_logger())
cid = next(iter(db.collections))
q = np.random.default_rng(1).normal(size=(50, db.collections[cid].dim)).astype(np.float32)
def queries():
    db.query(cid, q[:1], 10)
    t = T(); db.query(cid, q, 10); return round(T() - t, 3)
before = queries()
t, w = T(), time.perf_counter(); db.compact(); cpu, wall = T() - t, time.perf_counter() - w
after, segments = queries(), len(db.collections[cid].segments())
db.close()
print(before, round(cpu, 2), round(wall, 2), after, segments)
"""


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--page", type=int, default=10_000,
                    help="records per chromadb get() call (one call for all fails: too many SQL variables)")
    ap.add_argument("--chroma-dir", default=None, help="where the Chroma source lives (built if missing)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--graph", action="store_true",
                    help="also time the deferred graph build (compact) of the migrated database")
    ap.add_argument("--sediment", default=None,
                    help="the sediment command to time (default: the one beside this Python)")
    args = ap.parse_args()
    src = args.chroma_dir or os.path.join(tempfile.gettempdir(), f"sediment-bench-chroma-{args.records}x{args.dim}")
    if not os.path.exists(os.path.join(src, "chroma.sqlite3")):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", BUILD, src, str(args.records), str(args.dim)], check=True)
        print(f"built {src} with chromadb in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    load_before = _load()
    cpu = _child_cpu()
    out = subprocess.run([sys.executable, "-c", READ, src, str(args.page)], check=True, capture_output=True,
                         text=True).stdout.split()
    chroma_records, chroma_s = int(out[0]), float(out[1])
    chroma_cpu, cpu = _child_cpu() - cpu, _child_cpu()
    work = tempfile.mkdtemp(prefix="sediment-bench-migrate-")
    dest = os.path.join(work, "db")
    sediment = args.sediment or os.path.join(os.path.dirname(sys.executable), "sediment")
    t = time.perf_counter()
    res = subprocess.run([sediment, "migrate-from-chroma", src, dest, "--json"], check=True, capture_output=True,
                         text=True)
    wall = time.perf_counter() - t
    migrate_cpu = _child_cpu() - cpu
    summary = json.loads(res.stdout)
    graph = None
    if args.graph:
        python = os.path.join(os.path.dirname(sediment), "python")
        # The last line: structlog's default configuration prints the engine's log lines before it.
        out = subprocess.run([python, "-c", GRAPH, dest], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1].split()
        graph = {"queries_50_cpu_seconds_before": float(out[0]), "compact_cpu_seconds": float(out[1]),
                 "compact_seconds": float(out[2]), "queries_50_cpu_seconds_after": float(out[3]),
                 "segments_after": int(out[4])}
    shutil.rmtree(work)
    figures = {
        "records": summary["records"], "dim": args.dim, "source_bytes": summary["source_bytes"],
        "chromadb_get_seconds": round(chroma_s, 2), "chromadb_records_per_second": round(chroma_records / chroma_s),
        "migrate_seconds": round(wall, 2), "migrate_records_per_second": round(summary["records"] / wall),
        "speedup_vs_chromadb_get": round(chroma_s / wall, 2), "verified": summary["verified"],
        "migrate_phases_seconds": summary["phases"], "migrate_phases_cpu_seconds": summary.get("phases_cpu"),
        "chromadb_get_cpu_seconds": round(chroma_cpu, 2), "migrate_cpu_seconds": round(migrate_cpu, 2),
        "cpu_speedup_vs_chromadb_get": round(chroma_cpu / migrate_cpu, 2),
        "load_before": load_before, "load_after": _load(),
    }
    if graph is not None:
        figures["graph_build"] = graph
    for k, v in figures.items():
        print(f"{k:30} {v}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
