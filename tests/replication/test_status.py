"""replication_status: the role and position of a primary, a replica and a plain directory."""

from __future__ import annotations

import json
import os

import pytest

from sedimentdb.engine.database import REPLICATION_HOLD
from sedimentdb.engine.replication import Follower, Shipper
from sedimentdb.engine.replication.status import Hold, encode_hold, read_hold, replication_status
from sedimentdb.engine.storage_errors import StorageError

from .test_follow_promote import FOLLOWER
from .workload import Workload


def test_plain_directory_is_role_none(primary):
    st = replication_status(primary.path)
    assert st == {"path": primary.path, "role": "none", "last_lsn": primary.last_lsn}
    json.dumps(st)


def test_primary_reports_shipped_position_and_lag(primary, archive):
    wl = Workload(primary, 3)
    for _ in range(10):
        wl.step()
    shipper = Shipper(primary.path, archive, clock=lambda: 1000.0)
    shipper.ship_round(snapshot=False)
    shipped = primary.last_lsn
    for _ in range(5):
        wl.step()
    st = replication_status(primary.path, clock=lambda: 1012.5)
    assert st["role"] == "primary" and st["destination"] == archive.url
    assert st["shipped_lsn"] == shipped and st["last_lsn"] == primary.last_lsn
    assert st["lag_records"] == primary.last_lsn - shipped > 0
    assert st["last_ship_at"] == 1000.0 and st["seconds_since_ship"] == 12.5
    json.dumps(st)
    # the compactor reads the release LSN from the first line: the archive's newest unit (here
    # LSN 1..shipped) stays in the log, for a restarted shipper to check
    assert primary.log_release_limit() == read_hold(primary.path).release_lsn == 0


def test_replica_reports_applied_position(primary, archive, tmp_path):
    wl = Workload(primary, 4)
    for _ in range(10):
        wl.step()
    Shipper(primary.path, archive).ship_round(snapshot=True)
    f = Follower(archive, str(tmp_path / "replica"), options=FOLLOWER)
    f.start()
    try:
        st = replication_status(str(tmp_path / "replica"))
    finally:
        f.close()
    assert st["role"] == "replica" and st["applied_lsn"] == primary.last_lsn == st["last_lsn"]
    assert st["source"] == archive.url and st["epoch"] == 0 and st["db_uuid"]


def test_hold_of_an_older_shipper_has_no_time(primary):
    path = os.path.join(primary.path, REPLICATION_HOLD)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("7\n/some/archive\n")
    assert read_hold(primary.path) == Hold(7, "/some/archive", None)
    st = replication_status(primary.path)
    assert st["shipped_lsn"] == 7 and st["seconds_since_ship"] is None
    assert read_hold_roundtrip(Hold(9, "s3://b/p", 12.25)) == Hold(9, "s3://b/p", 12.25)
    assert read_hold_roundtrip(Hold(9, "s3://b/p", 12.25, 4)) == Hold(9, "s3://b/p", 12.25, 4)
    assert read_hold_roundtrip(Hold(9, "s3://b/p", None, 4)) == Hold(9, "s3://b/p", None, 4)


def read_hold_roundtrip(hold: Hold) -> Hold:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "replication"))
        with open(os.path.join(d, REPLICATION_HOLD), "wb") as f:
            f.write(encode_hold(hold))
        found = read_hold(d)
    assert found is not None
    return found


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(StorageError, match="no such directory"):
        replication_status(str(tmp_path / "nope"))


def test_sediment_info_shows_the_replication_section(primary, archive, tmp_path):
    from click.testing import CliRunner

    from sedimentdb.tools.cli import cli

    wl = Workload(primary, 5)
    for _ in range(8):
        wl.step()
    Shipper(primary.path, archive).ship_round(snapshot=True)
    wl.step()
    runner = CliRunner()
    res = runner.invoke(cli, ["info", primary.path, "--json"], catch_exceptions=False)
    rep = json.loads(res.output)["replication"]
    assert rep["role"] == "primary" and rep["lag_records"] == 1 and rep["last_lsn"] == primary.last_lsn
    res = runner.invoke(cli, ["info", primary.path], catch_exceptions=False)
    assert f"replication:         primary shipping to {archive.url}: shipped LSN {primary.last_lsn - 1} of " \
           f"{primary.last_lsn} (lag 1 records, last ship" in res.output

    f = Follower(archive, str(tmp_path / "replica"), options=FOLLOWER)
    f.start()
    f.close()
    res = runner.invoke(cli, ["info", str(tmp_path / "replica")], catch_exceptions=False)
    assert f"replication:         replica of {archive.url}: applied LSN {primary.last_lsn - 1}, epoch 0" in res.output
    res = runner.invoke(cli, ["info", str(tmp_path / "replica"), "--json"], catch_exceptions=False)
    assert json.loads(res.output)["replication"]["applied_lsn"] == primary.last_lsn - 1


def test_the_last_lsn_follows_the_live_file_and_its_rolls(primary):
    from sedimentdb.engine.replication.status import local_last_lsn

    wl = Workload(primary, 6)
    for _ in range(60):  # several rolls of the 4 KiB log files
        wl.step()
        assert local_last_lsn(primary.path) == primary.last_lsn


def test_a_kept_log_tail_follows_the_live_file_and_its_rolls(primary):
    """The status route keeps one LogTail (no module-global cache): each poll reads what is new."""
    from sedimentdb.engine.replication.status import LogTail

    tail = LogTail(primary.path)
    wl = Workload(primary, 7)
    for _ in range(60):  # several rolls of the 4 KiB log files
        wl.step()
        assert tail.last_lsn() == primary.last_lsn
