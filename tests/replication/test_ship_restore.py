"""Shipping and point-in-time restore: restores to random LSNs and times equal the primary then."""

from __future__ import annotations

import os
import random

import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import (
    Shipper,
    list_archive,
    plan_restore,
    restore,
    state_digest,
    verify_archive,
)
from sedimentdb.engine.replication.destination import ObjectExistsError
from sedimentdb.engine.storage_errors import StorageError

from .workload import Workload, content

RO = DatabaseOptions(read_only=True, background_compaction=False)


def open_ro(path):
    return Database.open(str(path), RO)


def run_shipped_workload(db, archive, seed, steps=120, clock=None):
    """Random writes with compactions and shipping rounds (snapshots) interleaved."""
    wl = Workload(db, seed, keep_content_every=25)
    rng = random.Random(seed)
    shipper = Shipper(db.path, archive, snapshot_interval=0, **({"clock": clock} if clock else {}))
    for _ in range(steps):
        wl.step()
        if rng.random() < 0.04:
            db.compact()
        if rng.random() < 0.25:
            shipper.ship_round(snapshot=rng.random() < 0.5)
    shipper.ship_round(snapshot=True)
    return wl, shipper


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_restore_to_random_lsns_reproduces_the_primary(primary, archive, tmp_path, seed):
    wl, shipper = run_shipped_workload(primary, archive, seed)
    assert verify_archive(archive, shipper.db_uuid) == []
    assert list_archive(archive, shipper.db_uuid).snapshots, "the workload should have shipped snapshots"
    rng = random.Random(seed)
    lsns = rng.sample(sorted(wl.digests), 4) + [primary.last_lsn] + rng.sample(sorted(wl.contents), 2)
    for i, lsn in enumerate(lsns):
        out = tmp_path / f"restore{i}"
        plan = restore(archive, str(out), to_lsn=lsn)
        assert plan.target_lsn == lsn
        db = open_ro(out)
        try:
            assert db.last_lsn == lsn
            assert state_digest(db).digest == wl.digests[lsn], f"digest differs at LSN {lsn}"
            if lsn in wl.contents:
                assert content(db) == wl.contents[lsn]
        finally:
            db.close()


def test_restore_uses_a_snapshot_and_replays_only_after_it(primary, archive, tmp_path):
    wl, shipper = run_shipped_workload(primary, archive, 7, steps=80)
    snaps = list_archive(archive, shipper.db_uuid).snapshots
    last = snaps[-1]
    plan = plan_restore(archive, to_lsn=primary.last_lsn)
    assert plan.snapshot == last.key and plan.snapshot_lsn == last.lsn
    assert plan.unit_ranges[0][0] <= plan.replay_from <= plan.unit_ranges[0][1] + 1
    before = plan_restore(archive, to_lsn=last.lsn - 1)
    assert before.snapshot != last.key  # a snapshot after the target is never used
    text = plan.describe()
    assert "snapshot" in text and f"restore to LSN {primary.last_lsn}" in text
    assert not os.path.exists(tmp_path / "never")  # the dry-run plan wrote nothing


def test_restore_to_time(primary, archive, tmp_path):
    now = [1000.0]
    wl = Workload(primary, 3)
    shipper = Shipper(primary.path, archive, snapshot_interval=1e9, clock=lambda: now[0])
    marks = {}
    for round_ in range(6):
        for _ in range(5):
            wl.step()
        shipper.ship_round(snapshot=round_ == 2)
        marks[now[0]] = primary.last_lsn
        now[0] += 10.0
    for t, lsn in marks.items():
        out = tmp_path / f"t{int(t)}"
        plan = restore(archive, str(out), to_time=t + 5.0)
        assert plan.target_lsn == lsn
        db = open_ro(out)
        assert state_digest(db).digest == wl.digests[lsn]
        db.close()
    with pytest.raises(Exception, match="nothing was shipped"):
        plan_restore(archive, to_time=999.0)


