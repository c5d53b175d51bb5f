"""Frame and file-header encoding and parsing (byte layout in FORMAT.md)."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

import crc32c

from sedimentdb.engine.storage_errors import LogHeaderError
from sedimentdb.engine.wal import format as F


@dataclass(frozen=True)
class FileHeader:
    """The 64-byte header every log file starts with."""

    db_uuid: str
    epoch: int
    first_lsn: int
    prev_last_lsn: int


def encode_file_header(h: FileHeader) -> bytes:
    """The 64 header bytes of a new log file."""
    body = F.FILE_HEADER.pack(F.FILE_MAGIC, F.FORMAT_VERSION, 0, 0, uuidlib.UUID(h.db_uuid).bytes,
                              h.epoch, h.first_lsn, h.prev_last_lsn, 0)
    return body + F.FILE_HEADER_CRC.pack(crc32c.crc32c(body))


def decode_file_header(data: bytes) -> FileHeader | str:
    """The parsed header, or a string saying why the bytes are not a valid header."""
    if len(data) < F.FILE_HEADER_SIZE:
        return f"file header truncated ({len(data)} of {F.FILE_HEADER_SIZE} bytes)"
    body = data[: F.FILE_HEADER.size]
    magic, version, _flags, _res, raw_uuid, epoch, first, prev, _res2 = F.FILE_HEADER.unpack(body)
    if magic != F.FILE_MAGIC:
        return "not a SedimentDB log file (bad magic)"
    (crc,) = F.FILE_HEADER_CRC.unpack_from(data, F.FILE_HEADER.size)
    if crc32c.crc32c(body) != crc:
        return "file header checksum mismatch"
    if version != F.FORMAT_VERSION:
        return f"unsupported log format version {version}"
    return FileHeader(str(uuidlib.UUID(bytes=raw_uuid)), epoch, first, prev)


def new_file_header(db_uuid: str, epoch: int, first_lsn: int) -> bytes:
    """The header of a new log file whose first record will be ``first_lsn`` (any UUID spelling)."""
    return encode_file_header(FileHeader(str(uuidlib.UUID(db_uuid)), epoch, first_lsn, first_lsn - 1))


def read_file_header(path: str, data: bytes) -> FileHeader:
    """The header at the start of ``data`` (the bytes of the log file ``path``).

    LogHeaderError (offset 0, the LSN the file's name claims) if it does not decode.
    """
    header = decode_file_header(data)
    if isinstance(header, str):
        raise LogHeaderError(header, path=path, offset=0, lsn=F.name_lsn(path), hint="this is not a valid log file")
    return header


@dataclass(frozen=True)
class Frame:
    """One parsed frame; ``payload`` is the stored chunk."""

    offset: int
    lsn: int
    rtype: int
    codec: int
    flags: int
    raw_len: int
    payload: bytes
    durable_lag: int = 0

    @property
    def durable_through(self) -> int:
        """The newest LSN the writer knew to be fdatasynced when it wrote this frame.

        0 lag (files written before this field existed) claims the frame itself: the most
        conservative answer, which keeps damage before it classified as corruption.
        """
        return self.lsn - self.durable_lag

    @property
    def end(self) -> int:
        """Offset just past this frame's padding."""
        return self.offset + F.padded(F.FRAME_HEADER_SIZE + len(self.payload))


def encode_frames(lsn: int, rtype: int, payload: bytes | bytearray,
                  durable_through: int | None = None) -> bytes | bytearray:
    """One record as one frame, or as several frames of one transaction (FIRST..LAST).

    ``durable_through`` is the newest LSN known fdatasynced when the record is queued; it is
    stored as a lag behind ``lsn`` so recovery can tell a hole in never-synced data from damage
    to synced data (see FORMAT.md, "torn tail"). A record of several frames is laid out in one
    buffer, its payload copied in once (a 150 MB bulk record was copied five times).
    """
    lag = 0 if durable_through is None else min(max(lsn - durable_through, 0), 0xFFFFFFFF)
    if len(payload) <= F.MAX_FRAME_PAYLOAD:
        return _frame(lsn, rtype, F.FLAG_FIRST | F.FLAG_LAST, len(payload), payload, lag)
    view = memoryview(payload)
    starts = range(0, len(payload), F.MAX_FRAME_PAYLOAD)
    sizes = [min(F.MAX_FRAME_PAYLOAD, len(payload) - i) for i in starts]
    out = bytearray(sum(F.padded(F.FRAME_HEADER_SIZE + n) for n in sizes))  # zeros: the padding
    at = 0
    for k, (i, n) in enumerate(zip(starts, sizes, strict=True)):
        chunk = view[i: i + n]
        flags = (F.FLAG_FIRST if k == 0 else 0) | (F.FLAG_LAST if k == len(sizes) - 1 else 0)
        out[at: at + F.FRAME_HEADER_SIZE] = _frame_header(lsn, rtype, flags, len(payload), chunk, lag)
        out[at + F.FRAME_HEADER_SIZE: at + F.FRAME_HEADER_SIZE + n] = chunk
        at += F.padded(F.FRAME_HEADER_SIZE + n)
    return out


def _frame_header(lsn: int, rtype: int, flags: int, raw_len: int, chunk: bytes | memoryview, lag: int,
                  length: int | None = None, crc: int | None = None) -> bytes:
    """The header of a frame holding ``chunk`` (or ``length`` bytes whose crc32c is ``crc``)."""
    rest = F.FRAME_HEADER.pack(0, len(chunk) if length is None else length, lsn, rtype, F.CODEC_RAW, flags, 0,
                               raw_len, crc32c.crc32c(chunk) if crc is None else crc, lag)[4:]
    return crc32c.crc32c(rest).to_bytes(4, "little") + rest


class FrameParts:
    """One record's frames as buffers to write one after another (headers, views of the
    payload's parts, padding): the bytes :func:`encode_frames` gives, without copying a
    large payload into them. ``len()`` is the byte count."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: list[bytes | memoryview]) -> None:
        self.parts = parts
        self.size = sum(map(len, parts))

    def __len__(self) -> int:
        return self.size


def encode_frames_parts(lsn: int, rtype: int, parts: list[bytes | memoryview],
                        durable_through: int | None = None) -> bytes | bytearray | FrameParts:
    """:func:`encode_frames` of the payload made of ``parts`` (payload.encode_parts): a record
    of several frames comes back as :class:`FrameParts` pointing into the parts (each
    frame's checksum taken over its pieces), a small one as bytes."""
    total = sum(map(len, parts))
    if total <= F.MAX_FRAME_PAYLOAD:
        return encode_frames(lsn, rtype, b"".join(parts), durable_through)
    lag = 0 if durable_through is None else min(max(lsn - durable_through, 0), 0xFFFFFFFF)
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    out: list[bytes | memoryview] = []
    k = at = 0  # the current part, and the position in it
    starts = range(0, total, F.MAX_FRAME_PAYLOAD)
    for n_frame, start in enumerate(starts):
        n = min(F.MAX_FRAME_PAYLOAD, total - start)
        pieces, crc, need = [], 0, n
        while need:
            piece = views[k][at:at + need]
            pieces.append(piece)
            crc = crc32c.crc32c(piece, crc)
            need -= len(piece)
            at += len(piece)
            if at == len(views[k]):
                k, at = k + 1, 0
        flags = (F.FLAG_FIRST if n_frame == 0 else 0) | (F.FLAG_LAST if n_frame == len(starts) - 1 else 0)
        out.append(_frame_header(lsn, rtype, flags, total, b"", lag, length=n, crc=crc))
        out += pieces
        pad = F.padded(F.FRAME_HEADER_SIZE + n) - F.FRAME_HEADER_SIZE - n
        if pad:
            out.append(b"\x00" * pad)
    return FrameParts(out)


def _frame(lsn: int, rtype: int, flags: int, raw_len: int, chunk: bytes | bytearray, lag: int = 0) -> bytes:
    pad = F.padded(F.FRAME_HEADER_SIZE + len(chunk)) - F.FRAME_HEADER_SIZE - len(chunk)
    return _frame_header(lsn, rtype, flags, raw_len, chunk, lag) + chunk + b"\x00" * pad


def parse_frame(data: bytes | memoryview, offset: int) -> Frame | str:
    """The frame at ``offset``, or a string saying why it is not a valid frame."""
    if offset + F.FRAME_HEADER_SIZE > len(data):
        return "frame header truncated"
    head = bytes(data[offset: offset + F.FRAME_HEADER_SIZE])
    hcrc, length, lsn, rtype, codec, flags, _r, raw_len, pcrc, lag = F.FRAME_HEADER.unpack(head)
    if crc32c.crc32c(head[4:]) != hcrc:
        return "frame header checksum mismatch"
    if length > F.MAX_FRAME_PAYLOAD or raw_len > F.MAX_RECORD_BYTES:
        return f"frame length {length} exceeds the maximum"
    start = offset + F.FRAME_HEADER_SIZE
    if start + length > len(data):
        return f"frame payload truncated ({len(data) - start} of {length} bytes)"
    if offset + F.padded(F.FRAME_HEADER_SIZE + length) > len(data):
        # A frame is whole only with its padding: the next frame starts at the aligned end, so
        # a file cut inside the padding must lose this frame, or appends would go misaligned.
        return "frame padding truncated"
    payload = bytes(data[start: start + length])
    if crc32c.crc32c(payload) != pcrc:
        return "frame payload checksum mismatch"
    if codec != F.CODEC_RAW:
        return f"unknown frame codec {codec}"
    if not flags & (F.FLAG_FIRST | F.FLAG_LAST) and length == 0:
        return "empty continuation frame"
    return Frame(offset, lsn, rtype, codec, flags, raw_len, payload, lag)
