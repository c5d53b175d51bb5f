"""Damaged, missing, duplicated and reordered archive objects are detected, never applied."""

from __future__ import annotations

import os

import pytest

from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import (
    Follower,
    ReplicationStopped,
    Shipper,
    list_archive,
    plan_restore,
    restore,
    verify_archive,
)
from sedimentdb.engine.storage_errors import CorruptionError, StorageError

from .workload import Workload

FOLLOWER = DatabaseOptions(background_compaction=False, durability="off")


@pytest.fixture
def shipped(primary, archive):
    """A primary with 4 shipped rounds (4+ log units) and one snapshot."""
    wl = Workload(primary, 21)
    shipper = Shipper(primary.path, archive)
    for i in range(4):
        for _ in range(6):
            wl.step()
        if i == 1:
            primary.compact()
        shipper.ship_round(snapshot=i == 1)
    listing = list_archive(archive, shipper.db_uuid)
    assert len(listing.logs) >= 4 and listing.snapshots and verify_archive(archive, shipper.db_uuid) == []
    return shipper.db_uuid, listing, wl


def _path(archive, key):
    return os.path.join(archive.root, *key.split("/"))


def _flip(archive, key, offset=-5):
    p = _path(archive, key)
    data = bytearray(open(p, "rb").read())
    data[offset] ^= 0x40
    open(p, "wb").write(bytes(data))


def test_damaged_unit_is_detected_by_verify_restore_and_follow(shipped, archive, tmp_path):
    uid, listing, _ = shipped
    victim = listing.logs[-2]
    _flip(archive, victim.key)
    problems = verify_archive(archive, uid)
    assert any("checksum mismatch" in p and victim.key in p for p in problems)
    with pytest.raises(CorruptionError, match="checksum mismatch"):
        restore(archive, str(tmp_path / "r"))
    assert not os.path.exists(tmp_path / "r")  # nothing that looks like a database is left
    # a restore that stops before the damaged unit still works
    restore(archive, str(tmp_path / "early"), to_lsn=victim.first_lsn - 1)


def test_damaged_envelope_header_is_detected(shipped, archive):
    uid, listing, _ = shipped
    _flip(archive, listing.logs[0].key, offset=20)
    assert any("header checksum" in p for p in verify_archive(archive, uid))


def test_missing_unit_is_a_gap_that_stops_restore_and_follower(shipped, archive, tmp_path):
    uid, listing, _ = shipped
    f = Follower(archive, str(tmp_path / "replica"), options=FOLLOWER)
    f.start()
    missing = listing.logs[-1]
    # the primary ships more; then the unit after the replica's position goes missing
    os.unlink(_path(archive, missing.key))
    assert any("gap" in p for p in verify_archive(archive, uid)) or missing == listing.logs[-1]
    f.close()
    listing2 = list_archive(archive, uid)
    assert listing2.logs[-1].last_lsn < missing.last_lsn
    with pytest.raises(StorageError, match="cannot reach"):
        plan_restore(archive, to_lsn=missing.last_lsn)


def test_gap_in_the_middle_is_never_applied(primary, archive, tmp_path):
    wl = Workload(primary, 22)
    shipper = Shipper(primary.path, archive)
    for _ in range(5):
        wl.step()
    shipper.ship_round()
    f = Follower(archive, str(tmp_path / "replica"), options=FOLLOWER)
    f.start()
    at = f.pos.lsn
    keys = []
    for _ in range(3):
        for _ in range(4):
            wl.step()
        shipper.ship_round()
    uid = shipper.db_uuid
    keys = [n for n in list_archive(archive, uid).logs if n.first_lsn > at]
    os.unlink(_path(archive, keys[0].key))  # the next unit for the replica is gone
    assert any("gap" in p for p in verify_archive(archive, uid))
    with pytest.raises(ReplicationStopped, match="gap in the archive"):
        f.step()
    assert f.db.last_lsn == at  # nothing after the gap was applied
    f.close()


def test_duplicated_objects_are_detected(shipped, archive):
    uid, listing, _ = shipped
    src = listing.logs[1]
    data = open(_path(archive, src.key), "rb").read()
    # a stray copy under a name that is not an archive name
    open(_path(archive, src.key) + " (copy)", "wb").write(data)
    # and the same unit copied under another valid name (a different range)
    other = src.key.replace(f"{src.first_lsn:020d}-", f"{src.first_lsn + 1:020d}-")
    open(_path(archive, other), "wb").write(data)
    problems = verify_archive(archive, uid)
    assert any("not a valid archive object name" in p for p in problems)
    assert any("does not match its name" in p or "overlaps" in p for p in problems)


