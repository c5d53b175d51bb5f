"""Simulated power loss and process crash at every persistence point of the canonical workloads.

For every persistence point (before each fdatasync, directory fsync, rename, unlink, rmtree
and truncate) of each canonical workload, and for every crash mode of
:func:`~tests.crash.simfs.crash_image`, a fresh Database is opened on the crash image and
must hold exactly the model state after a prefix of the operations that contains every
acknowledged one, answer queries like brute force, and leave no orphan files.

``SEDIMENT_CRASH_SEEDS`` (default 1) runs every randomised crash mode with that many seeds
per point, and ``SEDIMENT_CRASH_SCALE`` (default 1) multiplies the workloads' batch sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal.records import CreateTenant, WriteBatch, WriteOp

from .conftest import env_int
from .simfs import CRASH_MODES, SimFileSystem, crash_image
from .workload import (
    Builder,
    canonical_workloads,
    check_point,
    observe,
    open_db,
    record,
)

SEEDS = env_int("SEDIMENT_CRASH_SEEDS", 1)
SCALE = env_int("SEDIMENT_CRASH_SCALE", 1)
RANDOM_MODES = ("subset", "torn_cut", "torn_zero", "torn_garbage")
WORKLOADS = {w.name: w for w in canonical_workloads(SCALE)}

# Finding F-1 (docs/TESTING.md): a crash while a brand-new database created its first log file
# could leave an empty or torn 00000000000000000001.log that every later open refused.
FIRST_LOG_FILE = "/db/wal/00000000000000000001.log"


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_crash_at_every_persistence_point(name, figures):
    rec = record(WORKLOADS[name])
    assert len(rec.points) > 10
    states = refused = 0
    for i, point in enumerate(rec.points):
        for mode in CRASH_MODES:
            for seed in range(SEEDS if mode in RANDOM_MODES else 1):
                out = check_point(rec, point, mode, seed=i * 1000 + seed, reopen_twice=(mode == "synced"))
                states += 1
                if out.refused:
                    refused += 1
                    pytest.fail(f"{name}: open refused after a crash before {point.kind} {point.path} "
                                f"(acked {point.acked}, mode {mode}): {out.detail}")
    figures[f"crash points/{name}"] = f"{len(rec.points)} persistence points, {states} crash states opened"
    figures["crash points total"] = figures.get("crash points total", 0) + len(rec.points)
    figures["crash states total"] = figures.get("crash states total", 0) + states


def test_crash_while_creating_the_first_log_file_can_be_reopened():
    """Regression for finding F-1 (fixed in 3d1779c: log files are created under a temp name)."""
    fs = SimFileSystem()
    snaps = []
    fs.on_persist = lambda kind, path: snaps.append(fs.snapshot()) if path == FIRST_LOG_FILE else None
    open_db(fs, DatabaseOptions(background_compaction=False)).close()
    cfs, _ = crash_image(snaps[0], "meta_only")  # the name survived, the header bytes did not
    open_db(cfs, DatabaseOptions(background_compaction=False)).close()


def test_reopen_after_clean_close_of_each_workload_is_exact():
    for w in WORKLOADS.values():
        rec = record(w)
        fs, _ = crash_image(rec.points[-1].snap, "synced")
        db = open_db(fs, w.options)
        try:
            assert observe(db) == rec.states[-1], w.name
        finally:
            db.close()


def _unsynced_holes_run(seeds: int):
    """Many small unsynced log records (durability normal), crashed with random block subsets."""
    opts = DatabaseOptions(background_compaction=False, durability="normal", sync_interval_ms=60_000)
    b = Builder("normal-durability", opts, dim=64, seed=9)
    b.create("n")
    for _ in range(12):
        b.add("n", 6)
    rec = record(b.w, after_each_op=True)
    images = holes = refused = refused_with_hole = 0
    for i, point in enumerate(rec.points):
        for seed in range(seeds):
            out_fs, info = crash_image(point.snap, "subset", seed=i * 7919 + seed)
            images += 1
            holes += info.hole_in_unsynced
            try:
                db = open_db(out_fs, opts)
            except CorruptionError:
                refused += 1
                refused_with_hole += info.hole_in_unsynced
                continue
            try:
                got = observe(db)
                assert got in rec.states[: point.acked + 2], "recovered state is not a prefix of the ops"
            finally:
                db.close()
    return images, holes, refused, refused_with_hole


def test_refusals_after_power_loss_happen_only_with_a_hole_in_unsynced_data(figures):
    images, holes, refused, refused_with_hole = _unsynced_holes_run(env_int("SEDIMENT_HOLE_SEEDS", 4))
    assert refused == refused_with_hole, "the engine refused an image without a hole in unsynced data"
    figures["unsynced-hole images (durability normal)"] = (
        f"{images} images, {holes} with a hole in unsynced log data, {refused} refused to open")


def test_hole_in_an_unsynced_group_commit_batch_is_a_torn_tail():
    """Two records written by one group-commit write, never synced; the first one's block is lost."""
    fs = SimFileSystem()
    db = open_db(fs, DatabaseOptions(background_compaction=False))
    db.close()
    db = open_db(fs, DatabaseOptions(background_compaction=False))
    snaps = []
    fs.on_persist = lambda kind, path: snaps.append(fs.snapshot()) if kind == "sync" else None
    vecs = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)  # 6.4 KB, incompressible
    first = db.wal.submit(WriteBatch(WriteOp.ADD, "no-such-collection", [str(i) for i in range(400)], vecs,
                                     None, None, None))
    db.wal.submit(CreateTenant("u"))
    db.wal.wait(first)  # one write holding both records, then the sync point
    fs.on_persist = None
    db.close()
    snap = snaps[0]
    wal_inode = snap.last_write_inode
    write = snap.files[wal_inode].pending[-1]
    # Keep every block of the batch but the first: a hole, then valid frames of record two.
    from .simfs import BLOCK, FrozenFile
    f = snap.files[wal_inode]
    off, data = write[1], write[2]
    content = bytearray(f.synced)
    content.extend(b"\0" * min(BLOCK - off % BLOCK, len(data)))
    content.extend(data[len(content) - off:])
    snap.files[wal_inode] = FrozenFile(bytes(content), bytes(content), ())
    cfs, _ = crash_image(snap, "synced")
    db = open_db(cfs, DatabaseOptions(background_compaction=False))
    assert db.list_tenants() == ["default_tenant"]  # neither unsynced record survives
    db.close()


def test_queries_agree_with_brute_force_after_recovery_with_a_graph_segment():
    """A workload whose segment is big enough for an HNSW graph (FLAT_BELOW rows)."""
    opts = DatabaseOptions(background_compaction=False)
    b = Builder("graph", opts, dim=8, seed=11)
    b.create("g").add("g", 1100).compact().delete_ids("g", ["r1", "r2"]).add("g", 3)
    rec = record(b.w)
    compaction_points = [p for p in rec.points if p.acked == 2 or p.kind == "end"]
    for i, point in enumerate(compaction_points[:: max(1, len(compaction_points) // 6)]):
        out = check_point(rec, point, "synced", seed=i)
        assert out.ok, out.detail
