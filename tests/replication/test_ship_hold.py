"""The hold keeps the archived head unit in the local log, so a restarted shipper can check it.

A shipper that starts compares the archive's newest log unit with the local log, byte for
byte (``_check_local_matches``). The compactor releases log only through the hold, so the
hold must keep that whole unit, not just what comes after it: otherwise a checkpoint between
a round and a restart releases the unit's first records and the primary is fenced from its
own archive (seen as a flaky ``test_kill_primary_and_follower``).
"""

from __future__ import annotations

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import Shipper, list_archive, restore, state_digest, verify_archive
from sedimentdb.engine.replication.status import read_hold

RO = DatabaseOptions(read_only=True, background_compaction=False)


def _writer(db: Database):
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    n = [0]

    def add() -> None:
        db.add(cid, [f"r{n[0]}"], np.full((1, 4), float(n[0]), dtype=np.float32))
        n[0] += 1

    return add


def _files(db: Database) -> list[tuple[int, int]]:
    return [(f.first_lsn, f.last_lsn) for f in db.wal.files()]


def _restart_ships_and_restores(db: Database, archive, tmp_path) -> None:
    add = _writer_again(db)
    again = Shipper(db.path, archive)
    again.ship_round()  # raised FencedError: the unit's first records were released
    add()
    assert again.ship_round().records == 1
    assert verify_archive(archive, again.db_uuid) == []
    restore(archive, str(tmp_path / "restored"))
    out = Database.open(str(tmp_path / "restored"), RO)
    try:
        assert out.last_lsn == db.last_lsn
        assert state_digest(out).digest == state_digest(db).digest
    finally:
        out.close()


def _writer_again(db: Database):
    cid = db.get_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    return lambda: db.add(cid, ["late"], np.zeros((1, 4), dtype=np.float32))


def test_head_unit_spanning_a_roll_survives_a_checkpoint_and_a_restart(primary, archive, tmp_path):
    add = _writer(primary)
    shipper = Shipper(primary.path, archive)
    add()
    shipper.ship_round()
    first = shipper.state.head.lsn + 1
    files = len(primary.wal.files())
    while len(primary.wal.files()) == files:  # the next unit starts in one file, ends in the next
        add()
    add()
    shipper.ship_round()
    (head,) = [n for n in list_archive(archive, shipper.db_uuid).logs if n.last_lsn == shipper.state.head.lsn]
    assert head.first_lsn == first <= _files(primary)[-2][1] < head.last_lsn
    primary.compact()
    primary.compact()  # the checkpoints cover the whole log: only the hold keeps any of it
    assert primary.wal.files()[0].first_lsn <= head.first_lsn, "the head unit's first records were released"
    assert read_hold(primary.path).shipped_lsn == head.last_lsn  # status still reports what was shipped
    _restart_ships_and_restores(primary, archive, tmp_path)


def test_head_unit_ending_a_sealed_file_survives_a_checkpoint_and_a_restart(primary, archive, tmp_path):
    add = _writer(primary)
    shipper = Shipper(primary.path, archive)
    shipper.ship_round()
    for _ in range(3):
        add()
    shipper.ship_round()
    head = shipper.state.head.lsn
    primary.wal.roll()  # the head unit now ends exactly where a sealed file ends
    primary.compact()
    primary.compact()
    assert _files(primary)[0][0] <= head - 2, "the head unit was released"
    _restart_ships_and_restores(primary, archive, tmp_path)


def test_log_before_the_head_unit_is_still_released(primary, archive):
    add = _writer(primary)
    shipper = Shipper(primary.path, archive)
    shipper.ship_round()
    for _ in range(3):
        while len(primary.wal.files()) < 3:
            add()
        shipper.ship_round()
        add()
        shipper.ship_round()  # the head unit is this one record, in the newest file
        primary.compact()
        primary.compact()
        assert len(primary.wal.files()) == 1  # everything before the head unit was released
