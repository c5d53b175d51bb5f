"""A column of optional strings: validity bitmap, offsets, UTF-8 bytes, zstd where it pays.

Strings are encoded with ``surrogatepass`` so that any Python ``str`` (even one holding a
lone surrogate) round-trips bit for bit.
"""

from __future__ import annotations

import numpy as np

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.compression import compress_payload, decompress_payload
from sedimentdb.engine.storage_errors import CorruptionError

ENCODING = "utf-8"
ERRORS = "surrogatepass"


def encode_strings(values: list[str | None]) -> bytes:
    """Encode ``values`` (entries may be None) as a string column."""
    n = len(values)
    data, lengths = _ascii_bytes(values)
    if data is None:
        encoded = [v.encode(ENCODING, ERRORS) if v is not None else b"" for v in values]
        lengths = np.fromiter(map(len, encoded), dtype=np.uint64, count=n)
        data = b"".join(encoded)
    nones = values.count(None)
    valid = np.ones(n, dtype=bool) if not nones else np.zeros(n, dtype=bool) if nones == n \
        else np.fromiter((v is not None for v in values), dtype=bool, count=n)
    offsets = np.zeros(n + 1, dtype=F.U64)
    if n:
        np.cumsum(lengths, out=offsets[1:])
    bitmap = np.packbits(valid, bitorder="little").tobytes()
    payload = _pad8(bitmap) + offsets.tobytes() + data
    return compress_payload(payload)


def _ascii_bytes(values: list[str | None]) -> tuple[bytes | None, np.ndarray]:
    """(the UTF-8 bytes of every value, each one's length) in one encode when every value is
    ASCII (a character is then one byte); (None, empty) otherwise."""
    texts = [v if v is not None else "" for v in values] if None in values else values
    joined = "".join(texts)  # type: ignore[arg-type]
    if not joined.isascii():
        return None, np.zeros(0, dtype=np.uint64)
    return joined.encode("ascii"), np.fromiter(map(len, texts), dtype=np.uint64, count=len(texts))


def _pad8(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 8)


class StringColumn:
    """A decoded string column: rows are decoded on demand, or all at once."""

    def __init__(self, path: str, column: memoryview | bytes, n: int) -> None:
        self.path = path
        self.n = n
        payload = decompress_payload(path, column)
        nbitmap = -(-n // 8)
        start = nbitmap + (-nbitmap % 8)
        end = start + 8 * (n + 1)
        if end > len(payload):
            raise _corrupt(path, "string column is shorter than its offsets")
        self.valid = np.unpackbits(
            np.frombuffer(payload, dtype=np.uint8, count=nbitmap), bitorder="little", count=n
        ).astype(bool)
        self.offsets = np.frombuffer(payload, dtype=F.U64, count=n + 1, offset=start).astype(np.int64)
        self.data = payload[end:]
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.data) or (
            n and bool((np.diff(self.offsets) < 0).any())
        ):
            raise _corrupt(path, "string column offsets are inconsistent")

    def get(self, row: int) -> str | None:
        """The string at ``row`` (None when absent)."""
        if not self.valid[row]:
            return None
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        try:
            return self.data[a:b].decode(ENCODING, ERRORS)
        except UnicodeDecodeError as exc:
            raise _corrupt(self.path, f"string at row {row} is not UTF-8 ({exc.reason})") from None

    def take(self, rows: np.ndarray) -> list[str | None]:
        """The strings at ``rows`` (an int array): :meth:`get` for each, the bitmap and the
        offsets read once for all of them (a query reads ten rows of two columns)."""
        valid = self.valid[rows].tolist()
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        data = self.data
        try:
            return [data[a:b].decode(ENCODING, ERRORS) if v else None
                    for v, a, b in zip(valid, starts, ends, strict=True)]
        except UnicodeDecodeError:
            return [self.get(r) for r in rows.tolist()]  # names the row that fails

    def all(self) -> list[str | None]:
        """Every row, decoded."""
        data = self.data
        offs = self.offsets.tolist()
        valid = self.valid.tolist()
        if data.isascii():
            # One decode for the whole column; byte offsets are character offsets in ASCII.
            text = data.decode("ascii")
            return [text[offs[i]:offs[i + 1]] if valid[i] else None for i in range(self.n)]
        try:
            return [
                data[offs[i]:offs[i + 1]].decode(ENCODING, ERRORS) if valid[i] else None
                for i in range(self.n)
            ]
        except UnicodeDecodeError as exc:
            raise _corrupt(self.path, f"string column is not UTF-8 ({exc.reason})") from None


def _corrupt(path: str, message: str) -> CorruptionError:
    return CorruptionError(message, path=path, hint="rebuild the segment from the log or a backup")
