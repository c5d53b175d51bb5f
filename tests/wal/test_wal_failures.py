"""One named test per failure mode, each made by editing the real bytes of a log ``Wal`` wrote.

Classification is the architecture's rule: damage at the very end of the newest file with
nothing valid after it is a torn tail (copied aside, truncated, open goes on); anything else
is a CorruptionError naming the file, the offset and the LSN.
"""

from __future__ import annotations

import os
import shutil

import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import CorruptionError, TornTailError
from sedimentdb.engine.wal import Wal
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.frames import FileHeader, decode_file_header, encode_file_header

from .walkit import (
    batch,
    broken_copies,
    canon,
    flip,
    forge_frame_header,
    log_files,
    positions,
    read,
    read_all,
    truncate,
    write,
    write_log,
)

N = 6
ROLL = 600  # a 2-row batch frame is ~230 bytes: two records per file


@pytest.fixture
def one_file(tmp_path):
    d = str(tmp_path / "wal")
    records = write_log(d, N)
    assert len(log_files(d)) == 1
    return d, records


@pytest.fixture
def many_files(tmp_path):
    d = str(tmp_path / "wal")
    records = write_log(d, N, roll_bytes=ROLL)
    assert len(log_files(d)) == 3
    return d, records


def assert_prefix(directory, records, count):
    got = read_all(directory)
    assert [lsn for lsn, _ in got] == list(range(1, count + 1))
    assert [canon(r) for _, r in got] == [canon(r) for r in records[:count]]


def assert_torn(directory, records, lsn, original: bytes, path: str, cut: int):
    """Recovery cut ``path`` at ``cut``, kept the original bytes aside and kept records < lsn."""
    assert_prefix(directory, records, lsn - 1)
    assert os.path.getsize(path) == cut
    copies = broken_copies(directory)
    assert len(copies) == 1 and copies[0].startswith(path + ".broken-")
    assert read(copies[0]) == original
    # the log goes on where the tear was: the next record takes the lost LSN
    wal = Wal.open(directory, fs=OsFileSystem())
    assert wal.append(batch(99)) == lsn
    wal.close()


def assert_refused(directory, path, offset, lsn, words=""):
    before = {p: read(p) for p in log_files(directory)}
    with pytest.raises(CorruptionError) as info:
        Wal.open(directory, fs=OsFileSystem())
    err = info.value
    assert not isinstance(err, TornTailError)
    assert (err.path, err.offset, err.lsn) == (path, offset, lsn)
    assert words in err.message
    # refusing touches nothing
    assert {p: read(p) for p in log_files(directory)} == before
    assert broken_copies(directory) == []
    return err


# ---- file headers ---------------------------------------------------------------------------------


def test_truncated_file_header_of_a_brand_new_log_is_corruption(one_file):
    # The only file gives no predecessor to fall back to: refuse rather than guess.
    d, _ = one_file
    path = log_files(d)[0]
    truncate(path, 40)
    assert_refused(d, path, 0, 1, "file header truncated")


def test_truncated_file_header_of_the_only_file_is_corruption(many_files):
    d, _ = many_files
    before = log_files(d)
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert wal.release_through(4) == before[:2]
    wal.close()
    (path,) = log_files(d)  # holds LSN 5..6; its predecessors are gone
    truncate(path, 40)
    assert_refused(d, path, 0, 5, "file header truncated")


def test_truncated_file_header_of_an_older_file_is_corruption(many_files):
    d, _ = many_files
    first = log_files(d)[0]
    truncate(first, 63)
    assert_refused(d, first, 0, 1, "file header truncated")


def test_bit_flip_in_file_header_is_corruption(many_files):
    d, _ = many_files
    last = log_files(d)[-1]
    flip(last, 44)  # inside first_lsn; the header checksum catches it
    assert_refused(d, last, 0, 5, "file header checksum mismatch")


# ---- torn tails -----------------------------------------------------------------------------------


def test_truncated_payload_is_torn_tail(one_file):
    d, records = one_file
    path, off, size = positions(d)[N]
    original = read(path)
    truncate(path, off + F.FRAME_HEADER_SIZE + 10)
    torn = read(path)
    assert_torn(d, records, N, torn, path, off)
    assert len(original) == off + size


def test_truncated_frame_header_is_torn_tail(one_file):
    d, records = one_file
    path, off, _ = positions(d)[N]
    truncate(path, off + 12)
    assert_torn(d, records, N, read(path), path, off)


