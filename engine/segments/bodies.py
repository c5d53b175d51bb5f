"""Encoding and decoding of the per-file bodies (rows, vectors, metadata)."""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import numpy as np

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.strings import StringColumn, encode_strings
from sedimentdb.engine.storage_errors import CorruptionError


def encode_rows(ids: list[str], ordinals: np.ndarray, versions: np.ndarray) -> bytes:
    """Rows body: ordinals u64[n], versions u64[n], then the ids string column."""
    return (
        np.ascontiguousarray(ordinals, dtype=F.U64).tobytes()
        + np.ascontiguousarray(versions, dtype=F.U64).tobytes()
        + encode_strings(list(ids))
    )


def decode_rows(path: str, body: memoryview, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Inverse of :func:`encode_rows`: ids, ordinals, versions (read-only arrays)."""
    if len(body) < 16 * n:
        raise CorruptionError("rows file is shorter than its ordinal and version columns", path=path)
    ordinals = np.frombuffer(body, dtype=F.U64, count=n, offset=0).astype(np.uint64)
    versions = np.frombuffer(body, dtype=F.U64, count=n, offset=8 * n).astype(np.uint64)
    ids = StringColumn(path, body[16 * n:], n).all()
    if None in ids:
        raise CorruptionError("rows file holds a missing id", path=path)
    ordinals.flags.writeable = False
    versions.flags.writeable = False
    return ids, ordinals, versions  # type: ignore[return-value]


def encode_vectors(vectors: np.ndarray) -> memoryview:
    """Vectors body: n*dim little-endian float32, row-major (a byte view of ``vectors``, not a
    copy, when they are already laid out so)."""
    return memoryview(np.ascontiguousarray(vectors, dtype=F.F32).reshape(-1)).cast("B")


def decode_vectors(path: str, body: memoryview, n: int, dim: int) -> np.ndarray:
    """Inverse of :func:`encode_vectors`: a read-only (n, dim) float32 array."""
    if len(body) != 4 * n * dim:
        raise CorruptionError(f"vectors file body is {len(body)} bytes, expected {4 * n * dim}", path=path)
    arr = np.frombuffer(body, dtype=F.F32, count=n * dim).reshape(n, dim)
    if arr.dtype != np.float32:  # big-endian host: convert once
        arr = arr.astype(np.float32)
    arr.flags.writeable = False
    return arr


def metadata_texts(metadatas: list[dict[str, Any] | str | None]) -> list[str | None]:
    """One JSON text per row (None = no metadata); an entry that is already a segment's
    stored text (a ``str``, see :meth:`SegmentData`) is kept as it is.

    JSON keeps int vs float (``1`` vs ``1.0``), bools, nesting and key order, and Python
    writes floats with ``repr``, so values round-trip exactly (NaN/Infinity included).
    """
    if set(map(type, metadatas)) <= {str, type(None)}:  # already texts: no Python step per row
        return list(metadatas)  # type: ignore[arg-type]
    encode = _compact_json
    return [m if m is None or isinstance(m, str) else encode(m) for m in metadatas]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The C encoder json.dumps builds anew on every call, built once: at 100k rows the per-call
# setup cost more than the encoding itself. None without CPython's _json accelerator.
_C_ENCODE = None if c_make_encoder is None else c_make_encoder(
    None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True)


def _compact_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, the same text."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def encode_metadatas(texts: list[str | None]) -> bytes:
    """Metadata body: a string column of the rows' JSON texts."""
    return encode_strings(texts)


def decode_metadata(path: str, text: str | None) -> dict[str, Any] | None:
    """One row's metadata from its JSON text."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CorruptionError(f"metadata is not valid JSON: {exc}", path=path) from None
    if not isinstance(value, dict):
        raise CorruptionError("metadata row is not a JSON object", path=path)
    return value


def decode_all_metadata(path: str, texts: list[str | None]) -> list[dict[str, Any] | None]:
    """Every row's metadata at once: one JSON parse of the whole column (much faster)."""
    try:
        values = json.loads("[" + ",".join(t if t is not None else "null" for t in texts) + "]")
    except ValueError as exc:
        raise CorruptionError(f"metadata is not valid JSON: {exc}", path=path) from None
    if len(values) != len(texts) or any(
        (v is None) != (t is None) or (v is not None and type(v) is not dict)
        for v, t in zip(values, texts, strict=False)
    ):
        raise CorruptionError("metadata rows do not decode to one JSON object each", path=path)
    return values
