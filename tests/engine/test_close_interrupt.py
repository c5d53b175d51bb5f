"""close() does not wait for compaction: the job in flight stops at its next step and is
redone after the next open (the log already holds every record)."""

from __future__ import annotations

import os
import time

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE as D
from sedimentdb.engine.database import DEFAULT_TENANT as T
from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions

N, DIM = 40_000, 128
# Generous: a functional bound (the job stops at its next step), not a performance figure.
CLOSE_BOUND_S = 5.0


def test_close_interrupts_a_big_pending_compaction(tmp_path):
    path = str(tmp_path / "db")
    opts = DatabaseOptions(durability="off", compact_tail_records=N)
    db = Database.open(path, opts)
    db.indexer.stop()  # the whole tail is left to the compaction job
    cid = db.create_collection(T, D, "c").id
    vecs = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    for s in range(0, N, 2000):
        db.add(cid, [f"r{i}" for i in range(s, s + 2000)], vecs[s:s + 2000])
    deadline = time.monotonic() + 30
    while not db.compactor._job.locked():  # the flush job has started
        assert time.monotonic() < deadline, "the compactor never started the flush"
        time.sleep(0.01)
    time.sleep(0.3)
    started = time.monotonic()
    db.close()
    took = time.monotonic() - started
    assert db.compactor.interrupted == 1, "close() waited for the job instead of stopping it"
    assert took < CLOSE_BOUND_S
    assert not os.listdir(os.path.join(path, "segments")) or all(
        name.endswith(".tmp") for name in os.listdir(os.path.join(path, "segments")))
    with Database.open(path, DatabaseOptions(durability="off", background_compaction=False)) as again:
        assert again.count(cid) == N
        assert not any(name.endswith(".tmp") for name in os.listdir(os.path.join(path, "segments")))
        assert again.query(cid, vecs[123:124], 1)[0].ids == ["r123"]