def test_truncated_padding_is_torn_tail_and_the_log_stays_aligned(tmp_path):
    # A torn write can end inside the zero padding after a whole payload. Keeping that frame
    # would put the next append at an unaligned offset, which a later open could not read.
    d = str(tmp_path / "wal")
    records = write_log(d, 2)
    extra = next(k for k in range(8) if len(codec.encode(doc_batch(k))[1]) % F.ALIGN)
    wal = Wal.open(d, fs=OsFileSystem())
    wal.append(doc_batch(extra))
    wal.close()
    path, off, size = positions(d)[3]
    length = F.FRAME_HEADER.unpack_from(read(path), off)[1]
    assert F.FRAME_HEADER_SIZE + length < size  # the frame has padding
    truncate(path, off + F.FRAME_HEADER_SIZE + length)  # payload whole, padding gone
    assert_torn(d, records, 3, read(path), path, off)
    wal = Wal.open(d, fs=OsFileSystem())
    assert wal.append(batch(100)) == 4
    wal.close()
    assert [lsn for lsn, _ in read_all(d)] == [1, 2, 3, 4]


def doc_batch(k: int):
    b = batch(3)
    return type(b)(b.op, b.collection_id, b.ids, b.embeddings, ["x" * k, "y"], b.metadatas, b.uris)


def test_zeroed_tail_is_torn_tail(one_file):
    d, records = one_file
    path, off, size = positions(d)[N]
    data = bytearray(read(path))
    data[off:] = bytes(len(data) - off) + bytes(4096)  # the last record zeroed, and zeros past it
    write(path, bytes(data))
    assert_torn(d, records, N, bytes(data), path, off)


def test_zeros_after_the_last_record_are_torn_tail(one_file):
    d, records = one_file
    path = log_files(d)[0]
    data = read(path) + bytes(8192)
    write(path, data)
    assert_torn(d, records, N + 1, data, path, len(data) - 8192)


def test_bit_flip_in_frame_header_of_last_record_is_torn_tail(one_file):
    d, records = one_file
    path, off, _ = positions(d)[N]
    flip(path, off + 9)  # the LSN field
    assert_torn(d, records, N, read(path), path, off)


def test_bit_flip_in_payload_of_last_record_is_torn_tail(one_file):
    d, records = one_file
    path, off, size = positions(d)[N]
    flip(path, off + F.FRAME_HEADER_SIZE + 20, 0x80)
    assert_torn(d, records, N, read(path), path, off)


# ---- corruption inside the newest file ------------------------------------------------------------


def test_bit_flip_in_frame_header_followed_by_valid_records_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[3]
    flip(path, off + 17)  # the codec byte, covered by the header checksum
    assert_refused(d, path, off, 3, "frame header checksum mismatch")


def test_bit_flip_in_payload_followed_by_valid_records_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[3]
    flip(path, off + F.FRAME_HEADER_SIZE + 5, 0x10)
    err = assert_refused(d, path, off, 3, "frame payload checksum mismatch")
    assert "followed by valid records" in err.message


def test_flip_in_middle_record_refuses_and_names_file_offset_lsn(one_file):
    d, _ = one_file
    pos = positions(d)
    path, off, size = pos[4]
    flip(path, off + size - 12)  # the vectors at the end of record 4's payload
    err = assert_refused(d, path, off, 4)
    assert path in str(err) and f"offset {off}" in str(err) and "LSN 4" in str(err)
    assert err.hint


def test_bad_length_field_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[2]
    flip(path, off + 5)  # raw flip: the header checksum fails
    assert_refused(d, path, off, 2, "frame header checksum mismatch")


def test_forged_length_beyond_maximum_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[2]
    forge_frame_header(path, off, length=F.MAX_FRAME_PAYLOAD + 8)
    assert_refused(d, path, off, 2, "exceeds the maximum")


def test_forged_length_past_end_of_file_in_middle_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[2]
    forge_frame_header(path, off, length=1 << 20)
    assert_refused(d, path, off, 2, "frame payload truncated")


