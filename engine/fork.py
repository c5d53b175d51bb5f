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
    segments = [SegmentPart(p.segment, p.deleted_at.copy(), p.marker) for p in source.segments()]
    out.parts = [*segments, out.active]
    for part in segments:
        rows = np.flatnonzero(part.alive())
        ids = part.segment.ids
        out.loc.update(zip([ids[r] for r in rows.tolist()], zip(repeat(part), rows.tolist()), strict=True))
    for part in source.parts:
        if isinstance(part, TailPart) and part.count:
            _copy_tail_rows(part, out)
    return out


def _copy_tail_rows(src: TailPart, out: CollectionState) -> None:
    """Append the live rows of one of the source's tails to the fork's active tail."""
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