def test_restore_refuses_a_target_past_the_archive_and_a_non_empty_directory(primary, archive, tmp_path):
    wl = Workload(primary, 4)
    for _ in range(10):
        wl.step()
    Shipper(primary.path, archive).ship_round()
    with pytest.raises(Exception, match="cannot reach LSN"):
        plan_restore(archive, to_lsn=primary.last_lsn + 1)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(Exception, match="not empty"):
        restore(archive, str(busy))


def test_objects_are_write_once_and_reshipping_is_idempotent(primary, archive):
    wl = Workload(primary, 5)
    for _ in range(20):
        wl.step()
    Shipper(primary.path, archive).ship_round(snapshot=True)
    keys = archive.list("")
    # A second shipper (a restart) finds the head in the archive and ships nothing twice.
    again = Shipper(primary.path, archive).ship_round(snapshot=True)
    assert again.records == 0 and archive.list("") == keys
    key = next(k for k in keys if k.endswith(".sdbl"))
    data = archive.get(key)
    assert archive.put_once(key, data) is False  # identical re-upload: success, nothing written
    with pytest.raises(ObjectExistsError):
        archive.put_once(key, data + b"x")


def test_log_is_kept_until_shipped(primary, archive):
    wl = Workload(primary, 6)
    shipper = Shipper(primary.path, archive)
    shipper.ship_round()  # replication is on from here
    shipped = primary.last_lsn
    for _ in range(120):
        wl.step()
    primary.compact()
    primary.compact()
    assert primary.wal.files()[0].first_lsn <= shipped + 1, "unshipped log was released"
    shipper.ship_round()
    wl.step()
    shipper.ship_round()  # the log of the archive's newest unit is kept, so ship past it
    primary.compact()
    primary.compact()
    assert primary.wal.files()[0].first_lsn > shipped + 1, "shipped log should be released again"
    # every record is in the archive: a restore from scratch reproduces the primary
    assert verify_archive(archive, shipper.db_uuid) == []


def test_release_hold_turns_replication_off(primary, archive):
    from sedimentdb.engine.replication import release_hold

    Shipper(primary.path, archive).ship_round()
    assert primary.log_release_limit() is not None
    assert release_hold(primary.path) is True
    assert primary.log_release_limit() is None


def test_retention_keeps_what_retained_snapshots_need(primary, archive, tmp_path):
    from sedimentdb.engine.replication.retention import prune

    wl = Workload(primary, 8)
    shipper = Shipper(primary.path, archive, snapshot_interval=0, retain_snapshots=2)
    for _ in range(5):
        for _ in range(12):
            wl.step()
        primary.compact()
        shipper.ship_round(snapshot=True)
    listing = list_archive(archive, shipper.db_uuid)
    assert len(listing.snapshots) == 2
    assert verify_archive(archive, shipper.db_uuid) == []
    oldest = plan_restore(archive, to_lsn=listing.snapshots[0].lsn)
    assert oldest.snapshot == listing.snapshots[0].key
    # the newest state and the oldest retained point both restore exactly
    for i, lsn in enumerate([listing.snapshots[0].lsn, primary.last_lsn]):
        restore(archive, str(tmp_path / f"r{i}"), to_lsn=lsn)
        db = open_ro(tmp_path / f"r{i}")
        assert state_digest(db).digest == wl.digests[lsn]
        db.close()
    assert listing.logs[0].first_lsn > 1, listing.logs[0]
    # before the oldest retained snapshot's replay point nothing is restorable any more
    with pytest.raises(StorageError, match="no snapshot at or before|log starts at LSN"):
        restore(archive, str(tmp_path / "old"), to_lsn=min(listing.snapshots[0].lsn, listing.logs[0].first_lsn) - 1)
    with pytest.raises(ValueError):
        prune(archive, shipper.db_uuid, keep_snapshots=0)
