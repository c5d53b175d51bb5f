"""Persisting a segment's sparse vector index (``sparse.idx``, FORMAT.md): every metadata key that
holds sparse vectors, as inverted lists.

The body is a codec header (zstd where it pays) over a bundle: scalars ``{"n": rows, "keys":
[name, ...]}`` and, for key number ``i``, arrays ``i.dims``, ``i.starts``, ``i.rows`` (int64) and
``i.values`` (float64). The reader checks every invariant :class:`SparsePostings` relies on, so a
damaged index fails with a :class:`CorruptionError` naming the file instead of scoring wrongly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.engine.segments.bundle import pack, unpack
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


def decode_sparse_index(path: str, body: memoryview, n: int) -> dict[str, SparsePostings]:
    """Inverse of :func:`encode_sparse_index`; CorruptionError (with the key) if anything disagrees."""
    scalars, arrays = unpack(path, decompress_payload(path, body))
    try:
        if scalars.get("n") != n:
            raise ValueError(f"index covers {scalars.get('n')} rows, the segment has {n}")
        names = scalars["keys"]
        if not isinstance(names, list) or not all(isinstance(k, str) for k in names) or len(set(names)) != len(names):
            raise ValueError("'keys' must be a list of distinct strings")
        return {name: _postings(arrays, i, name, n) for i, name in enumerate(names)}
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptionError(f"sparse index is inconsistent: {exc}", path=path,
                              hint="rebuild the segment from the log or a backup") from None


def _postings(arrays: dict[str, np.ndarray], i: int, name: str, n: int) -> SparsePostings:
    got: dict[str, Any] = {}
    for field, dtype in _ARRAYS:
        array = arrays[f"{i}.{field}"]
        if array.dtype != np.dtype(dtype):
            raise ValueError(f"key {name!r}: {field} has dtype {array.dtype.str}, expected {dtype}")
        got[field] = array
    dims, starts, rows, values = got["dims"], got["starts"], got["rows"], got["values"]
    if len(starts) != len(dims) + 1 or len(rows) != len(values):
        raise ValueError(f"key {name!r}: array lengths disagree")
    if dims.size and (int(dims[0]) < 0 or not bool(np.all(np.diff(dims) > 0))):
        raise ValueError(f"key {name!r}: dimensions are not strictly ascending non-negative integers")
    if int(starts[0]) != 0 or int(starts[-1]) != len(rows) or not bool(np.all(np.diff(starts) > 0)):
        raise ValueError(f"key {name!r}: list offsets are not strictly ascending from 0 to {len(rows)}")
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
        raise ValueError(f"key {name!r}: a row number is outside [0, {n})")
    inside = np.ones(len(rows), dtype=bool)
    inside[starts[:-1][starts[:-1] < len(rows)]] = False  # the first row of each list has no predecessor
    if rows.size > 1 and not bool(np.all(np.diff(rows)[inside[1:]] > 0)):
        raise ValueError(f"key {name!r}: rows of a list are not strictly ascending")
    if not bool(np.all(np.isfinite(values))):
        raise ValueError(f"key {name!r}: a value is not a finite number")
    return SparsePostings(n, dims, starts, rows, values)
