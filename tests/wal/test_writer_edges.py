"""Edges of the log writer (engine/wal/writer.py) on the real file system: the newest file
rewritten on open (F-8), files damaged under an open log, failures at close, roll and in the
``normal``-durability ticker, and calls a log refuses by mode.
"""

from __future__ import annotations

import os
import time

import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import CorruptionError, ReadOnlyError, StorageIOError, WriterFailedError
from sedimentdb.engine.wal import Wal
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import frames as FR
from tests.wal.walkit import (
    CountingFs,
    batch,
    log_files,
    positions,
    read,
    read_all,
    truncate,
    write,
    write_log,
)

FS = OsFileSystem()


# ---- F-8: the newest file is a fresh, synced copy before anything is appended -----------------


def test_a_writer_open_replaces_the_newest_file_by_a_synced_copy_of_the_same_bytes(tmp_path):
    d = str(tmp_path)
    write_log(d, 3)
    (path,) = log_files(d)
    before, inode = read(path), os.stat(path).st_ino
    fs = CountingFs()
    wal = Wal.open(d, fs=fs)
    try:
        assert read(path) == before and os.stat(path).st_ino != inode
        assert fs.syncs == [path + ".tmp"]  # the copy is synced before it is renamed in
        assert not os.path.exists(path + ".tmp")
        assert wal.append(batch(4)) == 4
    finally:
        wal.close()
    assert [lsn for lsn, _ in read_all(d)] == [1, 2, 3, 4]


def test_a_read_only_open_and_a_header_only_file_are_left_as_they_are(tmp_path):
    d = str(tmp_path)
    Wal.open(d, fs=FS).close()  # a fresh log: one file holding its header only
    (path,) = log_files(d)
    inode = os.stat(path).st_ino
    Wal.open(d, fs=FS).close()
    assert os.stat(path).st_ino == inode
    write_log(d, 2)
    inode = os.stat(path).st_ino
    Wal.open(d, fs=FS, read_only=True).close()
    assert os.stat(path).st_ino == inode


def test_a_copy_left_by_a_crash_before_its_rename_is_removed_and_the_log_reads_whole(tmp_path):
    d = str(tmp_path)
    write_log(d, 3)
    (path,) = log_files(d)
    write(path + ".tmp", read(path)[:100])  # the crash cut the copy short
    assert [lsn for lsn, _ in read_all(d)] == [1, 2, 3]
    assert log_files(d) == [path] and not os.path.exists(path + ".tmp")


def test_a_failed_copy_fails_the_open_and_leaves_the_log_as_it_was(tmp_path):
    d = str(tmp_path)
    write_log(d, 3)
    (path,) = log_files(d)
    before = read(path)
    fs = CountingFs()
    fs.fail_next_sync = True
    with pytest.raises(StorageIOError, match="fdatasync failed") as err:
        Wal.open(d, fs=fs)
    assert err.value.path == path + ".tmp"
    assert read(path) == before
    assert [lsn for lsn, _ in read_all(d)] == [1, 2, 3]


def test_after_a_torn_new_file_is_removed_the_file_before_it_is_the_one_copied(tmp_path):
    d = str(tmp_path)
    write_log(d, 6, roll_bytes=600)
    files = log_files(d)
    older = files[-2]
    write(files[-1], read(files[-1])[:20])
    inode = os.stat(older).st_ino
    assert read_all(d)[-1][0] < 6
    assert log_files(d) == files[:-1] and os.stat(older).st_ino != inode


# ---- replay of a file damaged after the log was opened ------------------------------------------


def _open_with(d: str, n: int) -> Wal:
    wal = Wal.open(d, fs=FS)
    for i in range(1, n + 1):
        wal.append(batch(i))
    return wal


def test_replay_refuses_a_header_damaged_since_open(tmp_path):
    d = str(tmp_path)
    wal = _open_with(d, 2)
    try:
        (path,) = log_files(d)
        write(path, b"\x00" * 64 + read(path)[64:])
        with pytest.raises(CorruptionError, match="changed since open") as err:
            list(wal.replay(1))
        assert err.value.path == path and err.value.offset == 0 and err.value.lsn == 1
    finally:
        wal.close()


def test_replay_refuses_a_file_truncated_since_open(tmp_path):
    d = str(tmp_path)
    wal = _open_with(d, 3)
    try:
        path, off, _size = positions(d)[3]
        truncate(path, off)
        with pytest.raises(CorruptionError, match="ends at LSN 2") as err:
            list(wal.replay(1))
        assert err.value.path == path and err.value.offset == off and err.value.lsn == 3
    finally:
        wal.close()


def test_replay_refuses_a_record_forged_since_open_that_does_not_decode(tmp_path):
    d = str(tmp_path)
    wal = _open_with(d, 2)
    try:
        path, off, size = positions(d)[2]
        forged = FR.encode_frames(2, F.REC_ADD, b"\x00").ljust(size, b"\x00")
        write(path, read(path)[:off] + forged)
        with pytest.raises(CorruptionError, match="does not decode") as err:
            list(wal.replay(1))
        assert err.value.path == path and err.value.offset == off and err.value.lsn == 2
    finally:
        wal.close()


# ---- failures at close, roll and in the ticker; calls refused by mode ------------------------------


def test_close_swallows_a_failed_final_write_and_is_idempotent(tmp_path):
    for durability in ("full", "off"):
        d = str(tmp_path / durability)
        fs = CountingFs()
        wal = Wal.open(d, fs=fs, durability=durability)
        wal.submit(batch(1))
        fs.fail_next_write = True
        wal.close()
        wal.close()
        assert fs.failed_paths, durability


def test_a_failed_roll_fails_the_log(tmp_path):
    d = str(tmp_path)
    fs = CountingFs()
    wal = Wal.open(d, fs=fs)
    try:
        wal.submit(batch(1))
        fs.fail_next_write = True
        with pytest.raises(StorageIOError):
            wal.roll()
        with pytest.raises(WriterFailedError):
            wal.append(batch(2))
    finally:
        wal.close()


def test_the_normal_durability_ticker_stops_at_a_failed_sync(tmp_path):
    d = str(tmp_path)
    fs = CountingFs()
    wal = Wal.open(d, fs=fs, durability="normal", sync_interval_ms=10)
    try:
        fs.fail_next_sync = True
        wal.append(batch(1))
        deadline = time.monotonic() + 10
        while not fs.failed_paths and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fs.failed_paths
        with pytest.raises(WriterFailedError):
            wal.append(batch(2))
    finally:
        wal.close()


def test_a_writer_refuses_read_new_and_an_oversized_record(tmp_path, monkeypatch):
    d = str(tmp_path)
    wal = Wal.open(d, fs=FS)
    try:
        with pytest.raises(ReadOnlyError):
            wal.read_new()
        monkeypatch.setattr(F, "MAX_RECORD_BYTES", 16)
        with pytest.raises(ValueError, match="exceeds"):
            wal.submit(batch(1))
        assert wal.last_lsn == 0
    finally:
        wal.close()
