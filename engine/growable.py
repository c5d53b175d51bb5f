"""Append-only numpy columns with amortised O(1) growth (used by the in-memory log tail)."""

from __future__ import annotations

import numpy as np


class GrowableArray:
    """A numpy array that grows by appending rows; ``view()`` is the filled part."""

    def __init__(self, dtype: type | np.dtype, width: int | None = None, capacity: int = 256) -> None:
        shape = (capacity,) if width is None else (capacity, width)
        self._data = np.zeros(shape, dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, rows: np.ndarray) -> int:
        """Append ``rows`` (1-D values or 2-D rows); return the index of the first one."""
        start = self._n
        need = start + len(rows)
        if need > len(self._data):
            self._grow(need)
        self._data[start:need] = rows
        self._n = need
        return start

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows in all, so appends up to there copy nothing.

        The new rows are not touched (``np.empty``): the kernel maps their pages only as rows
        are written, so an over-estimate costs address space, not memory. A replay of a 100k
        x 384 tail spent 0.5-0.7 s CPU doubling and copying the vectors 40 times without it.
        """
        if capacity > len(self._data):
            self._grow(capacity, factor=1)

    def _grow(self, need: int, factor: int = 2) -> None:
        capacity = max(need, factor * len(self._data))
        # Unfilled rows are never read (``view`` stops at ``_n``): no need to zero them, which
        # at 100k x 384 float32 cost as much as the copy.
        bigger = np.empty((capacity,) + self._data.shape[1:], dtype=self._data.dtype)
        bigger[: self._n] = self._data[: self._n]
        self._data = bigger

    def view(self) -> np.ndarray:
        """The filled rows (a view: valid until the next append)."""
        return self._data[: self._n]

    def __setitem__(self, index: int | np.ndarray, value: object) -> None:
        self._data[: self._n][index] = value
