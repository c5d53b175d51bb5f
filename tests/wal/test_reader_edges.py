"""Edges of the log reader (engine/wal/reader.py) on real bytes: multi-frame transactions broken
in each way, the tools' salvage walk, and the live-reader path (``read_after`` / ``Wal.read_new``).

Multi-frame records need a record larger than ``MAX_FRAME_PAYLOAD`` (32 MiB); the tests lower
that limit while *writing* (the reader accepts any frame up to the real limit), so a few
hundred bytes make a transaction of several frames.
"""

from __future__ import annotations

import os

import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import Wal, read_after, scan
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import frames as FR
from sedimentdb.engine.wal.reader import (
    FileScan,
    _candidates,
    next_record_start,
    scan_frames,
    valid_frame_after,
)
from tests.wal.walkit import batch, log_files, positions, read, truncate, write, write_log

FS = OsFileSystem()
HEADER = FR.FileHeader("00000000000000000000000000000001", 0, 1, 0)


def _frames(lsn: int, payload: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The frames of one record split every ``chunk`` bytes, each frame's bytes separately."""
    with monkeypatch.context() as m:
        m.setattr(F, "MAX_FRAME_PAYLOAD", chunk)
        blob = FR.encode_frames(lsn, F.REC_ADD, payload)
    out, pos = [], 0
    while pos < len(blob):
        fr = FR.parse_frame(blob, pos)
        assert isinstance(fr, FR.Frame)
        out.append(blob[pos: fr.end])
        pos = fr.end
    return out


def _scan(*parts: bytes) -> FileScan:
    return scan_frames(b"".join(parts), HEADER, start=0)


# ---- scan_frames: broken multi-frame transactions -------------------------------------------


def test_a_new_record_inside_an_unfinished_transaction_is_hard_damage_with_a_resync_point(monkeypatch):
    first = _frames(1, b"x" * 100, 40, monkeypatch)
    again = _frames(1, b"y" * 10, 40, monkeypatch)
    assert len(first) == 3 and len(again) == 1
    found = _scan(first[0], first[1], again[0])
    assert found.bad_reason == "transaction interrupted by a new record"
    assert found.hard and found.bad_offset == 0 and not found.records
    fail = len(first[0]) + len(first[1])
    assert found.fail_offset == fail and found.resync == (fail, 1)


def test_a_continuation_frame_without_its_first_frame_is_hard_damage_without_a_resync_point(monkeypatch):
    frames = _frames(1, b"x" * 100, 40, monkeypatch)
    found = _scan(frames[1], frames[2])
    assert found.bad_reason == "continuation frame without its first frame"
    assert found.hard and found.bad_offset == 0 and found.resync is None


def test_a_continuation_of_another_record_is_hard_damage(monkeypatch):
    one, two = _frames(1, b"x" * 100, 40, monkeypatch), _frames(2, b"z" * 100, 40, monkeypatch)
    found = _scan(one[0], two[1])
    assert found.bad_reason == "continuation frame without its first frame"
    assert found.bad_offset == 0 and found.fail_offset == len(one[0]) and found.resync is None


def test_a_whole_multi_frame_record_reads_back_as_one_record(monkeypatch):
    frames = _frames(1, b"abc" * 50, 40, monkeypatch)
    found = _scan(*frames, *_frames(2, b"q", 40, monkeypatch))
    assert [(r.lsn, r.payload) for r in found.records] == [(1, b"abc" * 50), (2, b"q")]
    assert found.bad_offset is None and found.valid_end == sum(map(len, frames)) + F.padded(F.FRAME_HEADER_SIZE + 1)


def test_candidate_search_past_the_end_yields_nothing():
    data = bytes(64)
    assert list(_candidates(data, 64, 64)) == []
    assert valid_frame_after(data, 0) is None


# ---- next_record_start: salvage resumes at a record's first frame ----------------------------


def test_salvage_resumes_at_a_first_frame_skipping_orphan_continuations(monkeypatch):
    frames = _frames(7, b"x" * 100, 40, monkeypatch)
    nxt = _frames(8, b"n", 40, monkeypatch)[0]
    data = b"\xff" * 16 + frames[1] + frames[2] + nxt
    assert next_record_start(data, 0) == (16 + len(frames[1]) + len(frames[2]), 8)
    assert next_record_start(data[:-len(nxt)], 0) is None


# ---- scan(): the tools' walk -------------------------------------------------------------------


def _two_files(directory: str) -> list[str]:
    write_log(directory, 6, roll_bytes=600)
    files = log_files(directory)
    assert len(files) >= 2
    return files


def test_scan_stops_quietly_at_a_torn_header_of_a_rolled_newest_file(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    write(files[-1], read(files[-1])[:20])  # the roll's new file, its header cut by a crash
    got = [r.lsn for r in scan(d, fs=FS)]
    assert got and got == sorted(got) and got[-1] < 6


def test_scan_refuses_a_bad_header_naming_file_offset_and_lsn(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    write(files[0], b"\x00" * 80 + read(files[0])[80:])
    with pytest.raises(CorruptionError) as err:
        list(scan(d, fs=FS))
    assert err.value.path == files[0] and err.value.offset == 0 and err.value.lsn == 1


def test_salvage_reports_a_bad_header_and_a_foreign_file_and_walks_on(tmp_path):
    d, other = str(tmp_path / "a"), str(tmp_path / "b")
    files = _two_files(d)
    write_log(other, 1)
    foreign = read(log_files(other)[0])
    last = os.path.basename(files[-1])
    write(files[0], b"\x00" * 64 + read(files[0])[64:])
    write(files[-1], foreign)  # another database's file (its own LSN 1) under the newest name
    got = list(scan(d, fs=FS, salvage=True))
    errors = [r for r in got if r.error]
    assert errors[0].path == files[0] and errors[0].offset == 0
    assert [(os.path.basename(r.path), r.offset) for r in errors][-1] == (last, 16)
    assert "belongs to database" in (errors[-1].error or "")
    assert [r.lsn for r in got if r.record is not None and r.path == files[-1]] == [1]  # walked on


def test_salvage_reports_a_record_whose_payload_does_not_decode(tmp_path):
    d = str(tmp_path)
    write_log(d, 3)
    path, off, size = positions(d)[2]
    fr = FR.parse_frame(read(path), off)
    assert isinstance(fr, FR.Frame)
    forged = FR.encode_frames(2, F.REC_ADD, b"\x00garbage", durable_through=fr.durable_through)
    data = bytearray(read(path))
    data[off: off + size] = forged.ljust(size, b"\x00")[:size]
    assert len(forged) <= size
    # the rest of the old frame becomes a zero region before record 3: salvage skips it
    write(path, bytes(data))
    got = list(scan(d, fs=FS, salvage=True))
    bad = [r for r in got if r.lsn == 2]
    assert bad and bad[0].record is None and bad[0].error and bad[0].offset == off
    assert [r.lsn for r in got if r.record is not None] == [1, 3]


def test_salvage_of_damage_with_nothing_valid_after_it_ends_the_file(tmp_path):
    d = str(tmp_path)
    write_log(d, 3)
    path, off, _size = positions(d)[3]
    write(path, read(path)[:off] + b"\xee" * 40)
    got = list(scan(d, fs=FS, salvage=True))
    assert [r.lsn for r in got if r.record is not None] == [1, 2]
    assert got[-1].error and got[-1].offset == off


# ---- read_after / Wal.read_new: a reader beside a live writer --------------------------------


def test_read_new_follows_a_live_writer_across_a_roll_reading_only_new_bytes(tmp_path):
    d = str(tmp_path)
    writer = Wal.open(d, fs=FS, roll_bytes=600)
    try:
        for i in range(1, 3):
            writer.append(batch(i))
        reader = Wal.open(d, fs=FS, read_only=True)
        assert reader.last_lsn == 2
        assert reader.read_new().records == []
        for i in range(3, 9):
            writer.append(batch(i))
        got = reader.read_new()
        assert [lsn for lsn, _ in got.records] == list(range(3, 9))
        assert len(got.files) >= 2 and reader.last_lsn == 8
        writer.append(batch(9))
        assert [lsn for lsn, _ in reader.read_new().records] == [9]
        reader.close()
    finally:
        writer.close()


def test_read_after_reports_released_when_the_next_lsn_is_no_longer_in_the_log(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    os.remove(files[0])
    found = read_after(FS, d, 0, "")
    assert found.released and not found.records and not found.files
    assert not read_after(FS, str(tmp_path / "none" if os.makedirs(tmp_path / "none") is None else ""), 0, "").released


def test_read_after_skips_a_newest_file_whose_header_is_not_whole_yet(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    write(files[-1], read(files[-1])[:10])
    found = read_after(FS, d, 0, "")
    assert [f.path for f in found.files] == files[:-1]
    assert [lsn for lsn, _ in found.records] == list(range(1, found.files[-1].last_lsn + 1))


def test_read_after_refuses_a_bad_header_in_an_older_file(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    write(files[0], b"\x01" * 64 + read(files[0])[64:])
    with pytest.raises(CorruptionError) as err:
        read_after(FS, d, 0, "")
    assert err.value.path == files[0] and err.value.offset == 0 and err.value.lsn == 1


def test_read_after_refuses_a_file_of_another_database(tmp_path):
    d = str(tmp_path)
    write_log(d, 2)
    with pytest.raises(CorruptionError, match="belongs to database") as err:
        read_after(FS, d, 0, "ffffffffffffffffffffffffffffffff")
    assert err.value.offset == 16 and err.value.lsn == 1


def test_read_after_refuses_damage_in_a_sealed_file(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    path, off, _size = positions(d)[2]
    assert path == files[0]
    data = bytearray(read(path))
    data[off + F.FRAME_HEADER_SIZE] ^= 0xFF
    write(path, bytes(data))
    with pytest.raises(CorruptionError, match="not the newest") as err:
        read_after(FS, d, 0, "")
    assert err.value.path == path and err.value.offset == off and err.value.lsn == 2


def test_read_after_refuses_a_record_that_passes_its_checksums_but_does_not_decode(tmp_path):
    d = str(tmp_path)
    write_log(d, 2)
    path, off, size = positions(d)[2]
    forged = FR.encode_frames(2, F.REC_ADD, b"\x00")
    assert len(forged) <= size
    write(path, read(path)[:off] + forged)
    with pytest.raises(CorruptionError, match="does not decode") as err:
        read_after(FS, d, 0, "")
    assert err.value.path == path and err.value.offset == off and err.value.lsn == 2


def test_read_after_never_reads_past_a_sealed_file_that_ends_early(tmp_path):
    d = str(tmp_path)
    files = _two_files(d)
    pos = positions(d)
    last_in_first = max(lsn for lsn, (p, _o, _s) in pos.items() if p == files[0])
    _p, off, _s = pos[last_in_first]
    truncate(files[0], off)  # a clean cut at a record boundary: the file now ends one record early
    found = read_after(FS, d, 0, "")
    assert [lsn for lsn, _ in found.records] == list(range(1, last_in_first))
    assert [f.path for f in found.files] == files[:1]


def test_read_after_stops_at_a_file_that_ends_before_what_was_read(tmp_path):
    d = str(tmp_path)
    write_log(d, 5)
    path, off, _size = positions(d)[3]
    truncate(path, off)  # the file now holds LSN 1..2 only
    found = read_after(FS, d, 3, "")
    assert found.records == [] and found.files == [] and not found.released


def test_damage_after_a_live_readers_cursor_is_reported_at_its_file_offset_and_lsn(tmp_path):
    """The reader re-reads only the bytes past its cursor; the error still names the file's offset.

    (It named the offset within the bytes read, and the file's first LSN, before this test.)
    """
    d = str(tmp_path)
    writer = Wal.open(d, fs=FS, roll_bytes=600)
    try:
        writer.append(batch(1))
        reader = Wal.open(d, fs=FS, read_only=True)
        for i in range(2, 7):
            writer.append(batch(i))
        files = log_files(d)
        path, off, _size = positions(d)[2]
        assert path == files[0] and len(files) >= 2
        data = bytearray(read(path))
        data[off + F.FRAME_HEADER_SIZE] ^= 0xFF
        write(path, bytes(data))
        with pytest.raises(CorruptionError, match="not the newest") as err:
            reader.read_new()
        assert err.value.path == path and err.value.offset == off and err.value.lsn == 2
        reader.close()
    finally:
        writer.close()


def test_read_after_reports_a_freshly_rolled_empty_file_at_its_header_end(tmp_path):
    d = str(tmp_path)
    writer = Wal.open(d, fs=FS)
    try:
        writer.append(batch(1))
        writer.roll()
        found = read_after(FS, d, 1, "")
        assert found.records == []
        (info,) = found.files
        assert info.path == log_files(d)[-1] and info.first_lsn == 2 and info.last_lsn == 1
        assert info.size == F.FILE_HEADER_SIZE
    finally:
        writer.close()
