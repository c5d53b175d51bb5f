"""Long-running replication commands stop cleanly on SIGINT and SIGTERM, even when started
with SIGINT ignored (a shell's background job hands that to its children, and Python then
installs no KeyboardInterrupt handler of its own)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from sedimentdb.engine.database import Database
from sedimentdb.engine.replication import read_position
from sedimentdb.tools.cli import cli

from .conftest import PRIMARY_OPTIONS
from .workload import Workload


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_follow_started_with_sigint_ignored_stops_on_a_signal(tmp_path, sig):
    primary, archive, replica = str(tmp_path / "p"), str(tmp_path / "a"), str(tmp_path / "r")
    db = Database.open(primary, PRIMARY_OPTIONS)
    wl = Workload(db, 7)
    for _ in range(5):
        wl.step()
    end = db.last_lsn
    db.close()
    assert CliRunner().invoke(cli, ["replicate", primary, "--to", archive, "--once"]).exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "sedimentdb", "follow", "--from", archive, replica,
                             "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_ignore_sigint)
    try:
        deadline = time.monotonic() + 60
        while (read_position(replica) is None or read_position(replica).lsn < end) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(0.05)
        assert read_position(replica).lsn == end
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with Database.open(replica) as r:  # closed cleanly: opens, lock free
        assert r.last_lsn >= end
