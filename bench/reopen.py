"""Reopen cost in the states an application leaves a database in (issue 20).

    python bench/reopen.py                       # 100k x 384, cosine, all three states
    python bench/reopen.py --n 30000 --states loaded --profile /tmp/reopen.prof
    /tmp/c159/bin/python bench/reopen.py --module chromadb --states loaded   # chromadb, same data

States, each built in a fresh directory through ``sedimentdb.PersistentClient`` with the
suite's data (bench/suite.py: make_data) in batches of 1,000, then closed at once:

* ``loaded``: right after the bulk load, closed while the tail is unflushed and the
  background indexer / compaction job is running;
* ``mutated``: compacted, then 10% updates + 10% upserts, closed while the job they started
  is running;
* ``compacted``: compacted (``Database.compact``) before closing;
* ``settled``: what bench/suite.py reopens: compacted, 10% updates + 10% upserts + 10%
  deletes, compacted again (the suite's ``wait_indexed``), then closed at once (a job the
  last compaction left for the background, such as a growth job, is interrupted).

``--module chromadb`` (run with an interpreter that has chromadb) builds and reopens the same
states with chromadb, which indexes on the write path: its three states differ only by the
mutations.

Each state is then reopened ``--repeat`` times in a fresh interpreter that times, separately,
``import sedimentdb``, ``PersistentClient(path)`` + ``get_collection`` (open: manifest,
segments, log replay) and the first query, each in wall-clock seconds (perf_counter), process CPU seconds
(process_time, which includes the background threads the open starts) and the opening
thread's CPU seconds (thread_time: the machine is shared, so CPU is the steadier figure),
and also ``close()`` (which must not wait for background work). ``--profile FILE`` writes a
cProfile of the open + first query of the first reopen of each state (FILE.<state>).
The load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import BATCH, make_data  # noqa: E402

STATES = ("loaded", "mutated", "compacted", "settled")

# Runs in the fresh interpreter: argv = path, query json, profile file ('' for none).
CHILD = r"""
import json, sys, time
path, query, prof, module = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}
def mark(name, t0, c0):
    out[name + "_s"] = time.perf_counter() - t0
    out[name + "_cpu_s"] = time.process_time() - c0[0]
    out[name + "_thread_cpu_s"] = time.thread_time() - c0[1]
def now():
    return time.perf_counter(), (time.process_time(), time.thread_time())
t0, c0 = now()
import importlib
m = importlib.import_module(module)
mark("import", t0, c0)
profiler = None
if prof:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
t0, c0 = now()
client = m.PersistentClient(path=path)
col = client.get_collection("bench")
mark("open", t0, c0)
t0, c0 = now()
col.query(query_embeddings=[query], n_results=10)
mark("first_query", t0, c0)
t0, c0 = now()
col.query(query_embeddings=[query], n_results=10)
mark("second_query", t0, c0)
if profiler is not None:
    profiler.disable()
    profiler.dump_stats(prof)
t0, c0 = now()
getattr(client, "close", lambda: None)()
mark("close", t0, c0)
print(json.dumps(out))
"""


def load(module: str, path: str, data: dict[str, Any]) -> Any:
    """A client at ``path`` holding the data's records (batches of BATCH, as the suite loads)."""
    client = importlib.import_module(module).PersistentClient(path=path)
    col = client.get_or_create_collection("bench", metadata={"hnsw:space": "cosine"})
    vecs, n = data["vecs"], len(data["ids"])
    for s in range(0, n, BATCH):
        col.add(ids=data["ids"][s:s + BATCH], embeddings=vecs[s:s + BATCH],
                metadatas=data["metas"][s:s + BATCH], documents=data["docs"][s:s + BATCH])
    return client


