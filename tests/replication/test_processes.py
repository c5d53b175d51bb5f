"""Primary and follower as separate processes, killed with SIGKILL at random moments.

Checked: the replica is always a prefix of the primary (batches 0..m, nothing after a hole);
after the last restart everything the primary acknowledged and shipped is on the replica; the
digests of primary and replica agree at the same LSN.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination, Shipper, state_digest
from sedimentdb.engine.storage_errors import StorageError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEDIMENT = os.path.join(os.path.dirname(sys.executable), "sediment")
RO = DatabaseOptions(read_only=True, background_compaction=False)


def _spawn(args: list[str], log) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, *args], stdout=log, stderr=log, env=env, cwd=ROOT)


def _batches(path: str) -> tuple[int, set[int]]:
    """(LSN, batch numbers present) of a database read-only; (-1, set()) if not readable yet."""
    try:
        db = Database.open(path, RO)
    except (StorageError, OSError):
        return -1, set()
    try:
        cols = db.catalog.collections
        if not cols:
            return db.last_lsn, set()
        cid = next(iter(cols))
        ids = db.get(cid).ids
        return db.last_lsn, {int(i[1:].split("_")[0]) for i in ids}
    finally:
        db.close()


def _assert_prefix(present: set[int]) -> None:
    if present:
        assert present == set(range(max(present) + 1)), "replica is not a prefix of the primary"


def _wait_acks(ack: str, more_than: int, timeout: float = 90.0) -> int:
    """Wait until the primary acknowledged more batches than ``more_than`` (imports are slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = sum(1 for _ in open(ack)) if os.path.exists(ack) else 0
        if n > more_than:
            return n
        time.sleep(0.2)
    raise AssertionError("the primary process acknowledged nothing")


def _kill(p: subprocess.Popen | None) -> None:
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_kill_primary_and_follower(tmp_path, seed):
    rng = random.Random(seed)
    primary, archive, replica = str(tmp_path / "p"), str(tmp_path / "a"), str(tmp_path / "r")
    ack = str(tmp_path / "ack")
    log = open(tmp_path / "procs.log", "ab")
    prim = _spawn([os.path.join(HERE, "primary_proc.py"), primary, archive, ack], log)
    acks = _wait_acks(ack, 0)
    fol = None
    try:
        for _ in range(5):
            if fol is None or fol.poll() is not None:
                fol = _spawn(["-c", "from sedimentdb.tools.cli import main; main()", "follow", "--from", archive, replica,
                              "--interval", "0.05"], log)
            time.sleep(rng.uniform(3.0, 9.0))  # process start-up (imports) takes seconds here
            victim = rng.choice(["primary", "follower", "both"])
            if victim in ("follower", "both"):
                _kill(fol)
                _assert_prefix(_batches(replica)[1])
            if victim in ("primary", "both"):
                _kill(prim)
                prim = _spawn([os.path.join(HERE, "primary_proc.py"), primary, archive, ack], log)
                acks = _wait_acks(ack, acks)
        _kill(prim)
        _kill(fol)
        # last restart: ship what the primary has, catch up once
        Shipper(primary, DirDestination(archive)).ship_round()
        res = subprocess.run([SEDIMENT, "follow", "--from", archive, replica,
                              "--once"], env={**os.environ, "PYTHONPATH": ROOT}, cwd=ROOT, capture_output=True)
        assert res.returncode == 0, res.stderr.decode()[-2000:]
    finally:
        _kill(prim)
        _kill(fol)
        log.close()
    acked = [int(line.split()[0]) for line in open(ack) if line.strip()]
    p_lsn, p_batches = _batches(primary)
    r_lsn, r_batches = _batches(replica)
    assert set(acked) <= p_batches  # the primary kept every acknowledged write through its kills
    assert r_lsn == p_lsn and r_batches == p_batches
    _assert_prefix(r_batches)
    a, b = Database.open(primary, RO), Database.open(replica, RO)
    assert state_digest(a).digest == state_digest(b).digest
    a.close()
    b.close()
