"""A crash at every persistence point of a bulk ingest leaves none of its records or all of them.

The bulk ingest (engine/bulk.py) writes one log record, a segment and a manifest. For each
persistence point it passes (every fdatasync, directory fsync, rename, unlink) and each crash
mode of :func:`crash_image`, a fresh database opened on the crash image must hold either the
collection as it was before (empty) or every record bit-exactly, answer queries like brute
force, leave no orphan files, and reopen to the same state. After the call returned, only
"all of them" is acceptable.
"""

from __future__ import annotations

import numpy as np

from sedimentdb.engine.options import DatabaseOptions

from .simfs import CRASH_MODES, SimFileSystem, crash_image
from .workload import ALL, D, T, check_queries, cid_of, observe, open_db, orphans

N, DIM = 1500, 8


def _columns():
    rng = np.random.default_rng(11)
    ids = [f"b{i}" for i in range(N)]
    vecs = rng.normal(size=(N, DIM)).astype(np.float32)
    docs = [f"document {i}" if i % 3 else None for i in range(N)]
    metas = [{"i": i, "s": f"t{i % 4}", "x": i / 7} if i % 5 else None for i in range(N)]
    return ids, vecs, docs, metas


def _state(db, cid):
    r = db.get(cid, include=ALL)
    return r.ids, (r.embeddings.tobytes() if r.ids else b""), r.documents, r.metadatas


def test_a_crash_anywhere_in_a_bulk_ingest_leaves_nothing_or_everything():
    opts = DatabaseOptions(background_compaction=False)  # durability full
    fs = SimFileSystem()
    db = open_db(fs, opts)
    cid = db.create_collection(T, D, "bulk", id=cid_of("bulk")).id
    other = db.create_collection(T, D, "other", id=cid_of("other")).id
    db.add(other, ["o1", "o2"], np.ones((2, DIM), dtype=np.float32))  # a neighbour in the tail
    ids, vecs, docs, metas = _columns()
    points = []
    fs.on_persist = lambda kind, path: points.append((kind, path, fs.snapshot()))
    db.bulk_ingest(cid, ids, vecs, docs, metas)
    fs.on_persist = None
    whole = _state(db, cid)
    neighbour = _state(db, other)
    points.append(("returned", "", fs.snapshot()))
    db.close()
    assert len(points) > 8
    outcomes = {"nothing": 0, "everything": 0}
    for n, (kind, path, snap) in enumerate(points):
        for mode in CRASH_MODES:
            cfs, _ = crash_image(snap, mode, seed=n)
            got = open_db(cfs, opts)
            try:
                state = _state(got, cid)
                where = f"crash before {kind} {path} ({mode})"
                assert _state(got, other) == neighbour, where
                if state == whole:
                    outcomes["everything"] += 1
                    check_queries(got, observe(got))
                else:
                    assert state[0] == [], f"{where}: {len(state[0])} of {N} records"
                    assert kind != "returned", f"{where}: acknowledged, then lost"
                    outcomes["nothing"] += 1
                assert orphans(cfs, got) == [], where
            finally:
                got.close()
            again = open_db(cfs, opts)
            try:
                assert _state(again, cid) == state, f"{where}: a second reopen differs"
            finally:
                again.close()
    assert outcomes["nothing"] and outcomes["everything"], outcomes