def test_reordered_objects_are_detected(shipped, archive, tmp_path):
    uid, listing, _ = shipped
    a, b = listing.logs[1], listing.logs[2]
    pa, pb = _path(archive, a.key), _path(archive, b.key)
    da, db_ = open(pa, "rb").read(), open(pb, "rb").read()
    open(pa, "wb").write(db_)  # swap contents: names no longer match what the objects say
    open(pb, "wb").write(da)
    assert any("does not match its name" in p for p in verify_archive(archive, uid))
    with pytest.raises(CorruptionError, match="does not match its name"):
        restore(archive, str(tmp_path / "r"))


def test_replaced_unit_breaks_the_checksum_chain(shipped, archive, tmp_path):
    """A well-formed unit whose predecessor checksum is wrong (another history) is refused."""
    import json
    import struct

    import crc32c

    from sedimentdb.engine.replication.objects import PREFIX

    uid, listing, _ = shipped
    victim = listing.logs[2]
    p = _path(archive, victim.key)
    data = open(p, "rb").read()
    _magic, hlen, _ = PREFIX.unpack_from(data)
    header = json.loads(data[PREFIX.size: PREFIX.size + hlen])
    header["prev_checksum"] = "0" * 64
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    open(p, "wb").write(PREFIX.pack(b"SDBREPL1", len(head), crc32c.crc32c(head)) + head
                        + data[PREFIX.size + hlen:])
    _ = struct
    assert any("predecessor" in p for p in verify_archive(archive, uid))
    with pytest.raises(CorruptionError, match="predecessor"):
        restore(archive, str(tmp_path / "r"))


def test_damaged_snapshot_file_is_detected(shipped, archive, tmp_path):
    uid, listing, _ = shipped
    snap_files = [k for k in archive.list(f"{uid}/files/")]
    assert snap_files
    _flip(archive, snap_files[0], offset=0)
    plan = plan_restore(archive)
    assert plan.snapshot is not None
    with pytest.raises(CorruptionError, match="checksum"):
        restore(archive, str(tmp_path / "r"))
    os.unlink(_path(archive, snap_files[0]))
    assert any("missing" in p for p in verify_archive(archive, uid))


def test_foreign_database_object_is_refused(shipped, archive, tmp_path):
    uid, listing, _ = shipped
    other = "00000000-0000-0000-0000-000000000000"
    src = listing.logs[0]
    dst = _path(archive, src.key.replace(uid, other))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    open(dst, "wb").write(open(_path(archive, src.key), "rb").read())
    assert any("belongs to database" in p for p in verify_archive(archive, other))
    with pytest.raises(StorageError, match="holds 2 databases"):
        plan_restore(archive)


def test_snapshot_after_a_gap_restores_and_rebootstraps_a_stopped_follower(primary, archive, tmp_path):
    from sedimentdb.engine.replication import follow, state_digest

    wl = Workload(primary, 23)
    shipper = Shipper(primary.path, archive)
    for _ in range(6):
        wl.step()
    shipper.ship_round()
    f = Follower(archive, str(tmp_path / "replica"), options=FOLLOWER)
    f.start()
    at = f.pos.lsn
    f.close()
    for _ in range(6):
        wl.step()
    shipper.ship_round()
    uid = shipper.db_uuid
    lost = next(n for n in list_archive(archive, uid).logs if n.first_lsn == at + 1)
    os.unlink(_path(archive, lost.key))  # a gap right after the replica's position
    for _ in range(6):
        wl.step()
    primary.compact()
    shipper.ship_round(snapshot=True)  # a snapshot past the gap
    # a restore to the newest state bridges the gap through that snapshot
    restore(archive, str(tmp_path / "r"))
    with pytest.raises(StorageError, match="cannot reach"):
        plan_restore(archive, to_lsn=lost.last_lsn)
    with pytest.raises(ReplicationStopped, match="gap"):
        follow(archive, str(tmp_path / "replica"), once=True, options=FOLLOWER)
    pos = follow(archive, str(tmp_path / "replica"), once=True, options=FOLLOWER, rebootstrap=True)
    assert pos.lsn == primary.last_lsn
    assert [n for n in os.listdir(tmp_path) if n.startswith("replica.stopped-")]
    from sedimentdb.engine.database import Database

    db = Database.open(str(tmp_path / "replica"), DatabaseOptions(read_only=True, background_compaction=False))
    assert state_digest(db).digest == wl.digests[primary.last_lsn]
    db.close()