def mutate(col: Any, data: dict[str, Any], deletes: bool = False) -> None:
    """10% updates then 10% upserts of the same ids, then (``deletes``) 10% deletes, as
    bench/suite.py: mutate does."""
    rng = np.random.default_rng(2)
    n, vecs, ids = len(data["ids"]), data["vecs"], data["ids"]
    m = max(BATCH, n // 10)
    upd = rng.choice(n, size=m, replace=False)
    new = (vecs[upd] + 0.05 * rng.normal(size=(m, vecs.shape[1]))).astype(np.float32)
    for s in range(0, m, BATCH):
        col.update(ids=[ids[i] for i in upd[s:s + BATCH]], embeddings=new[s:s + BATCH])
    for s in range(0, m, BATCH):
        col.upsert(ids=[ids[i] for i in upd[s:s + BATCH]], embeddings=new[s:s + BATCH])
    if deletes:
        dele = rng.choice(n, size=m, replace=False)
        for s in range(0, m, BATCH):
            col.delete(ids=[ids[i] for i in dele[s:s + BATCH]])


def build(module: str, state: str, root: str, data: dict[str, Any]) -> tuple[str, float]:
    """Build ``state`` under ``root``; return its path and the seconds its close() took."""
    path = os.path.join(root, state)
    client = load(module, path, data)
    if state != "loaded" and module == "sedimentdb":
        client._engine().compact()
    if state in ("mutated", "settled"):
        mutate(client.get_collection("bench"), data, deletes=state == "settled")
    if state == "settled" and module == "sedimentdb":
        client._engine().compact()
    t = time.perf_counter()
    getattr(client, "close", lambda: None)()
    return path, time.perf_counter() - t


def reopen(module: str, path: str, query: list[float], profile: str) -> dict[str, float]:
    """Open ``path`` in a fresh interpreter and time its phases (see CHILD)."""
    out = subprocess.run([sys.executable, "-c", CHILD, path, json.dumps(query), profile, module],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, build each state, reopen it and print the figures (and JSON)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--module", default="sedimentdb", help="sedimentdb or chromadb")
    ap.add_argument("--states", default=",".join(STATES))
    ap.add_argument("--repeat", type=int, default=2, help="reopens per state (the first is cold-ish)")
    ap.add_argument("--profile", default="", help="write cProfile stats of the first reopen to FILE.<state>")
    ap.add_argument("--keep", default="", help="build the states under this directory and keep them")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    data = make_data(args.n, args.dim)
    query = data["queries"][0].tolist()
    root = args.keep or tempfile.mkdtemp(prefix="sediment-reopen-")
    results: dict[str, Any] = {"n": args.n, "dim": args.dim, "module": args.module}
    try:
        for state in args.states.split(","):
            if state not in STATES:
                raise SystemExit(f"unknown state {state!r}; choose from {', '.join(STATES)}")
            path = os.path.join(root, state)
            if args.keep and os.path.isdir(path):
                build_close = float("nan")  # reuse what an earlier --keep run built
            else:
                path, build_close = build(args.module, state, root, data)
            runs = []
            for i in range(args.repeat):
                runs.append(reopen(args.module, path, query, f"{args.profile}.{state}" if args.profile and i == 0 else ""))
                # Each reopen closes at once too, possibly mid-job: the next one sees that state.
            results[state] = {"close_after_build_s": build_close, "runs": runs,
                              "median": {k: float(np.median([r[k] for r in runs])) for k in runs[0]},
                              "load_average": os.getloadavg()[0]}
            print(f"{state}: close after build {build_close:.3f} s, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            for r in runs + [results[state]["median"]]:
                print("  " + "  ".join(f"{k} {v:.3f}" for k, v in r.items()), file=sys.stderr)
            med = results[state]["median"]
            # Process CPU: chromadb loads its index in threads of its own during the first query.
            print(f"  median: open + first query {med['open_s'] + med['first_query_s']:.3f} s wall, "
                  f"{med['open_cpu_s'] + med['first_query_cpu_s']:.3f} s CPU; with the import "
                  f"{med['import_s'] + med['open_s'] + med['first_query_s']:.3f} s wall, "
                  f"{med['import_cpu_s'] + med['open_cpu_s'] + med['first_query_cpu_s']:.3f} s CPU", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
