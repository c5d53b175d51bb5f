"""Giving freed memory back to the operating system after large, short-lived allocations.

A compaction allocates and frees hundreds of megabytes of numpy scratch (gathered vectors,
hnswlib's serialised state) from a background thread. glibc serves a thread from its own
malloc arena and returns freed memory to the system only from the top of each heap, so
without help the process keeps that scratch resident long after it is freed (its RSS only
grows). ``malloc_trim(0)`` releases the free pages of every arena; it is what long-running
Python services call for the same reason. Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

_libc: Any = None


def trim_heap() -> bool:
    """Return freed heap memory to the system where the C library can; True if it did."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        _libc = _load_libc()
    trim = getattr(_libc, "malloc_trim", None) if _libc else None
    return bool(trim(0)) if trim is not None else False


def _load_libc() -> Any:
    """glibc by its usual name; ``find_library`` only if that fails (it runs ``ldconfig`` in a
    subprocess: 0.2 s and more on a loaded machine, which a closing database waited for)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        pass
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
