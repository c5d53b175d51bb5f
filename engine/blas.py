"""One BLAS thread while queries run.

A query's matrix products are small: one query row against a tail's unindexed rows, or a
selective filter's rows. OpenBLAS nevertheless splits them over its thread pool, whose
threads then spin waiting for work, and the query waits until each of them has had a core.
Measured on the 2-core VM under load (``bench/background_share.py --n 30000 --seconds 15``,
issue 20): with the default pool the pool threads used 0.075 cores, the compactor got 0.02
and queries ran at p50 137 ms / 7 per second; with one BLAS thread the compactor got 0.095,
the unindexed backlog drained four times faster and queries ran at p50 53 ms / 16.5 per
second.

OpenBLAS's thread count is process-wide, so it is lowered only while at least one query is
running and restored when the last one ends; an application's own numpy work in other
threads meanwhile runs on one BLAS thread too. With another BLAS (or none found) this does
nothing.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Names of OpenBLAS's setter/getter: numpy's wheels carry scipy-openblas (prefixed, 64-bit
# integer suffix); other builds the plain names.
_NAMES = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


def _find() -> tuple[Any, Any] | None:
    """(setter, getter) of the OpenBLAS numpy loaded, or None."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is a dependency
        return None
    root = os.path.dirname(os.path.dirname(numpy.__file__))
    for path in sorted(glob.glob(os.path.join(root, "numpy.libs", "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: the same library
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


_FOUND = _find()
_lock = threading.Lock()
_running = 0
_saved = 0


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs on the calling thread alone while any such block is running."""
    global _running, _saved
    if _FOUND is None:
        yield
        return
    setter, getter = _FOUND
    with _lock:
        if _running == 0:
            _saved = getter()
            if _saved > 1:
                setter(1)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved > 1:
                setter(_saved)


def available() -> bool:
    """Whether OpenBLAS was found (tests and benchmarks read it)."""
    return _FOUND is not None


def threads() -> int:
    """OpenBLAS's current thread count (0 when it was not found)."""
    return _FOUND[1]() if _FOUND is not None else 0
