"""Optional zstd compression of a payload, behind a 16-byte codec header."""

from __future__ import annotations

import zstandard

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.storage_errors import CorruptionError


def compress_payload(payload: bytes) -> bytes:
    """Codec header + payload, zstd-compressed when that saves enough."""
    if len(payload) >= F.ZSTD_MIN_SIZE:
        packed = zstandard.ZstdCompressor(level=F.ZSTD_LEVEL).compress(payload)
        if len(packed) <= len(payload) * (1 - F.ZSTD_MIN_SAVING):
            return F.COLUMN_HEADER.pack(F.CODEC_ZSTD, len(payload)) + packed
    return F.COLUMN_HEADER.pack(F.CODEC_RAW, len(payload)) + payload


def decompress_payload(path: str, data: memoryview | bytes) -> bytes:
    """Inverse of :func:`compress_payload`; CorruptionError naming ``path`` on any mismatch."""
    if len(data) < F.COLUMN_HEADER.size:
        raise _corrupt(path, "codec header is missing")
    codec, size = F.COLUMN_HEADER.unpack_from(data, 0)
    body = data[F.COLUMN_HEADER.size:]
    if codec == F.CODEC_RAW:
        payload = bytes(body)
    elif codec == F.CODEC_ZSTD:
        # A zstd block expands at most ~32768x; a larger claimed size is damage, and passing it on
        # would overflow (>= 2**63) or make zstd allocate that much.
        if size > 65536 * len(body) + (1 << 20):
            raise _corrupt(path, f"header claims {size} bytes from a {len(body)}-byte zstd frame")
        try:
            payload = zstandard.ZstdDecompressor().decompress(bytes(body), max_output_size=size)
        except zstandard.ZstdError as exc:
            raise _corrupt(path, f"zstd frame does not decompress: {exc}") from None
    else:
        raise _corrupt(path, f"unknown codec {codec}")
    if len(payload) != size:
        raise _corrupt(path, f"payload is {len(payload)} bytes, its header says {size}")
    return payload


def _corrupt(path: str, message: str) -> CorruptionError:
    return CorruptionError(message, path=path, hint="rebuild the segment from the log or a backup")