def test_lsn_gap_is_corruption(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[3]
    forge_frame_header(path, off, lsn=4)  # both checksums pass; only the sequence is wrong
    assert_refused(d, path, off, 3, "LSN gap: expected LSN 3, found 4")


def test_lsn_gap_in_the_last_record_is_corruption_not_a_torn_tail(one_file):
    d, _ = one_file
    path, off, _ = positions(d)[N]
    forge_frame_header(path, off, lsn=N + 5)
    assert_refused(d, path, off, N, "LSN gap")


# ---- identity and continuity of files -------------------------------------------------------------


def test_file_from_another_database_is_corruption(tmp_path, many_files):
    d, _ = many_files
    other = str(tmp_path / "other")
    write_log(other, N, roll_bytes=ROLL)
    ours, theirs = log_files(d)[1], log_files(other)[1]
    assert os.path.basename(ours) == os.path.basename(theirs)
    shutil.copyfile(theirs, ours)
    err = assert_refused(d, ours, 16, 3, "belongs to database")
    their_uuid = decode_file_header(read(theirs)).db_uuid
    assert their_uuid in err.message


def test_whole_log_of_another_database_is_refused_when_the_uuid_is_known(one_file):
    d, _ = one_file
    with pytest.raises(CorruptionError) as info:
        Wal.open(d, fs=OsFileSystem(), db_uuid="0" * 32)
    assert (info.value.path, info.value.offset, info.value.lsn) == (log_files(d)[0], 16, 1)


def test_missing_middle_file_is_corruption(many_files):
    d, _ = many_files
    first, middle, last = log_files(d)
    os.unlink(middle)
    assert_refused(d, last, 48, 3, "continuity broken")


def test_reordered_files_are_corruption(many_files):
    d, _ = many_files
    first, middle, last = log_files(d)
    tmp = middle + ".swap"
    os.rename(middle, tmp)
    os.rename(last, middle)
    os.rename(tmp, last)
    # the file now named for LSN 3 holds LSN 5's header
    assert_refused(d, middle, 40, 5, "file name says first LSN 3, header says 5")


def test_renamed_file_is_corruption(many_files):
    d, _ = many_files
    last = log_files(d)[-1]
    renamed = os.path.join(d, F.file_name(7))
    os.rename(last, renamed)
    assert_refused(d, renamed, 40, 5, "file name says first LSN 7")


def test_stale_predecessor_lsn_in_header_is_corruption(many_files):
    d, _ = many_files
    last = log_files(d)[-1]
    h = decode_file_header(read(last))
    data = read(last)
    write(last, encode_file_header(FileHeader(h.db_uuid, h.epoch, h.first_lsn, 3)) + data[F.FILE_HEADER_SIZE:])
    assert_refused(d, last, 48, 5, "names predecessor LSN 3")


def test_file_with_an_older_epoch_than_its_predecessor_is_corruption(many_files):
    d, _ = many_files
    files = log_files(d)
    for path, epoch in zip(files, (2, 2, 1), strict=True):
        h = decode_file_header(read(path))
        write(path, encode_file_header(FileHeader(h.db_uuid, epoch, h.first_lsn, h.prev_last_lsn))
              + read(path)[F.FILE_HEADER_SIZE:])
    assert_refused(d, files[-1], 32, 5, "epoch 1, older than its predecessor's 2")


def test_flip_in_the_last_record_of_a_non_last_file_is_corruption(many_files):
    d, _ = many_files
    path, off, _ = positions(d)[4]  # the last record of the middle file
    assert path == log_files(d)[1]
    flip(path, off + F.FRAME_HEADER_SIZE + 3)
    err = assert_refused(d, path, off, 4, "not the newest")
    assert "frame payload checksum mismatch" in err.message


def test_truncated_non_last_file_is_corruption(many_files):
    d, _ = many_files
    path, off, _ = positions(d)[4]
    truncate(path, off + 40)
    assert_refused(d, path, off, 4, "not the newest")


# ---- crash between a roll and the first record of the new file ------------------------------------


def test_crash_after_roll_with_header_only_file(many_files):
    d, records = many_files
    last = log_files(d)[-1]
    truncate(last, F.FILE_HEADER_SIZE)  # header synced, first record never written
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert wal.last_lsn == 4
    assert [i.path for i in wal.files()][-1] == last
    assert wal.append(batch(5)) == 5
    wal.close()
    assert broken_copies(d) == []
    assert_prefix(d, records, 5)  # batch(5) is records[4] again


def test_crash_after_roll_with_torn_header(many_files):
    d, records = many_files
    last = log_files(d)[-1]
    truncate(last, 20)
    torn = read(last)
    wal = Wal.open(d, fs=OsFileSystem(), roll_bytes=ROLL)
    assert wal.last_lsn == 4
    assert not os.path.exists(last)  # removed, its bytes kept aside
    copies = broken_copies(d)
    assert len(copies) == 1 and read(copies[0]) == torn
    for i in range(5, 9):
        assert wal.append(batch(i)) == i
    wal.close()
    assert os.path.exists(last)  # recreated by the next roll, under the same name
    assert [lsn for lsn, _ in read_all(d)] == list(range(1, 9))


def test_torn_header_of_the_new_file_is_left_alone_by_a_read_only_open(many_files):
    d, records = many_files
    last = log_files(d)[-1]
    truncate(last, 20)
    assert_prefix_ro = read_all(d, read_only=True)
    assert [lsn for lsn, _ in assert_prefix_ro] == [1, 2, 3, 4]
    assert os.path.getsize(last) == 20 and broken_copies(d) == []
