"""recovery_mode="point_in_time": damage in the newest file ends the log there (a copy kept aside)."""

from __future__ import annotations

import os

import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import Wal

from .walkit import broken_copies, log_files, positions, write_log


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def _replay(d: str, mode: str) -> list[int]:
    wal = Wal.open(d, fs=OsFileSystem(), recovery_mode=mode)
    try:
        return [lsn for lsn, _ in wal.replay(1)]
    finally:
        wal.close()


def test_hole_before_valid_frames_in_newest_file_is_cut_in_point_in_time_mode(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 6)
    path, off, _ = positions(d)[4]
    _flip(path, off + 40)
    with pytest.raises(CorruptionError):
        _replay(d, "strict")
    assert _replay(d, "point_in_time") == [1, 2, 3]
    assert os.path.getsize(path) == off
    assert len(broken_copies(d)) == 1


def test_point_in_time_mode_still_refuses_damage_in_an_older_file(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 12, roll_bytes=600)
    files = log_files(d)
    assert len(files) > 2
    first = [p for p in positions(d).values() if p[0] == files[0]]
    path, off, _ = first[0]
    _flip(path, off + 40)
    with pytest.raises(CorruptionError):
        _replay(d, "point_in_time")


def test_unknown_recovery_mode_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="recovery_mode"):
        Wal.open(str(tmp_path / "wal"), fs=OsFileSystem(), recovery_mode="yolo")
