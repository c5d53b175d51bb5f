"""The log's behaviour beyond single damaged bytes: multi-frame transactions, rolling,
release, fail-stop, group commit, durability modes, read-only opens and tool scans."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import (
    ClosedError,
    CorruptionError,
    ReadOnlyError,
    StorageError,
    WriterFailedError,
)
from sedimentdb.engine.wal import Wal, scan
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.frames import Frame, decode_file_header, parse_frame
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

from .walkit import (
    CountingFs,
    batch,
    broken_copies,
    canon,
    flip,
    log_files,
    positions,
    read,
    read_all,
    truncate,
    write_log,
)

ROLL = 600


def frames_of(path: str, offset: int) -> list[Frame]:
    """The frames of the transaction starting at ``offset``."""
    data, out = read(path), []
    while True:
        fr = parse_frame(data, offset)
        assert isinstance(fr, Frame), fr
        out.append(fr)
        if fr.flags & F.FLAG_LAST:
            return out
        offset = fr.end


# ---- multi-frame transactions ---------------------------------------------------------------------


@pytest.fixture
def small_frames(monkeypatch):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 40)


def test_multi_frame_transactions_round_trip(tmp_path, small_frames):
    d = str(tmp_path / "wal")
    records = write_log(d, 4)
    path, off, size = positions(d)[2]
    frames = frames_of(path, off)
    assert len(frames) >= 4
    assert [f.flags for f in frames] == [F.FLAG_FIRST] + [0] * (len(frames) - 2) + [F.FLAG_LAST]
    assert {f.lsn for f in frames} == {2} and {f.raw_len for f in frames} == {sum(len(f.payload) for f in frames)}
    assert frames[-1].end == off + size
    assert [canon(r) for _, r in read_all(d)] == [canon(r) for r in records]


@pytest.mark.parametrize("where", ["inside the last frame", "after a whole middle frame", "inside the second frame"])
def test_torn_multi_frame_transaction_at_the_tail_is_dropped_whole(tmp_path, small_frames, where):
    d = str(tmp_path / "wal")
    records = write_log(d, 4)
    path, off, _ = positions(d)[4]
    frames = frames_of(path, off)
    assert len(frames) >= 4 and len(frames[-1].payload) > 1
    cut = {"inside the last frame": frames[-1].offset + F.FRAME_HEADER_SIZE + 1,
           "after a whole middle frame": frames[2].offset,
           "inside the second frame": frames[1].offset + 20}[where]
    truncate(path, cut)
    torn = read(path)
    got = read_all(d)
    assert [canon(r) for _, r in got] == [canon(r) for r in records[:3]]
    assert os.path.getsize(path) == off  # cut at the first frame of the transaction
    assert [read(p) for p in broken_copies(d)] == [torn]


def test_flip_in_a_middle_frame_followed_by_valid_records_is_corruption(tmp_path, small_frames):
    d = str(tmp_path / "wal")
    write_log(d, 4)
    path, off, _ = positions(d)[2]
    frames = frames_of(path, off)
    flip(path, frames[1].offset + F.FRAME_HEADER_SIZE + 1)
    with pytest.raises(CorruptionError) as info:
        Wal.open(d, fs=OsFileSystem())
    assert (info.value.path, info.value.offset, info.value.lsn) == (path, off, 2)


def test_transaction_missing_a_whole_middle_frame_is_corruption(tmp_path, small_frames):
    d = str(tmp_path / "wal")
    write_log(d, 3)
    path, off, _ = positions(d)[3]
    frames = frames_of(path, off)
    data = read(path)
    # cut one whole middle frame out: every remaining frame is valid, the lengths no longer add up
    with open(path, "wb") as f:
        f.write(data[: frames[1].offset] + data[frames[2].offset:])
    with pytest.raises(CorruptionError) as info:
        Wal.open(d, fs=OsFileSystem())
    assert (info.value.offset, info.value.lsn) == (off, 3)
    assert "frames say" in info.value.message


# ---- rolling and release --------------------------------------------------------------------------


def test_rolling_at_a_small_size_keeps_continuity_across_files(tmp_path):
    d = str(tmp_path / "wal")
    records = write_log(d, 20, roll_bytes=ROLL)
    files = log_files(d)
    assert len(files) == 10
    prev_last = 0
    for path in files:
        h = decode_file_header(read(path))
        got = [r.lsn for r in scan(d, fs=OsFileSystem()) if r.path == path]
        assert os.path.basename(path) == F.file_name(h.first_lsn)
        assert h.prev_last_lsn == prev_last and h.first_lsn == prev_last + 1
        assert got == [h.first_lsn, h.first_lsn + 1]
        assert os.path.getsize(path) <= ROLL
        prev_last = got[-1]
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert [(i.first_lsn, i.last_lsn) for i in wal.files()] == [(k, k + 1) for k in range(1, 21, 2)]
    assert [lsn for lsn, _ in wal.replay(7, 12)] == list(range(7, 13))
    assert wal.append(batch(21)) == 21
    wal.close()
    assert [canon(r) for _, r in read_all(d)] == [canon(r) for r in records + [batch(21)]]


def test_a_record_larger_than_the_roll_size_gets_a_file_of_its_own(tmp_path):
    d = str(tmp_path / "wal")
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    wal.append(batch(1))
    wal.append(batch(2, rows=40))  # ~5 KB
    wal.append(batch(3))
    wal.close()
    where = {r.lsn: r.path for r in scan(d, fs=OsFileSystem())}
    assert sorted(where) == [1, 2, 3]
    assert [where[1], where[2], where[3]] == log_files(d)  # one file each, no empty file between
    assert os.path.getsize(where[2]) > ROLL


def test_release_through_deletes_only_sealed_files_wholly_at_or_below(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 10, roll_bytes=ROLL)  # files hold 1-2, 3-4, 5-6, 7-8, 9-10
    files = log_files(d)
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert wal.release_through(5) == files[:2]  # 5-6 still holds LSN 6
    assert log_files(d) == files[2:]
    assert wal.first_lsn == 5
    with pytest.raises(CorruptionError) as info:
        list(wal.replay(1))
    assert info.value.lsn == 1
    assert wal.release_through(100) == files[2:4]  # never the active file
    assert log_files(d) == files[4:]
    wal.close()
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert wal.first_lsn == 9 and wal.last_lsn == 10
    assert [lsn for lsn, _ in wal.replay(9)] == [9, 10]
    assert wal.append(batch(11)) == 11
    wal.close()


# ---- fail-stop ------------------------------------------------------------------------------------


def test_a_failed_fsync_stops_the_log_for_good(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs)
    acked = [batch(i) for i in range(1, 4)]
    for rec in acked:
        wal.append(rec)
    fs.fail_next_sync = True
    with pytest.raises(StorageError) as info:
        wal.append(batch(4))
    assert "fdatasync failed" in str(info.value)
    assert fs.failed_paths == [log_files(d)[0]]
    syncs_at_failure = len(fs.syncs)
    for attempt in (lambda: wal.append(batch(5)), lambda: wal.submit(batch(6)), lambda: wal.sync_through(4)):
        with pytest.raises(WriterFailedError):
            attempt()
    wal.close()
    assert len(fs.syncs) == syncs_at_failure  # never retried, not even by close
    got = read_all(d)
    assert [canon(r) for _, r in got[:3]] == [canon(r) for r in acked]
    assert [lsn for lsn, _ in got] in ([1, 2, 3], [1, 2, 3, 4])  # LSN 4 was never acknowledged


def test_a_failed_write_stops_the_log_and_the_torn_record_is_cut_at_reopen(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs)
    for i in range(1, 4):
        wal.append(batch(i))
    fs.fail_next_write = True
    with pytest.raises(StorageError, match="No space left"):
        wal.append(batch(4))
    syncs_at_failure = len(fs.syncs)
    with pytest.raises(WriterFailedError):
        wal.append(batch(5))
    wal.close()
    assert len(fs.syncs) == syncs_at_failure
    assert [lsn for lsn, _ in read_all(d)] == [1, 2, 3]  # half of record 4 was a torn tail
    assert len(broken_copies(d)) == 1


def test_a_failed_fsync_during_roll_acknowledges_nothing_it_covered(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs)
    wal.append(batch(1))
    lsn = wal.submit(batch(2))  # queued; roll() writes it and syncs
    fs.fail_next_sync = True
    with pytest.raises(StorageError):
        wal.roll()
    with pytest.raises(WriterFailedError):
        wal.wait(lsn)  # it was written but its sync failed: never reported durable
    wal.close()


def test_roll_seals_the_active_file_and_starts_the_next(tmp_path):
    d = str(tmp_path / "wal")
    wal = Wal.open(d, fs=OsFileSystem())
    wal.append(batch(1))
    wal.submit(batch(2))
    wal.roll()  # writes and syncs what is queued, then starts file 3
    assert [(i.first_lsn, i.last_lsn) for i in wal.files()] == [(1, 2), (3, 2)]
    wal.roll()  # an empty active file is not rolled again
    assert len(wal.files()) == 2
    assert wal.append(batch(3)) == 3
    first = log_files(d)[0]
    assert wal.release_through(2) == [first]
    wal.close()
    wal = Wal.open(d, fs=OsFileSystem())
    assert wal.first_lsn == 3 and [lsn for lsn, _ in wal.replay(3)] == [3]
    wal.close()


def test_a_log_file_left_half_created_is_removed_at_open(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 2)
    leftover = os.path.join(d, F.file_name(3) + ".tmp")
    with open(leftover, "wb") as f:
        f.write(b"SDBWAL")
    assert [lsn for lsn, _ in read_all(d, read_only=True)] == [1, 2]
    assert os.path.exists(leftover)  # a reader leaves it
    wal = Wal.open(d, fs=OsFileSystem())
    assert not os.path.exists(leftover)
    assert wal.append(batch(3)) == 3
    wal.close()


# ---- group commit and durability modes ------------------------------------------------------------


def test_group_commit_shares_fsyncs_between_threads(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs(sync_delay=0.002)  # a disk that takes a moment, so writers pile up
    wal = Wal.open(d, fs=fs)
    base = fs.log_syncs()
    threads, per_thread = 8, 25
    got: dict[int, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for k in range(per_thread):
            rec = WriteBatch(WriteOp.UPSERT, "c", [f"t{t}-{k}"], np.full((1, 3), t, np.float32), None, None, None)
            lsn = wal.append(rec)
            with lock:
                got[lsn] = f"t{t}-{k}"

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    appends = threads * per_thread
    assert sorted(got) == list(range(1, appends + 1))
    syncs = fs.log_syncs() - base
    assert 0 < syncs < appends
    replayed = {lsn: rec.ids[0] for lsn, rec in wal.replay(1)}
    assert replayed == got
    wal.close()
    assert {lsn: rec.ids[0] for lsn, rec in read_all(d)} == got


def test_durability_normal_does_not_sync_every_append(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs, durability="normal", sync_interval_ms=60_000)
    base = fs.log_syncs()
    for i in range(1, 31):
        wal.append(batch(i))
    assert fs.log_syncs() - base <= 1  # at most the first append, then the interval holds
    assert [r.lsn for r in scan(d, fs=OsFileSystem())] == list(range(1, 31))  # written, in the file
    before = fs.log_syncs()
    wal.sync_through(30)
    assert fs.log_syncs() == before + 1
    wal.close()


def test_durability_normal_syncs_on_the_interval_without_further_calls(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs, durability="normal", sync_interval_ms=300)
    for i in range(1, 6):  # until an append comes back unsynced (the first one syncs)
        before = fs.log_syncs()
        wal.append(batch(i))
        if fs.log_syncs() == before:
            break
    else:
        pytest.fail("every append synced: the interval is not honoured")
    before = fs.log_syncs()
    deadline = time.monotonic() + 5
    while fs.log_syncs() == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fs.log_syncs() > before  # the background ticker synced, no call of ours did
    wal.close()
    assert [lsn for lsn, _ in read_all(d)] == list(range(1, i + 1))


def test_durability_off_never_syncs(tmp_path):
    d = str(tmp_path / "wal")
    fs = CountingFs()
    wal = Wal.open(d, fs=fs, durability="off")
    base = fs.log_syncs()
    for i in range(1, 21):
        wal.append(batch(i))
    assert [r.lsn for r in scan(d, fs=OsFileSystem())] == list(range(1, 21))
    wal.close()
    assert fs.log_syncs() == base
    assert [lsn for lsn, _ in read_all(d)] == list(range(1, 21))


def test_unknown_durability_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="durability"):
        Wal.open(str(tmp_path), fs=OsFileSystem(), durability="sometimes")


# ---- API edges --------------------------------------------------------------------------------------


def test_submit_then_wait_and_waiting_for_an_unsubmitted_lsn(tmp_path):
    wal = Wal.open(str(tmp_path / "wal"), fs=OsFileSystem())
    lsns = [wal.submit(batch(i)) for i in range(1, 4)]
    assert lsns == [1, 2, 3] and wal.last_lsn == 3
    wal.wait(3)
    with pytest.raises(ValueError, match="not been submitted"):
        wal.wait(4)
    wal.close()
    with pytest.raises(ClosedError):
        wal.append(batch(4))


def test_read_only_open_refuses_writes_and_leaves_a_torn_tail_alone(tmp_path):
    d = str(tmp_path / "wal")
    records = write_log(d, 3)
    path, off, _ = positions(d)[3]
    truncate(path, off + 50)
    torn = read(path)
    wal = Wal.open(d, fs=OsFileSystem(), read_only=True)
    assert wal.last_lsn == 2
    assert [canon(r) for _, r in wal.replay(1)] == [canon(r) for r in records[:2]]
    with pytest.raises(ReadOnlyError):
        wal.append(batch(9))
    wal.close()
    assert read(path) == torn and broken_copies(d) == []


def test_replay_refuses_bytes_damaged_after_open(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 6, roll_bytes=ROLL)
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    path, off, _ = positions(d)[3]
    flip(path, off + F.FRAME_HEADER_SIZE + 2)
    with pytest.raises(CorruptionError) as info:
        list(wal.replay(1))
    assert (info.value.path, info.value.offset, info.value.lsn) == (path, off, 3)
    wal.close()


# ---- scan (tools) -----------------------------------------------------------------------------------


def test_scan_lists_every_record_with_its_position(tmp_path):
    d = str(tmp_path / "wal")
    records = write_log(d, 6, roll_bytes=ROLL)
    rows = list(scan(d, fs=OsFileSystem()))
    assert [r.lsn for r in rows] == list(range(1, 7))
    assert all(r.error is None and r.record_type == F.REC_ADD for r in rows)
    assert [canon(r.record) for r in rows] == [canon(r) for r in records]
    assert [r.offset for r in rows if r.lsn % 2] == [F.FILE_HEADER_SIZE] * 3
    assert [r.lsn for r in scan(d, fs=OsFileSystem(), from_lsn=3, to_lsn=4)] == [3, 4]


def test_scan_without_salvage_stops_at_a_torn_tail_and_refuses_corruption(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 6)
    path, off, _ = positions(d)[6]
    truncate(path, off + 10)
    assert [r.lsn for r in scan(d, fs=OsFileSystem())] == [1, 2, 3, 4, 5]
    assert os.path.getsize(path) == off + 10  # a scan never repairs
    path, off3, _ = positions(d)[3]
    flip(path, off3 + F.FRAME_HEADER_SIZE)
    with pytest.raises(CorruptionError) as info:
        list(scan(d, fs=OsFileSystem()))
    assert (info.value.path, info.value.offset, info.value.lsn) == (path, off3, 3)


def test_scan_with_salvage_reports_damage_and_goes_on(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 6)
    path, off3, _ = positions(d)[3]
    flip(path, off3 + F.FRAME_HEADER_SIZE)
    rows = list(scan(d, fs=OsFileSystem(), salvage=True))
    assert [(r.lsn, r.error is None) for r in rows] == [(1, True), (2, True), (0, False), (4, True), (5, True),
                                                       (6, True)]
    bad = rows[2]
    assert (bad.path, bad.offset, bad.record) == (path, off3, None) and "checksum" in bad.error


def test_scan_with_salvage_reports_a_missing_file_and_goes_on(tmp_path):
    d = str(tmp_path / "wal")
    write_log(d, 6, roll_bytes=ROLL)
    os.unlink(log_files(d)[1])
    with pytest.raises(CorruptionError):
        list(scan(d, fs=OsFileSystem()))
    rows = list(scan(d, fs=OsFileSystem(), salvage=True))
    assert [r.lsn for r in rows if r.error is None] == [1, 2, 5, 6]
    assert ["continuity" in r.error for r in rows if r.error] == [True]
