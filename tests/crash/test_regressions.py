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


def test_reopen_after_a_failed_log_sync_keeps_new_writes_durable():
    """Finding F-8 (found by the I/O-error loops' ``reopen`` workload).

    The first process's fdatasync of the log fails: the kernel may drop the dirty pages while
    the page cache still shows them. A reopen in the same boot read the records from the cache,
    appended new ones to the same file and fdatasynced it through a new handle, which reports
    success without rewriting the dropped pages. After a power loss the file had a hole before
    acknowledged records, and the next open refused it (or would have lost them). The writer
    now rewrites the newest file into a fresh, synced file on open, so nothing it appends
    depends on pages whose writeback failed.
    """
    from sedimentdb.engine.storage_errors import StorageError

    from .simfs import SimFileSystem, crash_image
    from .workload import open_db

    opts = DatabaseOptions(background_compaction=False)
    fs = SimFileSystem()
    db = open_db(fs, opts)
    cid = db.create_collection(T, D, "c").id
    vec = np.arange(8, dtype=np.float32).reshape(2, 4)
    db.add(cid, ["a"], vec[:1])
    fs.inject("sync", 1)  # the next fdatasync fails
    try:
        db.add(cid, ["lost"], vec[1:])
    except StorageError as exc:
        assert "fdatasync" in str(exc), exc
    else:
        raise AssertionError("the failed fdatasync was not reported")
    db.close()
    fs.clear_faults()
    db = open_db(fs, opts)  # same boot: the page cache still holds the unsynced record
    seen = db.get(cid).ids
    db.add(cid, ["acked"], vec[1:])
    db.close()
    assert fs.resynced_after_failure == [], "a reopen fdatasynced the file whose sync had failed"
    assert not fs.violations, fs.violations
    for mode in ("synced", "process"):
        cfs, _ = crash_image(fs.snapshot(), mode)
        db = open_db(cfs, opts)
        try:
            assert db.get(cid).ids == [*seen, "acked"], mode
        finally:
            db.close()
