"""Database.refresh(): a read-only database follows a live writer on the same directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import state_digest
from sedimentdb.engine.storage_errors import InvalidArgumentError, ReadOnlyError, StorageError, StorageIOError
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.frames import encode_frames
from sedimentdb.engine.wal.reader import list_log_files
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

from .conftest import PRIMARY_OPTIONS
from .workload import Workload, content

READER = DatabaseOptions(read_only=True, background_compaction=False)


def reader(path: str) -> Database:
    return Database.open(path, READER)


def test_writes_become_visible_after_refresh(primary):
    ro = reader(primary.path)
    try:
        assert ro.refresh() is False  # nothing new
        wl = Workload(primary, 1)
        for _ in range(40):
            wl.step()
        assert ro.last_lsn < primary.last_lsn
        assert ro.refresh() is True
        assert ro.last_lsn == primary.last_lsn
        assert state_digest(ro).digest == wl.digests[primary.last_lsn]
        assert content(ro) == content(primary)
        assert ro.refresh() is False
    finally:
        ro.close()


def test_compaction_and_log_release_reload_the_same_contents(primary):
    wl = Workload(primary, 2)
    for _ in range(30):
        wl.step()
    ro = reader(primary.path)
    try:
        for _ in range(30):
            wl.step()
        primary.compact()
        first_file = list_log_files(primary.fs, os.path.join(primary.path, "wal"))[0]
        assert os.path.basename(first_file) != "00000000000000000001.log"  # the log was released
        for _ in range(5):
            wl.step()
        assert ro.refresh() is True
        assert ro.manifests[-1].generation == primary.manifests[-1].generation
        assert ro.last_lsn == primary.last_lsn
        assert state_digest(ro).digest == wl.digests[primary.last_lsn]
        assert content(ro) == content(primary)
        primary.compact()  # a compaction with nothing new: same contents, new layout
        assert ro.refresh() is False
        assert content(ro) == content(primary)
        wl.step()
        assert ro.refresh() is True and content(ro) == content(primary)
    finally:
        ro.close()


def test_a_torn_append_is_left_for_the_next_refresh(tmp_path):
    path = str(tmp_path / "db")
    db = Database.open(path, PRIMARY_OPTIONS)
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    db.add(cid, ["a"], np.ones((1, 4), dtype=np.float32))
    lsn = db.last_lsn
    db.close()
    ro = reader(path)
    try:
        # The writer is mid-append: half of the next record's frame is in the file.
        rtype, payload = codec.encode(WriteBatch(WriteOp.ADD, cid, ["b"], np.zeros((1, 4), dtype=np.float32),
                                                 None, None, None))
        frame = encode_frames(lsn + 1, rtype, payload, durable_through=lsn)
        log = list_log_files(ro.fs, os.path.join(path, "wal"))[-1]
        with open(log, "ab") as f:
            f.write(frame[: len(frame) // 2])
        assert ro.refresh() is False
        assert ro.last_lsn == lsn and ro.count(cid) == 1
        with open(log, "ab") as f:
            f.write(frame[len(frame) // 2:])
        assert ro.refresh() is True
        assert ro.last_lsn == lsn + 1 and ro.count(cid) == 2
    finally:
        ro.close()


def test_refresh_retries_a_race_with_garbage_collection_then_fails_clearly(primary, monkeypatch):
    ro = reader(primary.path)
    try:
        Workload(primary, 3).step()
        real = ro.wal.read_new
        calls = {"n": 0}

        def flaky():
            calls["n"] += 1
            if calls["n"] <= 2:
                raise StorageIOError("read failed: No such file or directory", path="wal/x.log")
            return real()

        monkeypatch.setattr(ro.wal, "read_new", flaky)
        assert ro.refresh() is True and ro.last_lsn == primary.last_lsn

        def gone():
            raise StorageIOError("read failed: No such file or directory", path="wal/x.log")

        monkeypatch.setattr(ro.wal, "read_new", gone)
        Workload(primary, 4).step()
        with pytest.raises(StorageError, match="could not catch up with the writer in 5 attempts"):
            ro.refresh()
    finally:
        ro.close()


def test_refresh_is_for_read_only_databases_and_they_refuse_writes(primary):
    with pytest.raises(InvalidArgumentError, match="read_only=True"):
        primary.refresh()
    ro = reader(primary.path)
    try:
        with pytest.raises(ReadOnlyError):
            ro.create_tenant("t")
    finally:
        ro.close()


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from sedimentdb.engine.database import Database, DEFAULT_TENANT, DEFAULT_DATABASE
    from sedimentdb.engine.options import DatabaseOptions
    db = Database.open(sys.argv[1], DatabaseOptions(wal_roll_bytes=8192, durability="off",
                                                    background_compaction=False))
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    for k in range(int(sys.argv[2])):
        db.add(cid, [f"r{k}_{i}" for i in range(3)], np.full((3, 4), float(k), dtype=np.float32))
        if k % 40 == 39:
            db.compact()
    print(db.last_lsn, flush=True)
    db.close()
""")


def test_a_writer_in_another_process(tmp_path):
    path = str(tmp_path / "db")
    Database.open(path, PRIMARY_OPTIONS).close()
    ro = reader(path)
    try:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, path, "200"], stdout=subprocess.PIPE, text=True)
        seen, counts = ro.last_lsn, []
        while proc.poll() is None:
            ro.refresh()
            assert ro.last_lsn >= seen  # never backwards
            seen = ro.last_lsn
            cols = ro.list_collections(DEFAULT_TENANT, DEFAULT_DATABASE)
            if cols:
                n = ro.count(cols[0].id)
                assert n % 3 == 0 and (not counts or n >= counts[-1])  # whole batches, in order
                counts.append(n)
            time.sleep(0.005)
        out, _ = proc.communicate()
        assert proc.returncode == 0
        ro.refresh()
        assert ro.last_lsn == int(out.split()[0])
        cid = ro.list_collections(DEFAULT_TENANT, DEFAULT_DATABASE)[0].id
        assert ro.count(cid) == 600
        assert len(set(counts)) > 3  # it really read while the writer wrote
        with Database.open(path, READER) as fresh:
            assert state_digest(ro).digest == state_digest(fresh).digest
    finally:
        ro.close()
