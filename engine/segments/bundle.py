"""A bundle: a JSON block of scalars followed by named numpy arrays, 8-byte aligned.

Used for the HNSW graph (hnswlib's serialised state) and for the persisted filter index.

Layout: u32 JSON length, JSON ``{"scalars": {...}, "arrays": [[name, dtype, count], ...]}``,
zero padding to a multiple of 8, then each array's raw bytes in table order, each padded to a
multiple of 8.
"""

from __future__ import annotations

import json
from struct import error as struct_error
from typing import Any

import numpy as np

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.storage_errors import CorruptionError


def pack(scalars: dict[str, Any], arrays: list[tuple[str, np.ndarray]]) -> bytes:
    """Serialise ``scalars`` (JSON-able) and ``arrays`` (unique names) into one body."""
    prepared = [(name, np.ascontiguousarray(a)) for name, a in arrays]
    table = [[name, a.dtype.str, int(a.size)] for name, a in prepared]
    block = json.dumps({"scalars": scalars, "arrays": table}, sort_keys=True).encode("utf-8")
    out = [F.GRAPH_PARAMS_LEN.pack(len(block)), block, _pad(F.GRAPH_PARAMS_LEN.size + len(block))]
    for _, a in prepared:
        raw = a.tobytes()
        out += [raw, _pad(len(raw))]
    return b"".join(out)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % F.ARRAY_ALIGN)


# Where the JSON block (scalars and the array table) starts in a body.
TABLE_AT = F.GRAPH_PARAMS_LEN.size


def unpack(path: str, body: memoryview | bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of :func:`pack`; arrays are read-only views into ``body``."""
    scalars, arrays, _ = unpack_located(path, body)
    return scalars, arrays


def unpack_located(path: str, body: memoryview | bytes) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, int]]:
    """:func:`unpack`, also giving each array's byte offset in ``body`` (for errors that point
    at the damaged element)."""
    located: dict[str, int] = {}
    try:
        (block_len,) = F.GRAPH_PARAMS_LEN.unpack_from(body, 0)
        start = F.GRAPH_PARAMS_LEN.size
        block = json.loads(bytes(body[start:start + block_len]).decode("utf-8"))
        scalars = dict(block["scalars"])
        pos = start + block_len
        pos += -pos % F.ARRAY_ALIGN
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, count in block["arrays"]:
            dt = np.dtype(dtype)
            if dt.hasobject:
                raise ValueError(f"array {name} has an object dtype")
            nbytes = dt.itemsize * int(count)
            if int(count) < 0 or pos + nbytes > len(body):
                raise ValueError(f"array {name} runs past the end of the body")
            arrays[name] = np.frombuffer(body, dtype=dt, count=int(count), offset=pos)
            located[name] = pos
            pos += nbytes + (-nbytes % F.ARRAY_ALIGN)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, struct_error) as exc:
        raise CorruptionError(f"unreadable parameter block or array table: {exc}", path=path, offset=0,
                              hint="rebuild the segment from the log or a backup") from None
    return scalars, arrays, located

