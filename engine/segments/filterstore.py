"""Persisting a segment's filter index (``filter.idx``), so opening a segment needs no
per-row Python work to answer ``where`` filters.

The body is a compressed bundle (see bundle.py). For metadata key number ``i`` (in the order
of ``scalars["keys"]``), arrays ``i.v.<field>`` hold its value column and ``i.e.<field>`` the
column of its array elements, with ``i.owners`` the row of each element. Fields: ``tags`` (u8
per slot), ``bools``, ``ints`` (int64), ``floats`` (float64) and ``codes`` (int64 indexes into
the string dictionary), each holding only the slots of its tag, in slot order. Dictionaries and
odd values (ints beyond int64, nested objects) are JSON in the scalars block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sedimentdb.engine.segments.bundle import pack, unpack
from sedimentdb.engine.segments.compression import compress_payload, decompress_payload
from sedimentdb.engine.segments.filterindex import FilterIndex, KeyIndex, StoredValues, ValueColumn
from sedimentdb.engine.storage_errors import CorruptionError

_FIELDS = (("tags", np.uint8), ("bools", np.bool_), ("ints", np.int64), ("floats", np.float64),
           ("codes", np.int64))


def encode_filter_index(index: FilterIndex) -> bytes:
    """The ``filter.idx`` body for ``index``."""
    keys: list[dict[str, Any]] = []
    arrays: list[tuple[str, np.ndarray]] = []
    for i, (name, key) in enumerate(index.keys.items()):
        entry: dict[str, Any] = {"name": name}
        for part, column in (("v", key.values), ("e", key.elements)):
            stored = column.stored
            arrays += [(f"{i}.{part}.{field}", getattr(stored, field)) for field, _ in _FIELDS]
            entry[f"{part}.dictionary"] = stored.dictionary
            entry[f"{part}.others"] = stored.others
        arrays.append((f"{i}.owners", key.owners))
        keys.append(entry)
    return compress_payload(pack({"n": index.n, "keys": keys}, arrays))


def decode_filter_index(
    path: str, body: memoryview, n: int, documents: Callable[[], Sequence[str | None]]
) -> FilterIndex:
    """Inverse of :func:`encode_filter_index`; CorruptionError if anything disagrees."""
    scalars, arrays = unpack(path, decompress_payload(path, body))
    try:
        if scalars["n"] != n:
            raise ValueError(f"index covers {scalars['n']} rows, the segment has {n}")
        keys: dict[str, KeyIndex] = {}
        for i, entry in enumerate(scalars["keys"]):
            values = _column(arrays, f"{i}.v", entry)
            elements = _column(arrays, f"{i}.e", entry)
            owners = arrays[f"{i}.owners"].astype(np.int64)
            keys[str(entry["name"])] = KeyIndex(n, values, owners, elements)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise CorruptionError(f"filter index is inconsistent: {exc}", path=path,
                              hint="rebuild the segment from the log or a backup") from None
    return FilterIndex(n, keys, documents)


def _column(arrays: dict[str, np.ndarray], prefix: str, entry: dict[str, Any]) -> ValueColumn:
    part = prefix.rsplit(".", 1)[1]
    fields = {field: arrays[f"{prefix}.{field}"].astype(dtype) for field, dtype in _FIELDS}
    dictionary = entry[f"{part}.dictionary"]
    others = entry[f"{part}.others"]
    if not isinstance(dictionary, list) or not isinstance(others, list):
        raise ValueError(f"{prefix}: dictionary and odd values must be lists")
    tags = fields["tags"]
    for field, tag in (("bools", 1), ("ints", 2), ("floats", 3), ("codes", 4)):
        if len(fields[field]) != int(np.count_nonzero(tags == tag)):
            raise ValueError(f"{prefix}.{field} does not match its tags")
    if int(tags.max(initial=0)) > 6 or (fields["codes"].size and (
            int(fields["codes"].min()) < 0 or int(fields["codes"].max()) >= len(dictionary))):
        raise ValueError(f"{prefix}: tags or string codes out of range")
    return ValueColumn(StoredValues(dictionary=dictionary, others=others, **fields))
