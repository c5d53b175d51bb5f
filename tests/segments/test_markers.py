"""Delete markers: write-once bitmaps that round-trip and refuse damage."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sedimentdb.engine.segments import read_delete_marker, write_delete_marker
from sedimentdb.engine.storage_errors import CorruptionError


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 1000, 100_003])
def test_round_trip(fs, tmp_path, count):
    deleted = np.random.default_rng(count).random(count) < 0.3
    path = str(tmp_path / "del-1.bin")
    info = write_delete_marker(fs, path, deleted)
    assert info["size"] == os.path.getsize(path)
    back = read_delete_marker(fs, path, info, count)
    assert back.dtype == bool and np.array_equal(back, deleted)
    assert not os.path.exists(path + ".tmp")


def test_markers_are_write_once(fs, tmp_path):
    path = str(tmp_path / "del-1.bin")
    write_delete_marker(fs, path, np.zeros(3, dtype=bool))
    with pytest.raises(FileExistsError):
        write_delete_marker(fs, path, np.ones(3, dtype=bool))


@pytest.fixture
def marker(fs, tmp_path):
    path = str(tmp_path / "del-2.bin")
    deleted = np.zeros(500, dtype=bool)
    deleted[::7] = True
    return path, write_delete_marker(fs, path, deleted)


@pytest.mark.parametrize("offset", [0, 12, 70, -3])
def test_bit_flip(fs, marker, offset):
    path, info = marker
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 1
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptionError) as err:
        read_delete_marker(fs, path, info, 500)
    assert err.value.path == path


def test_truncation(fs, marker):
    path, info = marker
    os.truncate(path, info["size"] - 1)
    with pytest.raises(CorruptionError) as err:
        read_delete_marker(fs, path, info, 500)
    assert err.value.path == path


def test_wrong_row_count(fs, marker):
    path, info = marker
    with pytest.raises(CorruptionError):
        read_delete_marker(fs, path, info, 501)


def test_swapped_marker(fs, tmp_path, marker):
    path, info = marker
    other = str(tmp_path / "del-3.bin")
    write_delete_marker(fs, other, np.ones(500, dtype=bool))
    with pytest.raises(CorruptionError):
        read_delete_marker(fs, other, info, 500)


def test_missing_marker(fs, tmp_path):
    path = str(tmp_path / "nope.bin")
    with pytest.raises(CorruptionError) as err:
        read_delete_marker(fs, path, {"size": 10, "crc32c": 0}, 3)
    assert err.value.path == path


def test_a_segment_file_is_not_a_marker(fs, tmp_path, h):
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(np.ones((4, 2), dtype=np.float32)))
    path = os.path.join(seg.path, "rows.bin")
    with pytest.raises(CorruptionError):
        read_delete_marker(fs, path, seg.descriptor.files["rows.bin"], 4)
