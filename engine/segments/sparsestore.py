"""Persisting a segment's sparse vector index (``sparse.idx``, FORMAT.md): every metadata key that
holds sparse vectors, as inverted lists.

The body is a codec header (zstd where it pays) over a bundle: scalars ``{"n": rows, "keys":
[name, ...]}`` and, for key number ``i``, arrays ``i.dims``, ``i.starts``, ``i.rows`` (int64) and
``i.values`` (float64). The reader checks every invariant :class:`SparsePostings` relies on, so a
damaged index fails with a :class:`CorruptionError` naming the file, the offset of the damaged
bytes and the LSN of the row involved, instead of scoring wrongly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bundle import TABLE_AT, pack, unpack_located
from sedimentdb.engine.segments.compression import compress_payload, decompress_payload
from sedimentdb.engine.segments.sparse import SparsePostings
from sedimentdb.engine.storage_errors import CorruptionError

_ARRAYS = (("dims", "<i8"), ("starts", "<i8"), ("rows", "<i8"), ("values", "<f8"))


def encode_sparse_index(n: int, index: dict[str, SparsePostings]) -> bytes:
    """The ``sparse.idx`` body for ``index`` (key -> postings over ``n`` rows)."""
    arrays: list[tuple[str, np.ndarray]] = []
    for i, postings in enumerate(index.values()):
        arrays += [(f"{i}.{name}", np.asarray(getattr(postings, name), dtype=dtype)) for name, dtype in _ARRAYS]
    return compress_payload(pack({"n": n, "keys": list(index)}, arrays))


def decode_sparse_index(path: str, body: memoryview, n: int, *, body_at: int = 0,
                        versions: np.ndarray | None = None) -> dict[str, SparsePostings]:
    """Inverse of :func:`encode_sparse_index`; CorruptionError if anything disagrees.

    ``body_at`` is the body's byte offset in the file and ``versions`` the segment's per-row LSNs:
    an error names the key, the array and element, the file offset of the damaged bytes (of the
    zstd frame when the payload is compressed, with the byte in the payload in the message) and
    the LSN of the row involved when there is one.
    """
    try:
        payload = decompress_payload(path, body)
        scalars, arrays, located = unpack_located(path, payload)
    except CorruptionError as exc:  # their offsets are relative to the body, or missing
        raise CorruptionError(exc.message, path=path, offset=body_at, hint=_HINT) from None
    compressed = F.COLUMN_HEADER.unpack_from(body, 0)[0] != F.CODEC_RAW
    try:
        if scalars.get("n") != n:
            raise _Damage(f"index covers {scalars.get('n')} rows, the segment has {n}")
        names = scalars.get("keys")
        if not isinstance(names, list) or not all(isinstance(k, str) for k in names) or len(set(names)) != len(names):
            raise _Damage("'keys' must be a list of distinct strings")
        return {name: _postings(arrays, i, name, n) for i, name in enumerate(names)}
    except _Damage as damage:
        at = TABLE_AT if damage.array is None else located[damage.array] + damage.element * 8
        where = f"payload byte {at}" + ("" if damage.array is None else f", {damage.array}[{damage.element}]")
        lsn = int(versions[damage.row]) if damage.row is not None and versions is not None else None
        if compressed:  # no file offset holds that byte: name the frame's, and the byte in the payload
            offset = body_at + F.COLUMN_HEADER.size
            where += " of the zstd frame's decompressed payload"
        else:
            offset = body_at + F.COLUMN_HEADER.size + at
        raise CorruptionError(f"sparse index is inconsistent: {damage} ({where})", path=path, offset=offset,
                              lsn=lsn, hint=_HINT) from None


_HINT = "rebuild the segment from the log or a backup (sediment repair rebuilds sparse.idx)"


class _Damage(Exception):
    """A broken invariant: the message, and where (an array and element, else the JSON block)."""

    def __init__(self, message: str, array: str | None = None, element: int = 0, row: int | None = None) -> None:
        super().__init__(message)
        self.array = array
        self.element = element
        self.row = row


def _first(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def _postings(arrays: dict[str, np.ndarray], i: int, name: str, n: int) -> SparsePostings:
    got: dict[str, Any] = {}
    for field, dtype in _ARRAYS:
        array = arrays.get(f"{i}.{field}")
        if array is None:
            raise _Damage(f"key {name!r}: array '{i}.{field}' is missing")
        if array.dtype != np.dtype(dtype):
            raise _Damage(f"key {name!r}: {field} has dtype {array.dtype.str}, expected {dtype}")
        got[field] = array
    dims, starts, rows, values = got["dims"], got["starts"], got["rows"], got["values"]
    if len(starts) != len(dims) + 1 or len(rows) != len(values):
        raise _Damage(f"key {name!r}: array lengths disagree")
    a_dims, a_starts, a_rows, a_values = (f"{i}.{field}" for field, _ in _ARRAYS)
    if dims.size and int(dims[0]) < 0:
        raise _Damage(f"key {name!r}: dimensions are not strictly ascending non-negative integers", a_dims, 0)
    if dims.size > 1 and not bool(np.all(np.diff(dims) > 0)):
        raise _Damage(f"key {name!r}: dimensions are not strictly ascending non-negative integers", a_dims,
                      _first(np.diff(dims) <= 0) + 1)
    if int(starts[0]) != 0:
        raise _Damage(f"key {name!r}: list offsets are not strictly ascending from 0 to {len(rows)}", a_starts, 0)
    if not bool(np.all(np.diff(starts) > 0)):
        raise _Damage(f"key {name!r}: list offsets are not strictly ascending from 0 to {len(rows)}", a_starts,
                      _first(np.diff(starts) <= 0) + 1)
    if int(starts[-1]) != len(rows):
        raise _Damage(f"key {name!r}: list offsets are not strictly ascending from 0 to {len(rows)}", a_starts,
                      len(starts) - 1)
    outside = (rows < 0) | (rows >= n)
    if bool(outside.any()):
        raise _Damage(f"key {name!r}: a row number is outside [0, {n})", a_rows, _first(outside))
    inside = np.ones(len(rows), dtype=bool)
    inside[starts[:-1]] = False  # the first row of each list has no predecessor
    falling = np.zeros(len(rows), dtype=bool)
    falling[1:] = (np.diff(rows) <= 0) & inside[1:]
    if bool(falling.any()):
        at = _first(falling)
        raise _Damage(f"key {name!r}: rows of a list are not strictly ascending", a_rows, at, int(rows[at]))
    finite = np.isfinite(values)
    if not bool(finite.all()):
        at = _first(~finite)
        raise _Damage(f"key {name!r}: a value is not a finite number", a_values, at, int(rows[at]))
    return SparsePostings(n, dims, starts, rows, values)
