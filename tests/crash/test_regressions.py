"""Deterministic regression tests for engine bugs found by the crash, kill and fuzz harnesses."""

from __future__ import annotations

import numpy as np

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions

from .workload import NULL, D, T


def test_vacuum_without_flush_keeps_records_updated_since_the_checkpoint(tmp_path):
    """Found by the kill -9 harness (fixed in 6a3b4f1).

    A background pass that rewrote a segment (vacuum or merge) without flushing the tail
    dropped the old versions of records updated after the checkpoint, while the checkpoint
    stayed put; replaying the update on reopen then found no record to update, so the
    records vanished — after a clean close as well as after a crash.
    """
    opts = DatabaseOptions(background_compaction=False)
    db = Database.open(str(tmp_path), opts, logger=NULL)
    cid = db.create_collection(T, D, "c").id
    ids = [f"x{i}" for i in range(10)]
    db.add(cid, ids, np.random.default_rng(0).random((10, 4), dtype=np.float32),
           metadatas=[{"a": i} for i in range(10)])
    db.compact()
    db.update(cid, ids[:5], metadatas=[{"b": 1}] * 5)  # 50% of the segment is now superseded
    assert db.compactor.run_pass(force=False)  # the vacuum rule fires; the tail is below its thresholds
    db.close()
    db = Database.open(str(tmp_path), opts, logger=NULL)
    got = db.get(cid)
    assert got.ids == ids
    assert got.metadatas[:5] == [{"a": i, "b": 1} for i in range(5)]
    db.close()
