"""Record payloads: a record dataclass <-> bytes.

Payload layout (little endian; FORMAT.md §4 has the byte table)::

    u8 text codec (0 raw, 1 zstd) | u8 vectors (0 none, 1 float32) | u16 reserved (0)
    u32 stored text length | u32 raw text length
    text: UTF-8 JSON object with the record's fields (ids, documents, metadata, ...)
    only if vectors = 1:  u32 rows | u32 dim | rows*dim float32 LE

JSON keeps int/float/bool/None/str/list/dict distinct and exact (floats are written with
``repr``, NaN and infinities included; lone surrogates pass through); vectors stay raw
because float32 data does not compress.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import zstandard

from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.records import (
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    DeleteRecords,
    ForkCollection,
    JsonTexts,
    ModifyCollection,
    NewEpoch,
    Record,
    Reset,
    WriteBatch,
    WriteOp,
)

PAYLOAD_HEAD = struct.Struct("<BBHII")
VEC_HEAD = struct.Struct("<II")
MAX_TEXT = 1 << 31

_TYPES: dict[type, int] = {
    CreateTenant: F.REC_CREATE_TENANT,
    CreateDatabase: F.REC_CREATE_DATABASE,
    DeleteDatabase: F.REC_DELETE_DATABASE,
    CreateCollection: F.REC_CREATE_COLLECTION,
    ModifyCollection: F.REC_MODIFY_COLLECTION,
    DeleteCollection: F.REC_DELETE_COLLECTION,
    Reset: F.REC_RESET,
    DeleteRecords: F.REC_DELETE_RECORDS,
    NewEpoch: F.REC_NEW_EPOCH,
    ForkCollection: F.REC_FORK_COLLECTION,
}
_CLASSES = {v: k for k, v in _TYPES.items()}
_BATCH_TYPES = {int(op): op for op in WriteOp}


class CodecError(ValueError):
    """Payload bytes that passed their checksum but do not decode (a bug or a forged file)."""


def record_type(record: Record) -> int:
    """The on-disk type number of ``record``."""
    if isinstance(record, WriteBatch):
        return int(record.op)
    try:
        return _TYPES[type(record)]
    except KeyError:
        raise TypeError(f"not a log record: {type(record).__name__}") from None


def encode(record: Record) -> tuple[int, bytes | bytearray]:
    """(record type, payload bytes) for ``record``."""
    rtype, parts = encode_parts(record)
    if len(parts) == 1:
        return rtype, parts[0]  # type: ignore[return-value]
    # One buffer, each part copied into it once (the vectors are most of a big record).
    out = bytearray(sum(map(len, parts)))
    at = 0
    for part in parts:
        out[at:at + len(part)] = part
        at += len(part)
    return rtype, out


def encode_parts(record: Record) -> tuple[int, list[bytes | memoryview]]:
    """:func:`encode` as the payload's consecutive parts: a record with vectors ends with a
    view of its embeddings array (not a copy), which must not change while the parts are used."""
    rtype = record_type(record)
    if isinstance(record, WriteBatch):
        fields: dict[str, Any] = {"c": record.collection_id, "i": record.ids, "d": record.documents,
                                  "m": record.metadatas, "u": record.uris}
        raw = "m" if isinstance(record.metadatas, JsonTexts) else None
        return rtype, _pack(fields, record.embeddings, raw)
    return rtype, _pack({k: getattr(record, k) for k in record.__dataclass_fields__}, None)


def _pack(fields: dict[str, Any], vectors: np.ndarray | None, raw: str | None = None) -> list[bytes | memoryview]:
    text = _text(fields, raw).encode("utf-8", "surrogatepass")
    codec, stored = F.TEXT_RAW, text
    if len(text) > F.COMPRESS_TEXT_ABOVE:
        packed = zstandard.ZstdCompressor(level=1).compress(text)
        if len(packed) < len(text) * 0.9:
            codec, stored = F.TEXT_ZSTD, packed
    head = PAYLOAD_HEAD.pack(codec, 0 if vectors is None else 1, 0, len(stored), len(text))
    if vectors is None:
        return [head + stored]
    v = np.ascontiguousarray(vectors, dtype="<f4")
    if v.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array, got shape {v.shape}")
    return [head + stored + VEC_HEAD.pack(*v.shape), memoryview(v.reshape(-1)).cast("B")]


def _text(fields: dict[str, Any], raw: str | None) -> str:
    """The JSON text of ``fields``; the field named ``raw`` holds JSON texts (or None) that
    become the elements of its array as they are (the same text json.dumps gives their maps)."""
    if raw is None:
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    keys = list(fields)
    at = keys.index(raw)
    before, after = ({k: fields[k] for k in part} for part in (keys[:at], keys[at + 1:]))
    texts = fields[raw]
    items = ",".join(["null" if t is None else t for t in texts] if None in texts else texts)
    middle = json.dumps(raw) + ":[" + items + "]"
    head = json.dumps(before, ensure_ascii=False, separators=(",", ":"), allow_nan=True)[:-1]
    tail = json.dumps(after, ensure_ascii=False, separators=(",", ":"), allow_nan=True)[1:]
    return head + ("," if before else "") + middle + ("," if after else "") + tail


def decode(rtype: int, payload: bytes) -> Record:
    """The record encoded in ``payload``; CodecError if it does not decode."""
    try:
        fields, vectors = _unpack(payload)
        if rtype in _BATCH_TYPES:
            return WriteBatch(_BATCH_TYPES[rtype], fields["c"], fields["i"], vectors,
                              fields["d"], fields["m"], fields["u"])
        cls = _CLASSES[rtype]
        return cls(**fields)  # type: ignore[no-any-return]
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, RecursionError, struct.error, zstandard.ZstdError) as exc:
        raise CodecError(f"record of type {rtype} does not decode: {exc}") from exc


def _unpack(payload: bytes) -> tuple[dict[str, Any], np.ndarray | None]:
    codec, has_vectors, _reserved, stored_len, raw_len = PAYLOAD_HEAD.unpack_from(payload, 0)
    pos = PAYLOAD_HEAD.size
    if raw_len > MAX_TEXT or pos + stored_len > len(payload):
        raise CodecError("text section overruns the payload")
    stored = payload[pos: pos + stored_len]
    pos += stored_len
    if codec == F.TEXT_ZSTD:
        text = zstandard.ZstdDecompressor().decompress(stored, max_output_size=raw_len)
    elif codec == F.TEXT_RAW:
        text = stored
    else:
        raise CodecError(f"unknown text codec {codec}")
    if len(text) != raw_len:
        raise CodecError(f"text section is {len(text)} bytes, header says {raw_len}")
    fields = json.loads(text.decode("utf-8", "surrogatepass"))
    if not isinstance(fields, dict):
        raise CodecError("text section is not an object")
    if has_vectors == 0:
        if pos != len(payload):
            raise CodecError(f"{len(payload) - pos} stray bytes after the text section")
        return fields, None
    if has_vectors != 1:
        raise CodecError(f"unknown vector section kind {has_vectors}")
    rows, dim = VEC_HEAD.unpack_from(payload, pos)
    pos += VEC_HEAD.size
    if pos + rows * dim * 4 != len(payload):
        raise CodecError(f"vector section holds {len(payload) - pos} bytes, expected {rows * dim * 4}")
    vectors = np.frombuffer(payload, dtype="<f4", count=rows * dim, offset=pos).reshape(rows, dim)
    return fields, vectors.astype(np.float32)
