"""Read levels: which of a collection's logged writes a read sees.

Chroma's ``ReadLevel`` (chromadb 1.5.9) names three. In SedimentDB the "index" is a
collection's sealed segments, which hold every write logged at or before its
``checkpoint_lsn``; the "WAL" is the log tail after it, held in memory by the tail parts.

- ``index_and_wal``: segments and the whole tail; every acknowledged write is visible.
- ``index_only``: the collection as of ``checkpoint_lsn`` — the segments only, with the deletes
  that compaction recorded, but none of the tail's adds, updates or deletes. Cheap and possibly
  stale.
- ``index_and_bounded_wal``: the segments plus the first ``bound`` log records of the tail
  (``DatabaseOptions.bounded_wal_records``): a consistent prefix of the log, so a read sees
  every write up to some LSN and none after it.

A read at LSN ``L`` sees a row when the write that stored it is at or before ``L`` (its
version) and it was not deleted or replaced at or before ``L``. Every row keeps both LSNs
(``versions_at``, ``deleted_at``), so an older read needs no copy: it is a different mask.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

INDEX_AND_WAL = "index_and_wal"
INDEX_ONLY = "index_only"
INDEX_AND_BOUNDED_WAL = "index_and_bounded_wal"
READ_LEVELS = (INDEX_AND_WAL, INDEX_ONLY, INDEX_AND_BOUNDED_WAL)


def check_read_level(value: Any) -> str:
    """``value``'s wire name (an enum's ``.value`` or the string); anything else is a ValueError."""
    name = getattr(value, "value", value)
    if name not in READ_LEVELS:
        raise ValueError(f"read_level must be one of {', '.join(READ_LEVELS)}, got {value!r}")
    return str(name)


def read_lsn(parts: list[Any], checkpoint_lsn: int, level: str, bound: int) -> Optional[int]:
    """The LSN a read at ``level`` sees the collection as of; ``None``: now (everything)."""
    level = check_read_level(level)
    if level == INDEX_AND_WAL:
        return None
    if level == INDEX_ONLY:
        return checkpoint_lsn
    lsns = tail_lsns(parts, checkpoint_lsn)
    return None if len(lsns) <= bound else int(lsns[bound - 1]) if bound > 0 else checkpoint_lsn


def tail_lsns(parts: list[Any], checkpoint_lsn: int) -> np.ndarray:
    """The LSNs, ascending, of the collection's log records after its checkpoint that changed
    it: the versions of rows they stored and the LSNs of rows they deleted or replaced."""
    found = []
    floor = np.uint64(checkpoint_lsn)
    for part in parts:
        if not part.count:
            continue
        deleted = _deleted(part)
        found.append(deleted[deleted > floor])
        versions = part.versions_at(np.arange(part.count))
        found.append(versions[versions > floor])
    if not found:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(found))


def visible(part: Any, as_of: Optional[int]) -> np.ndarray:
    """Rows of ``part`` a read as of LSN ``as_of`` sees (``None``: the live rows now)."""
    if as_of is None:
        return part.alive()
    deleted = _deleted(part)
    lsn = np.uint64(as_of)
    mask = (deleted == 0) | (deleted > lsn)
    mask &= part.versions_at(np.arange(part.count)) <= lsn
    return mask


def _deleted(part: Any) -> np.ndarray:
    """Per-row delete LSNs: a segment holds an array, a tail a growable one."""
    found = part.deleted_at
    return found if isinstance(found, np.ndarray) else found.view()
