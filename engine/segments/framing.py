"""The envelope every segment file shares: an identity header and a checksummed trailer.

A file is ``header | body | trailer``. The header names the file's kind and the segment it
belongs to (segment id, collection id, row count, dimension, LSN range), so a file copied in
from another segment is caught even when its own checksums are fine. The trailer carries the
body's size and crc32c, so every file can be verified on its own, without the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import crc32c

from sedimentdb.engine.fileio import crc32c_of
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.storage_errors import CorruptionError, FormatVersionError


@dataclass(frozen=True)
class Identity:
    """What every file of one segment must agree on."""

    segment_id: str
    collection_id: str
    count: int
    dim: int
    min_lsn: int
    max_lsn: int


def encode_file(kind: int, ident: Identity, body: bytes, version: int = F.FORMAT_VERSION) -> bytes:
    """The complete bytes of a file of ``kind`` holding ``body``, stamped with format ``version``."""
    return b"".join(encode_file_parts(kind, ident, body, version))


def encode_file_parts(kind: int, ident: Identity, body: bytes | memoryview,
                      version: int = F.FORMAT_VERSION) -> list[bytes | memoryview]:
    """:func:`encode_file` as ``[header, body, trailer]``, so a large body is written without
    being copied into one buffer."""
    sid = ident.segment_id.encode("utf-8")
    cid = ident.collection_id.encode("utf-8")
    fixed_len = F.HEADER_FIXED.size + len(sid) + len(cid) + F.HEADER_CRC.size
    header_size = -(-fixed_len // F.HEADER_ALIGN) * F.HEADER_ALIGN
    fixed = F.HEADER_FIXED.pack(
        F.MAGIC, version, kind, header_size, ident.count, ident.dim, 0,
        ident.min_lsn, ident.max_lsn, len(sid), len(cid),
    ) + sid + cid
    header = fixed + F.HEADER_CRC.pack(crc32c.crc32c(fixed))
    header += b"\0" * (header_size - len(header))
    trailer = F.TRAILER.pack(len(body), crc32c.crc32c(body), F.END_MAGIC)
    return [header, body, trailer]


def decode_file(path: str, data: bytes, kind: int, expected: Identity | None) -> memoryview:
    """Check the envelope of ``data`` (read from ``path``) and return a view of its body.

    With ``expected`` set, the header's identity must equal it. Raises CorruptionError naming
    ``path`` and the offset of the first thing that is wrong.
    """
    return decode_file_versioned(path, data, kind, expected)[1]


def decode_file_versioned(path: str, data: bytes, kind: int, expected: Identity | None, *,
                          body_checked: bool = False) -> tuple[int, memoryview]:
    """:func:`decode_file`, also returning the file's format version (at most the newest one
    this build reads for ``kind``), for kinds whose body layout depends on it.
    ``body_checked``: the caller has verified the whole file against a checksum taken when
    it was written, so the body's own checksum is not computed a second time."""
    view = memoryview(data)
    header_size, ident, version = read_header(path, view, kind)
    if expected is not None and ident != expected:
        raise CorruptionError(
            f"file belongs to another segment: header says {ident}, expected {expected}",
            path=path, offset=0,
            hint="a file was copied or swapped between segments; restore this segment from a backup "
            "or rebuild it from the log",
        )
    return version, check_body(path, view, header_size, data, body_checked=body_checked)


def read_header(path: str, view: memoryview, kind: int) -> tuple[int, Identity, int]:
    """Parse and check the header; return its size, the identity it names and its version."""
    if len(view) < F.HEADER_FIXED.size:
        raise _corrupt(path, 0, f"file is {len(view)} bytes, too short for a header")
    (magic, version, got_kind, header_size, count, dim, _flags, min_lsn, max_lsn, sid_len,
     cid_len) = F.HEADER_FIXED.unpack_from(view, 0)
    if magic != F.MAGIC:
        raise _corrupt(path, 0, "not a SedimentDB segment file (bad magic)")
    end = F.HEADER_FIXED.size + sid_len + cid_len
    if end + F.HEADER_CRC.size > len(view):
        raise _corrupt(path, F.HEADER_FIXED.size, "header runs past the end of the file")
    (stored,) = F.HEADER_CRC.unpack_from(view, end)
    if crc32c.crc32c(view[:end]) != stored:
        raise _corrupt(path, end, "header checksum mismatch")
    newest = F.NEWEST_VERSION_OF_KIND.get(got_kind, F.FORMAT_VERSION)
    if version > newest:
        raise FormatVersionError(
            f"segment file format version {version} is newer than this build understands "
            f"({newest})", path=path, offset=8, hint="upgrade SedimentDB",
        )
    if got_kind != kind:
        raise _corrupt(path, 10, f"file kind {got_kind} where kind {kind} was expected (swapped file?)")
    if header_size < end + F.HEADER_CRC.size or header_size > len(view):
        raise _corrupt(path, 12, f"header size {header_size} is out of bounds")
    try:
        sid = bytes(view[F.HEADER_FIXED.size:F.HEADER_FIXED.size + sid_len]).decode("utf-8")
        cid = bytes(view[F.HEADER_FIXED.size + sid_len:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt(path, F.HEADER_FIXED.size, "segment or collection id is not UTF-8") from None
    return header_size, Identity(sid, cid, count, dim, min_lsn, max_lsn), version


def check_body(path: str, view: memoryview, header_size: int, source: object = None, *,
               body_checked: bool = False) -> memoryview:
    """Check the trailer and the body checksum; return the body. ``source`` is what ``view``
    looks at, when that is a mapping whose pages the checksum should not leave resident."""
    if len(view) < header_size + F.TRAILER.size:
        raise _corrupt(path, len(view), "file is truncated: no room for the trailer")
    tpos = len(view) - F.TRAILER.size
    body_size, body_crc, end_magic = F.TRAILER.unpack_from(view, tpos)
    if end_magic != F.END_MAGIC:
        raise _corrupt(path, tpos, "file is truncated or damaged: trailer magic missing")
    if body_size != tpos - header_size:
        raise _corrupt(path, tpos, f"trailer says the body is {body_size} bytes, found {tpos - header_size}")
    body = view[header_size:tpos]
    if body_checked:
        return body
    crc = crc32c_of(source, header_size, tpos) if source is not None else crc32c.crc32c(body)
    if crc != body_crc:
        raise _corrupt(path, header_size, "body checksum mismatch")
    return body


def _corrupt(path: str, offset: int, message: str) -> CorruptionError:
    return CorruptionError(
        message, path=path, offset=offset,
        hint="the segment file is damaged; restore it from a backup or rebuild the segment from the log",
    )
