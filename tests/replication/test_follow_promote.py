"""Followers: bootstrap, catch up, agree with the primary; promotion fences the old primary."""

from __future__ import annotations

import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import (
    FencedError,
    Follower,
    ReplicationStopped,
    Shipper,
    list_archive,
    promote,
    read_position,
    state_digest,
)

from .workload import Workload

FOLLOWER = DatabaseOptions(background_compaction=False, durability="off")


def follower(archive, path):
    f = Follower(archive, str(path), options=FOLLOWER)
    f.start()
    return f


def test_follower_bootstraps_catches_up_and_agrees(primary, archive, tmp_path):
    wl = Workload(primary, 11)
    shipper = Shipper(primary.path, archive, snapshot_interval=0)
    for _ in range(30):
        wl.step()
    primary.compact()
    shipper.ship_round(snapshot=True)
    f = follower(archive, tmp_path / "replica")
    assert f.pos.lsn == primary.last_lsn
    assert state_digest(f.db).digest == wl.digests[primary.last_lsn]
    for _ in range(4):
        for _ in range(10):
            wl.step()
        shipper.ship_round()
        f.step()
        assert f.db.last_lsn == primary.last_lsn
        assert state_digest(f.db).digest == wl.digests[primary.last_lsn]
    # another process reads the replica read-only while the follower holds it
    ro = Database.open(str(tmp_path / "replica"), DatabaseOptions(read_only=True, background_compaction=False))
    assert state_digest(ro).digest == wl.digests[primary.last_lsn]
    ro.close()
    f.close()
    # restart: resumes from its recorded position
    f = follower(archive, tmp_path / "replica")
    wl.step()
    shipper.ship_round()
    assert f.step() == 1 and state_digest(f.db).digest == wl.digests[primary.last_lsn]
    f.close()


def test_follower_is_always_a_prefix_of_the_primary(primary, archive, tmp_path):
    wl = Workload(primary, 12)
    shipper = Shipper(primary.path, archive)
    wl.step()
    shipper.ship_round()
    f = follower(archive, tmp_path / "replica")
    for i in range(40):
        wl.step()
        if i % 3 == 0:
            shipper.ship_round()
        if i % 4 == 0:
            f.step()
            assert f.db.last_lsn <= primary.last_lsn
            assert state_digest(f.db).digest == wl.digests[f.db.last_lsn]
    f.close()


def test_promote_starts_a_new_epoch_and_fences_the_old_primary(primary, archive, tmp_path):
    wl = Workload(primary, 13)
    shipper = Shipper(primary.path, archive)
    for _ in range(15):
        wl.step()
    shipper.ship_round()
    f = follower(archive, tmp_path / "replica")
    f.close()
    fork = primary.last_lsn
    epoch, lsn = promote(str(tmp_path / "replica"))
    assert (epoch, lsn) == (1, fork + 1)
    assert read_position(str(tmp_path / "replica")) is None
    new = Database.open(str(tmp_path / "replica"), FOLLOWER)
    assert new.epoch == 1 and new.wal.files()[-1].first_lsn == fork + 2
    new_wl = Workload(new, 14)
    new_wl.cols = [c for c in new.catalog.collections]
    for _ in range(5):
        new_wl.step()
    Shipper(new.path, archive).ship_round()  # the new primary ships its epoch into the same archive
    # the old primary keeps writing: its shipper is fenced
    for _ in range(5):
        wl.step()
    with pytest.raises(FencedError, match="newer than this database"):
        shipper.ship_round()
    listing = list_archive(archive, shipper.db_uuid)
    assert listing.max_epoch() == 1
    f2 = follower(archive, tmp_path / "replica2")
    assert f2.pos.epoch == 1 and f2.db.last_lsn == new.last_lsn
    assert state_digest(f2.db).digest == new_wl.digests[new.last_lsn]
    f2.close()
    new.close()


def test_old_epoch_units_after_the_fork_are_never_applied(primary, archive, tmp_path):
    """The old primary shipped past the fork before it saw the new epoch: followers of the new
    epoch ignore those units; a follower that applied them is told it diverged."""
    wl = Workload(primary, 15)
    shipper = Shipper(primary.path, archive)
    for _ in range(10):
        wl.step()
    shipper.ship_round()
    follower(archive, tmp_path / "replica").close()
    stale = follower(archive, tmp_path / "stale")
    for _ in range(5):
        wl.step()
    shipper.ship_round()  # epoch 0, past the fork
    assert stale.step() > 0  # this follower takes the old primary's records
    promote(str(tmp_path / "replica"))
    new = Database.open(str(tmp_path / "replica"), FOLLOWER)
    new_wl = Workload(new, 16)
    new_wl.cols = list(new.catalog.collections)
    new_wl.step()
    new.close()
    # the new primary continues the archive from the fork, beside the old primary's later units
    Shipper(str(tmp_path / "replica"), archive).ship_round()
    fresh = follower(archive, tmp_path / "fresh")
    assert fresh.pos.epoch == 1
    new = Database.open(str(tmp_path / "replica"), DatabaseOptions(read_only=True, background_compaction=False))
    assert state_digest(fresh.db).digest == state_digest(new).digest
    new.close()
    fresh.close()
    with pytest.raises(ReplicationStopped, match="superseded primary"):
        stale.step()
    stale.close()
