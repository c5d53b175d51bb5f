"""The replication commands end to end: replicate, restore (dry run, LSN), digest --against,
follow, promote, archive-verify, replicate --off."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from sedimentdb.engine.database import Database
from sedimentdb.engine.replication import state_digest
from sedimentdb.tools.cli import cli

from .conftest import PRIMARY_OPTIONS
from .workload import Workload


def sediment(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_round_trip(tmp_path):
    path, arch = str(tmp_path / "p"), str(tmp_path / "arch")
    db = Database.open(path, PRIMARY_OPTIONS)
    wl = Workload(db, 31)
    for _ in range(20):
        wl.step()
    db.compact()
    mid = db.last_lsn
    for _ in range(10):
        wl.step()
    end = db.last_lsn
    db.close()

    res = sediment("replicate", path, "--to", arch, "--once")
    assert res.exit_code == 0 and f"archive at LSN {end}" in res.output and "snapshot" in res.output

    res = sediment("restore", "--from", arch, str(tmp_path / "never"), "--to-lsn", str(mid), "--dry-run", "--json")
    plan = json.loads(res.output)
    assert res.exit_code == 0 and plan["target_lsn"] == mid and plan["dry_run"]
    assert not os.path.exists(tmp_path / "never")

    res = sediment("restore", "--from", arch, str(tmp_path / "r"), "--to-lsn", str(mid))
    assert res.exit_code == 0 and f"at LSN {mid}" in res.output
    res = sediment("digest", str(tmp_path / "r"), "--json")
    assert json.loads(res.output)["digest"] == wl.digests[mid]

    res = sediment("digest", path, "--against", arch)
    assert res.exit_code == 0 and "EQUAL" in res.output

    res = sediment("archive-verify", arch)
    assert res.exit_code == 0 and "clean" in res.output

    res = sediment("follow", "--from", arch, str(tmp_path / "replica"), "--once")
    assert res.exit_code == 0 and f"replica at LSN {end}" in res.output

    res = sediment("promote", str(tmp_path / "replica"))
    assert res.exit_code == 0 and "epoch 1" in res.output
    replica = Database.open(str(tmp_path / "replica"), PRIMARY_OPTIONS)
    assert replica.epoch == 1 and state_digest(replica).digest == wl.digests[end]
    replica.close()

    res = sediment("replicate", path, "--status")
    status = json.loads(res.output)
    assert status["replicating"] and status["shipped_lsn"] == end == status["local_lsn"] and status["lag_records"] == 0
    res = sediment("replicate", str(tmp_path / "replica"), "--status")
    assert json.loads(res.output)["replica"] is None  # promoted: no longer a replica

    res = sediment("replicate", path, "--off")
    assert res.exit_code == 0 and "removed" in res.output


def test_cli_reports_damage_and_a_diverged_digest(tmp_path):
    path, arch = str(tmp_path / "p"), str(tmp_path / "arch")
    db = Database.open(path, PRIMARY_OPTIONS)
    wl = Workload(db, 32)
    for _ in range(10):
        wl.step()
    db.close()
    assert sediment("replicate", path, "--to", arch, "--once").exit_code == 0
    # the primary moves on without shipping, then differs from the archive at its own LSN
    db = Database.open(path, PRIMARY_OPTIONS)
    wl.db = db
    for _ in range(3):
        wl.step()
    db.close()
    res = sediment("digest", path, "--against", arch)
    assert res.exit_code != 0  # the archive cannot reach that LSN
    log = next(k for k in sorted(os.listdir(os.path.join(arch))) if k)
    units = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(arch, log)) for f in fs
             if f.endswith(".sdbl")]
    with open(units[0], "r+b") as f:
        f.seek(-3, 2)
        b = f.read(1)
        f.seek(-3, 2)
        f.write(bytes([b[0] ^ 1]))
    res = sediment("archive-verify", arch)
    assert res.exit_code == 1 and "checksum mismatch" in res.output
    res = sediment("follow", "--from", arch, str(tmp_path / "replica"), "--once")
    assert res.exit_code == 4 and "checksum mismatch" in res.output
