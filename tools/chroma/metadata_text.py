"""Record metadata as compact JSON texts: what the reader hands on, and what a segment stores.

The reader builds each record's key/value map from SQLite rows and encodes it once, here,
with the same encoder settings as SedimentDB's segments (``ensure_ascii=False``, separators
``,`` and ``:``, keys in the order stored), so the text can go into the segment's metadata
column and the log record unchanged. JSON keeps ``1``, ``1.0``, ``true`` and ``"1"`` apart and
floats round-trip (``repr``), so the text is the value.

SQLite has no boolean type: the metadata query returns a bool as one of two marker blobs
(:data:`SQL_VALUE`), which the encoder writes as ``true``/``false``; any other non-JSON value
is refused (TypeError).
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

TRUE, FALSE = b"\x01", b"\x00"
# Chroma's read order of the value columns (string, int, float, bool), chosen by SQLite in C:
# one Python object per row, a bool as a marker blob.
SQL_VALUE = ("COALESCE(m.string_value, CAST(m.int_value AS INTEGER), CAST(m.float_value AS REAL), "
             "CASE WHEN m.bool_value IS NULL THEN NULL WHEN m.bool_value THEN x'01' ELSE x'00' END)")


def _marker(value: Any) -> bool:
    if type(value) is bytes and value in (TRUE, FALSE):
        return value == TRUE
    raise TypeError(f"metadata value {value!r} of type {type(value).__name__} is not JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_marker)
# Built once (json.dumps builds its C encoder on every call); None without CPython's _json.
_C_ENCODE = None if c_make_encoder is None else c_make_encoder(
    None, _marker, encode_basestring, None, ":", ",", False, False, True)


def encode_map(value: dict[str, Any]) -> str:
    """One map as compact JSON text (bool markers as ``true``/``false``)."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def encode_maps(maps: list[dict[str, Any] | None]) -> list[str | None]:
    """:func:`encode_map` of every map; None stays None (``{}`` stays ``"{}"``)."""
    if _C_ENCODE is None:
        return [None if m is None else _ENCODER.encode(m) for m in maps]
    encode, join = _C_ENCODE, "".join  # no Python call per map: the C encoder, then one join
    return [None if m is None else join(encode(m, 0)) for m in maps]


def decode_texts(texts: list[str | None]) -> list[dict[str, Any] | None]:
    """The maps of :func:`encode_maps` texts, parsed as one JSON document."""
    return json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")  # type: ignore[no-any-return]

