"""One collection's live state: its parts, where each id lives, and the apply/read logic.

Applying a log record is deterministic: replaying the same records over the same
checkpointed parts yields the same state, which is what makes reopen exact.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from sedimentdb.engine.blas import one_blas_thread
from sedimentdb.engine.distance import pair_distances
from sedimentdb.engine.engine_types import Include, Records
from sedimentdb.engine.filters import compile_where, compile_where_document
from sedimentdb.engine.parts import Part, SegmentPart, TailPart
from sedimentdb.engine.read_levels import visible
from sedimentdb.engine.segments.planner import graph_distances, usable_distances
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

# Insertion order key: the LSN of the add, then the position in its batch.
ORDINAL_SHIFT = 24


def ordinals_for(lsn: int, n: int) -> np.ndarray:
    """Insertion-order keys for ``n`` records first added by the record at ``lsn``."""
    return (np.uint64(lsn) << np.uint64(ORDINAL_SHIFT)) + np.arange(n, dtype=np.uint64)


def merge_metadata(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chroma's update rule: keys merge, a ``None`` value deletes the key."""
    if new is None:
        return old
    merged = dict(old or {})
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None


def new_metadatas(metas: list[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
    """:func:`strip_none` of each new record's metadata, as one comprehension with no call per
    row: a plain copy (C speed) when there is nothing to strip, as for most records (a replay
    of 100k adds spent 0.4 s CPU calling strip_none)."""
    return [(dict(m) if None not in m.values() else strip_none(m)) if m else None for m in metas]


def strip_none(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """Metadata of a new record: ``None`` values mean nothing, an empty dict is no metadata."""
    if not meta:
        return None
    kept = {k: v for k, v in meta.items() if v is not None}
    return kept or None


class CollectionState:
    """Parts (segments first, then frozen tails, then the active tail) and the id directory."""

    def __init__(self, collection_id: str, space: str, dim: int | None,
                 hnsw: tuple[int, int, int] | None = None) -> None:
        self.id = collection_id
        self.space = space
        self.dim = dim
        # (M, construction ef, search ef) for the tails' graphs; None: tails are scanned.
        self.hnsw = hnsw
        self.parts: list[Part] = []
        self.active = self.new_tail()
        self.parts.append(self.active)
        self.loc: dict[str, tuple[Part, int]] = {}
        self.checkpoint_lsn = 0
        # Set during a replay: bytes of log being replayed, a bound on what the active tail
        # will hold (its columns make room once instead of doubling; 0: not replaying).
        self.replay_bytes = 0

    # ---- building -------------------------------------------------------------------

    def new_tail(self) -> TailPart:
        """An empty tail for this collection (the caller appends it to ``parts``)."""
        return TailPart(self.dim, self.space, self.hnsw)

    def add_segment(self, part: SegmentPart) -> None:
        """Attach a segment loaded from the manifest (before replay)."""
        self.parts.insert(self._segment_count(), part)
        ids = part.segment.ids
        rows = np.flatnonzero(part.alive()).tolist()
        if len(rows) == len(ids):
            self.loc.update(zip(ids, zip(repeat(part), range(len(ids))), strict=True))
        else:
            self.loc.update(zip([ids[r] for r in rows], zip(repeat(part), rows), strict=True))

    def _segment_count(self) -> int:
        return sum(1 for p in self.parts if isinstance(p, SegmentPart))

    def segments(self) -> list[SegmentPart]:
        """The sealed segments, oldest first."""
        return [p for p in self.parts if isinstance(p, SegmentPart)]

    def count(self) -> int:
        """Live records."""
        return len(self.loc)

    # ---- applying log records -----------------------------------------------------------

    def apply_write(self, batch: WriteBatch, lsn: int) -> None:
        """Apply an add/update/upsert logged at ``lsn``."""
        n = len(batch.ids)
        existing = list(map(self.loc.get, batch.ids))
        if existing.count(None) == n:  # all new (a load, and most of a replay): no per-row split
            if batch.op != WriteOp.UPDATE and n:
                self._insert_new(batch, lsn, list(range(n)), n)
            return
        new_rows, upd_rows = [], []
        for i, where in enumerate(existing):
            if where is None:
                if batch.op != WriteOp.UPDATE:
                    new_rows.append(i)
            elif batch.op != WriteOp.ADD:
                upd_rows.append(i)
        if new_rows:
            self._insert_new(batch, lsn, new_rows, n)
        if upd_rows:
            self._replace(batch, lsn, upd_rows, existing)

    def _insert_new(self, batch: WriteBatch, lsn: int, rows: list[int], n: int) -> None:
        assert batch.embeddings is not None, "a new record needs an embedding"
        ids = [batch.ids[i] for i in rows] if len(rows) != n else list(batch.ids)
        if len(set(ids)) != len(ids):  # the API rejects duplicates; replay must not double-insert
            seen: dict[str, int] = {}
            for i in rows:
                seen.setdefault(batch.ids[i], i)
            rows = sorted(seen.values())
            ids = [batch.ids[i] for i in rows]
        idx = np.asarray(rows, dtype=np.int64)
        every = len(rows) == n
        docs = _pick(batch.documents, rows, every)
        metas = new_metadatas(_pick(batch.metadatas, rows, every))
        uris = _pick(batch.uris, rows, every)
        vectors = batch.embeddings if len(rows) == n else batch.embeddings[idx]
        self._ensure_dim(vectors.shape[1])
        self._make_room(len(ids), vectors.shape[1])
        start = self.active.append(ids, ordinals_for(lsn, n)[idx], lsn, vectors, docs, metas, uris)
        self._locate(ids, start)

    def _make_room(self, n: int, dim: int) -> None:
        """During a replay, size an empty active tail for the rest of the log at once."""
        if self.replay_bytes and self.active.count == 0 and dim:
            try:
                self.active.reserve(n + self.replay_bytes // (4 * dim), dim)
            except MemoryError:  # no address space for the bound (a huge log): grow as rows come
                self.replay_bytes = 0

    def _locate(self, ids: list[str], start: int) -> None:
        """Point ``ids`` at consecutive rows of the active tail from ``start`` on."""
        self.loc.update(zip(ids, zip(repeat(self.active), range(start, start + len(ids))), strict=True))

    def _ensure_dim(self, dim: int) -> None:
        if self.dim is None:
            self.dim = dim

    def _replace(self, batch: WriteBatch, lsn: int, rows: list[int], existing: list) -> None:
        """Append the new versions of the records at ``rows`` of ``batch`` (which exist) and kill
        the old ones: one append for the batch, the old rows read part by part."""
        ids = [batch.ids[i] for i in rows]
        if len(set(ids)) != len(ids):  # an id twice in one record: each version replaces the last
            for i in rows:
                self._replace_rows(batch, lsn, [i], [self.loc[batch.ids[i]]])
            return
        self._replace_rows(batch, lsn, rows, [existing[i] for i in rows])

    def _replace_rows(self, batch: WriteBatch, lsn: int, rows: list[int], old: list[tuple[Part, int]]) -> None:
        n = len(rows)
        docs: list[Any] = [None] * n
        metas: list[Any] = [None] * n
        uris: list[Any] = [None] * n
        ordinals = np.empty(n, dtype=np.uint64)
        dim = self.dim or 0
        vectors = (np.asarray(batch.embeddings[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
                   if batch.embeddings is not None else np.empty((n, dim), dtype=np.float32))
        for part, at, prows in _by_part(old):
            odocs, ometas, ouris = _records_of(part, prows)
            for k, j in enumerate(at.tolist()):
                docs[j], metas[j], uris[j] = odocs[k], ometas[k], ouris[k]
            ordinals[at] = part.ordinals_at(prows)
            if batch.embeddings is None:
                vectors[at] = part.vectors_at(prows)
            for r in prows.tolist():
                part.kill(r, lsn)
        for j, i in enumerate(rows):
            if batch.documents is not None and batch.documents[i] is not None:
                docs[j] = batch.documents[i]
            if batch.metadatas is not None:
                metas[j] = merge_metadata(metas[j], batch.metadatas[i])
            if batch.uris is not None and batch.uris[i] is not None:
                uris[j] = batch.uris[i]
        ids = [batch.ids[i] for i in rows]
        self._make_room(n, vectors.shape[1])
        start = self.active.append(ids, ordinals, lsn, vectors, docs, metas, uris)
        self._locate(ids, start)

    def apply_delete(self, ids: list[str], lsn: int) -> int:
        """Delete ``ids`` (missing ones ignored); return how many existed."""
        deleted = 0
        for id_ in ids:
            where = self.loc.pop(id_, None)
            if where is not None:
                part, row = where
                part.kill(row, lsn)
                deleted += 1
        return deleted

    # ---- reading ----------------------------------------------------------------------------

    def _filter_rows(self, where: dict | None, where_document: dict | None,
                     as_of: int | None = None) -> list[tuple[Part, np.ndarray]]:
        out = []
        for part in self.parts:
            if part.count == 0:
                continue
            mask = visible(part, as_of)
            if where or where_document:
                mask = mask & part.match(where, where_document)
            rows = np.flatnonzero(mask)
            if rows.size:
                out.append((part, rows))
        return out

    def _rows_for_ids(self, ids: list[str], where: dict | None, where_document: dict | None,
                      as_of: int | None = None) -> list[tuple[Part, int]]:
        hits, seen = [], set()
        wp = compile_where(where) if where else None
        dp = compile_where_document(where_document) if where_document else None
        locate = self._locator(as_of)
        for id_ in ids:
            loc = locate(id_)
            if loc is None or id_ in seen:
                continue
            seen.add(id_)
            doc, meta, _ = loc[0].record_at(loc[1])
            if (wp is None or wp(meta)) and (dp is None or dp(doc)):
                hits.append(loc)
        return hits

    def _locator(self, as_of: int | None) -> Any:
        """id -> its (part, row) as a read as of LSN ``as_of`` sees it, or None (``as_of`` None: now).

        The id directory names each id's current row. A read before the newest writes needs,
        for an id those writes replaced or deleted, the older row: one that was deleted after
        ``as_of`` and stored at or before it (few, all from the log tail's writes)."""
        if as_of is None:
            return self.loc.get
        older: dict[str, tuple[Part, int]] = {}
        for part in self.parts:
            if part.count == 0:
                continue
            for row in np.flatnonzero(visible(part, as_of) & ~part.alive()).tolist():
                older[part.id_at(row)] = (part, row)
        lsn = np.uint64(as_of)

        def locate(id_: str) -> tuple[Part, int] | None:
            found = older.get(id_)
            if found is not None:
                return found
            loc = self.loc.get(id_)
            if loc is None or loc[0].versions_at(np.array([loc[1]]))[0] > lsn:
                return None
            return loc
        return locate

    def matching(
        self, ids: list[str] | None, where: dict | None, where_document: dict | None, as_of: int | None = None
    ) -> list[tuple[Part, int]]:
        """Live (part, row) pairs that satisfy all filters, in insertion order (as of LSN
        ``as_of``: engine/read_levels.py; None: now)."""
        if ids is not None:
            hits = self._rows_for_ids(ids, where, where_document, as_of)
            keys = [int(p.ordinals_at(np.array([r]))[0]) for p, r in hits]
            return [h for _, h in sorted(zip(keys, hits, strict=True), key=lambda t: t[0])]
        groups = self._filter_rows(where, where_document, as_of)
        if not groups:
            return []
        ords = np.concatenate([p.ordinals_at(rows) for p, rows in groups])
        owner = np.concatenate([np.full(len(rows), gi) for gi, (_, rows) in enumerate(groups)])
        rowcat = np.concatenate([rows for _, rows in groups])
        order = np.argsort(ords, kind="stable")
        return [(groups[owner[i]][0], int(rowcat[i])) for i in order]

    def get(
        self,
        ids: list[str] | None,
        where: dict | None,
        where_document: dict | None,
        limit: int | None,
        offset: int,
        include: Include,
        as_of: int | None = None,
    ) -> Records:
        """Records matching the filters, insertion order, then ``offset``/``limit``."""
        hits = self.matching(ids, where, where_document, as_of)
        end = None if limit is None else offset + limit
        return self.materialize(hits[offset:end], include)

    def materialize(
        self, hits: list[tuple[Part, int]], include: Include, dists: list[float] | None = None
    ) -> Records:
        """Turn (part, row) pairs into columnar records with the requested fields."""
        out = Records(ids=[p.id_at(r) for p, r in hits])
        if include.embeddings:
            dim = self.dim or 0
            out.embeddings = self._gather_vectors(hits, dim)
        if include.documents or include.metadatas or include.uris:
            first = hits[0][0] if hits else None
            if isinstance(first, SegmentPart) and len(hits) > 1 and all(p is first for p, _ in hits):
                # One segment (a whole-collection get after a bulk ingest or a compaction):
                # its columns decoded in bulk, not one row at a time.
                rows = np.fromiter((r for _, r in hits), dtype=np.int64, count=len(hits))
                out.documents, out.metadatas, out.uris = first.records_at(
                    rows, include.documents, include.metadatas, include.uris)
            else:
                recs = [p.record_at(r) for p, r in hits]
                out.documents = [r[0] for r in recs] if include.documents else None
                out.metadatas = [r[1] for r in recs] if include.metadatas else None
                out.uris = [r[2] for r in recs] if include.uris else None
        if include.distances and dists is not None:
            out.distances = dists
        return out

    @staticmethod
    def _gather_vectors(hits: list[tuple[Part, int]], dim: int) -> np.ndarray:
        """The vectors of ``hits`` in order: one gather per part, not one per row (a 100k-record
        ``get`` asked 100k times for a single row)."""
        if not hits:
            return np.zeros((0, dim), dtype=np.float32)
        parts, rows = zip(*hits, strict=True)
        rows_a = np.fromiter(rows, dtype=np.int64, count=len(rows))
        first = parts[0]
        if all(p is first for p in parts):  # the usual case: one tail or one segment
            return np.asarray(first.vectors_at(rows_a), dtype=np.float32)
        out = np.empty((len(hits), dim), dtype=np.float32)
        keys = np.fromiter(map(id, parts), dtype=np.int64, count=len(parts))
        by_key = {id(p): p for p in parts}
        for key in np.unique(keys):
            at = np.flatnonzero(keys == key)
            out[at] = by_key[int(key)].vectors_at(rows_a[at])
        return out

    def query(
        self,
        queries: np.ndarray,
        n_results: int,
        where: dict | None,
        where_document: dict | None,
        ids: list[str] | None,
        include: Include,
        as_of: int | None = None,
    ) -> list[Records]:
        """k nearest live records per query row, nearest first, with their distances
        (``_merge_one`` says which numbers those are)."""
        if ids is None and as_of is None and not where and not where_document:
            found = self._graphs_query(queries, n_results, include)
            if found is not None:
                return found
        with one_blas_thread():  # small products: a thread pool only adds waiting (blas.py)
            return self._parts_query(queries, n_results, where, where_document, ids, include, as_of)

    def _graphs_query(self, queries: np.ndarray, k: int, include: Include) -> list[Records] | None:
        """The common indexed query, lean: no filter, read now, and every part holding rows a
        segment searched through its graph, one hnswlib query each (deleted rows dropped from
        an over-fetch), hnswlib's distances kept: no masks built, no candidate rows read back.
        None when the collection is not in that shape (or hnswlib cannot answer): the general
        path then runs.

        Equal to the general path's answer: the same graph queries, the same distances, the
        same ranking (ties older record first). Issue 20: the general path cost 2.1x a raw
        hnswlib query in CPU at 100k with one graph (bench/query_profile.py).
        """
        parts: list[SegmentPart] = []
        for part in self.parts:
            if part.count:
                if not isinstance(part, SegmentPart):
                    return None
                parts.append(part)
        if not parts:
            return None
        found = []
        for part in parts:
            hit = part.graph_candidates(queries, k)
            if hit is None:
                return None
            found.append(hit)
        out = []
        for qi in range(len(queries)):
            best = self._single_graph(parts[0], *found[0][qi], k) if len(parts) == 1 else None
            if best is None:
                best = self._merge_one(queries[qi], k, [(p, f[qi][0], graph_distances(self.space, f[qi][1]))
                                                        for p, f in zip(parts, found, strict=True)])
            out.append(self.materialize([(p, r) for _, p, r in best], include, [d for d, _, _ in best]))
        return out

    def _single_graph(self, part: SegmentPart, rows: np.ndarray, dists: np.ndarray,
                      k: int) -> list[tuple[float, Part, int]] | None:
        """One graph's answer to one query (nearest first) as _merge_one gives it, in plain
        Python (a few numbers do not need numpy's per-call cost); None when a distance needs
        scoring."""
        dist = dists.tolist()
        if not usable_distances(self.space, dist):
            return None
        end = min(k, len(dist))
        while end < len(dist) and dist[end] == dist[end - 1]:
            end += 1  # a candidate past the k-th that ties with it may be the older record
        dist, at = dist[:end], rows[:end].tolist()
        if len(set(dist)) < len(dist):  # a tie (hnswlib returns them in no set order): older first
            ords = part.ordinals_at(rows[:end]).tolist()
            order = sorted(range(end), key=lambda i: (dist[i], ords[i]))
            at, dist = [at[i] for i in order], [dist[i] for i in order]
        return [(d, part, r) for d, r in zip(dist[:k], at[:k], strict=True)]

    def _parts_query(self, queries: np.ndarray, n_results: int, where: dict | None, where_document: dict | None,
                     ids: list[str] | None, include: Include, as_of: int | None) -> list[Records]:
        """Every part searched with its mask (filters, ids, read level), candidates merged."""
        masks = self._query_masks(where, where_document, ids, as_of)
        # One search call per part for all query rows (hnswlib and numpy batch well).
        found = [(part, *part.search(self.space, queries, n_results, mask)) for part, mask in masks]
        results = []
        for qi in range(len(queries)):
            hits = self._merge_one(queries[qi], n_results, [(part, rows[qi], dists[qi]) for part, rows, dists in found])
            results.append(self.materialize([(p, r) for _, p, r in hits], include, [d for d, _, _ in hits]))
        return results

    def sparse_query(self, key: str, indices: list[int], values: list[float], n_results: int,
                     where: dict | None, where_document: dict | None, ids: list[str] | None,
                     include: Include, as_of: int | None = None) -> Records:
        """The ``n_results`` live records whose sparse vector under ``key`` scores best against the
        query, best first. The score is Chroma's ``1 - dot``; a record sharing no dimension with
        the query is not a candidate. Exact: each part gives its own top ``n_results`` (ties
        included, pruned by max-score bounds: segments/sparse_topk.py), merged here."""
        owners: list[tuple[Part, np.ndarray]] = []
        scores, ordinals = [], []
        for part, mask in self._query_masks(where, where_document, ids, as_of):
            found, dots = part.sparse_top(key, indices, values, n_results, mask)
            if len(found):
                owners.append((part, found))
                scores.append(1.0 - dots)
                ordinals.append(part.ordinals_at(found))
        if not owners:
            return self.materialize([], include, [])
        score = np.concatenate(scores)
        order = np.lexsort((np.concatenate(ordinals), score))[:n_results]  # ties: older first
        which = np.repeat(np.arange(len(owners)), [len(f) for _, f in owners])[order]
        at = np.concatenate([f for _, f in owners])[order]
        hits = [(owners[w][0], int(r)) for w, r in zip(which.tolist(), at.tolist(), strict=True)]
        return self.materialize(hits, include, score[order].tolist())

    def _query_masks(
        self, where: dict | None, where_document: dict | None, ids: list[str] | None, as_of: int | None = None
    ) -> list[tuple[Part, np.ndarray]]:
        out = []
        id_rows: dict[int, list[int]] | None = None
        if ids is not None:
            id_rows = {}
            locate = self._locator(as_of)
            for id_ in ids:
                loc = locate(id_)
                if loc is not None:
                    id_rows.setdefault(id(loc[0]), []).append(loc[1])
        for part in self.parts:
            if part.count == 0:
                continue
            mask = visible(part, as_of)
            if id_rows is not None:
                only = np.zeros(part.count, dtype=bool)
                only[id_rows.get(id(part), [])] = True
                mask = mask & only  # not in place: a segment's alive() is shared and read-only
            if (where or where_document) and mask.any():
                mask = mask & part.match(where, where_document)
            if mask.any():
                out.append((part, mask))
        return out

    def _merge_one(self, q: np.ndarray, k: int,
                   found: list[tuple[Part, np.ndarray, np.ndarray]]) -> list[tuple[float, Part, int]]:
        """The k nearest of every part's candidates for one query, as (distance, part, row).

        A candidate a segment's graph found comes with hnswlib's distance (what Chroma
        returns); the others (log tail rows, exact searches: distance inf) are scored here from
        the stored vectors, all in one distance call (one normalisation of the query, one
        product), and everything is ranked with one lexsort, ties older record first. Reading
        and re-scoring the candidates a graph had already scored was a third of an indexed
        query's CPU.
        """
        parts: list[Part] = []
        rows_of: list[np.ndarray] = []
        dists_of: list[np.ndarray] = []
        for part, rows, dists in found:
            keep = rows >= 0
            if not keep.all():
                rows, dists = rows[keep], dists[keep]
            if rows.size:
                parts.append(part)
                rows_of.append(rows)
                dists_of.append(dists)
        if not parts:
            return []
        sizes = [len(r) for r in rows_of]
        rows = np.concatenate(rows_of) if len(parts) > 1 else rows_of[0]
        dist = np.concatenate(dists_of) if len(parts) > 1 else dists_of[0]
        owner = np.repeat(np.arange(len(parts)), sizes)
        todo = ~np.isfinite(dist)
        if todo.any():
            dist = np.array(dist, dtype=np.float32)
            at = [np.flatnonzero(todo & (owner == pi)) for pi in range(len(parts))]
            vectors = [parts[pi].vectors_at(rows[a]) for pi, a in enumerate(at) if a.size]
            dist[np.concatenate(at)] = pair_distances(self.space, q, np.concatenate(vectors))
        ords = np.concatenate([p.ordinals_at(r) for p, r in zip(parts, rows_of, strict=True)])
        best = np.lexsort((ords, dist))[:k]  # ties: older record first
        return [(float(dist[i]), parts[owner[i]], int(rows[i])) for i in best.tolist()]


def _by_part(locs: list[tuple[Part, int]]) -> list[tuple[Part, np.ndarray, np.ndarray]]:
    """Group (part, row) pairs by part: (part, positions in ``locs``, rows), parts in first-seen order."""
    groups: dict[int, tuple[Part, list[int], list[int]]] = {}
    for j, (part, row) in enumerate(locs):
        g = groups.get(id(part))
        if g is None:
            g = groups[id(part)] = (part, [], [])
        g[1].append(j)
        g[2].append(row)
    return [(p, np.asarray(at, dtype=np.int64), np.asarray(rows, dtype=np.int64)) for p, at, rows in groups.values()]


def _records_of(part: Part, rows: np.ndarray) -> tuple[list, list, list]:
    """(documents, metadata, uris) of ``rows`` of ``part``: a segment decodes them column by
    column (a replay of 10k updates decoded 10k JSON texts one at a time)."""
    if isinstance(part, SegmentPart):
        docs, metas, uris = part.records_at(rows, True, True, True)
        assert docs is not None and metas is not None and uris is not None
        return docs, metas, uris
    recs = [part.record_at(r) for r in rows.tolist()]
    return [r[0] for r in recs], [r[1] for r in recs], [r[2] for r in recs]


def _pick(column: list | None, rows: list[int], every: bool) -> list:
    """``column``'s entries at ``rows`` (a new list; all of them when ``every``), or Nones."""
    if column is None:
        return [None] * len(rows)
    return list(column) if every else [column[i] for i in rows]
