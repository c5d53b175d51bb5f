"""Forking a collection: a new collection that starts as a copy of another, sharing its segments.

A fork is one log record (``ForkCollection``, type 21). Applied at LSN ``L`` it gives the new
collection the source's state just before ``L``: the source's sealed segments — the very same
immutable files, each with its own copy of the per-row delete LSNs — and the live rows of the
source's log tail, copied into the fork's tail. Segments are never copied, so a fork costs the
same for 10 records or 10 million; only the tail (bounded by the compaction threshold) and the
id directory are copied in memory. From then on the two collections are independent: their
records carry their own collection id, so a write to one never reaches the other.

Reopen. The fork's checkpoint is the source's checkpoint at ``L``: the fork's tail holds the
source's records logged after that checkpoint and before ``L``. Until the fork's own tail is
compacted (its checkpoint then passes ``L``), a replay of the log must apply those records —
logged under the source's id — to the fork as well: they are the fork's *inherited* records.
``heirs`` maps a collection id to the forks that inherit its records below a given LSN; it is
built from the catalog's ``lineage`` when a manifest is loaded (engine/compactor/FORMAT.md,
"Forks"). During live operation it is never needed: every record after ``L`` is the
collection's own.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from sedimentdb.engine.collection import CollectionState
from sedimentdb.engine.parts import SegmentPart, TailPart

# source collection id -> [(fork id, first LSN the fork no longer inherits)]
Heirs = dict[str, list[tuple[str, int]]]


def fork_state(source: CollectionState, new_id: str) -> CollectionState:
    """A new collection state equal to ``source`` now, sharing its segment files."""
    out = CollectionState(new_id, source.space, source.dim, source.hnsw)
    out.checkpoint_lsn = source.checkpoint_lsn
    pairs = [(p, SegmentPart(p.segment, p.deleted_at.copy(), p.marker)) for p in source.segments()]
    out.parts = [*(q for _, q in pairs), out.active]
    out.loc = ForkLoc(source.loc, _remap(source.loc, pairs))
    for part in source.parts:
        if isinstance(part, TailPart) and part.count:
            _copy_tail_rows(part, out)
    return out


class ForkLoc(dict):  # type: ignore[type-arg]
    """A fork's id directory: its source's, copied in one C-level dict copy (a 100k-entry copy
    takes a few ms, building 100k new entries ~50), whose entries may still name one of the
    source's segment parts; reads translate those to the fork's part for the same segment.
    Writes store the fork's own parts, so entries stop needing the translation as they change.
    """

    __slots__ = ("_remap",)

    def __init__(self, data: dict[str, Any], remap: dict[int, tuple[Any, Any]]) -> None:
        super().__init__(data)
        # id(source part) -> (source part, fork part); the source part is held so its id is not reused.
        self._remap = remap

    def _fix(self, value: tuple[Any, int]) -> tuple[Any, int]:
        found = self._remap.get(id(value[0]))
        return value if found is None else (found[1], value[1])

    def __getitem__(self, key: str) -> tuple[Any, int]:
        return self._fix(dict.__getitem__(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        """The (part, row) of ``key``, translated; ``default`` when absent."""
        value = dict.get(self, key)
        return default if value is None else self._fix(value)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove ``key`` and return its (part, row), translated."""
        if dict.__contains__(self, key):
            return self._fix(dict.pop(self, key))
        if default:
            return default[0]
        raise KeyError(key)

    def items(self) -> Any:
        """(id, (part, row)) pairs, translated."""
        fix = self._fix
        return ((k, fix(v)) for k, v in dict.items(self))

    def values(self) -> Any:
        """(part, row) values, translated."""
        return map(self._fix, dict.values(self))


def _remap(source_loc: dict[str, Any], pairs: list[tuple[Any, Any]]) -> dict[int, tuple[Any, Any]]:
    """How a copy of ``source_loc`` reads in the fork: each source segment part becomes its fork
    part; if the source is itself a fork whose entries still name its source's parts, those
    translate through to the new fork's parts as well."""
    remap = {id(p): (p, q) for p, q in pairs}
    new_of = {id(p): q for p, q in pairs}
    for key, (older, mine) in getattr(source_loc, "_remap", {}).items():
        q = new_of.get(id(mine))
        if q is not None:
            remap[key] = (older, q)
    return remap


def _copy_tail_rows(src: TailPart, out: CollectionState) -> None:
    """Append the live rows of one of the source's tails to the fork's active tail (every
    per-row column TailPart.append takes: a new tail column must be copied here too)."""
    rows = np.flatnonzero(src.alive())
    if rows.size == 0:
        return
    picked = rows.tolist()
    ids = [src.ids[r] for r in picked]
    start = out.active.append(
        ids, src.ordinals_at(rows), 0, np.array(src.vectors_at(rows), dtype=np.float32),
        [src.documents[r] for r in picked], [src.metadatas[r] for r in picked], [src.uris[r] for r in picked],
        versions=src.versions_at(rows))
    out.loc.update(zip(ids, zip(repeat(out.active), range(start, start + len(ids))), strict=True))


def heirs_of(catalog_collections: dict[str, Any], checkpoints: dict[str, int]) -> Heirs:
    """Which forks still inherit which collections' records on replay.

    A fork inherits the records of each ancestor ``a`` in its lineage (``[a, L]``, the LSN of
    the fork step that left ``a``) logged after the fork's checkpoint and before ``L``. Steps
    whose ``L`` is at or below the checkpoint + 1 are covered by the fork's segments already.
    """
    out: Heirs = {}
    for cid, info in catalog_collections.items():
        ckpt = checkpoints.get(cid, 0)
        for ancestor, until in info.lineage or []:
            if int(until) > ckpt + 1:
                out.setdefault(str(ancestor), []).append((cid, int(until)))
    return out


def inheriting(heirs: Heirs, source_id: str, lsn: int) -> list[str]:
    """The forks that must also apply the record of ``source_id`` logged at ``lsn``."""
    found = heirs.get(source_id)
    if not found:
        return []
    return [fid for fid, until in found if lsn < until]
