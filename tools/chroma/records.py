"""Rebuild a collection's records as Chroma's ``get`` returns them: SQLite tables plus the log tail.

Chroma keeps three views of a collection: the metadata segment (SQLite ``embeddings`` and
``embedding_metadata*`` tables, complete up to its ``max_seq_id``), the HNSW segment
(vectors, complete up to its own ``max_seq_id``) and the log (``embeddings_queue``) holding
every operation newer than the older of the two. Chroma replays the log into each view on
first read; this module does the same replay, with Chroma's semantics: an add of an existing
id is ignored, updates merge metadata per key (a null deletes the key), upserts insert or
update, deletes remove.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sedimentdb.tools.chroma.hnsw_files import HnswVectors

ADD, UPDATE, UPSERT, DELETE = 0, 1, 2, 3
DOCUMENT_KEY = "chroma:document"
URI_KEY = "chroma:uri"


@dataclass
class LogRow:
    """One row of ``embeddings_queue`` for a collection."""

    seq_id: int
    op: int
    id: str
    vector: np.ndarray | None
    metadata: dict[str, Any] | None


def decode_value(s: Any, i: Any, f: Any, b: Any) -> Any:
    """The metadata value of a (string, int, float, bool) column quadruple, in Chroma's read order."""
    if s is not None:
        return s
    if i is not None:
        return int(i)
    if f is not None:
        return float(f)
    if b is not None:
        return bool(b)
    return None


@dataclass
class MetadataView:
    """The metadata segment: id -> stored key/value map (document and uri included), in offset order."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, row: LogRow) -> None:
        """Apply one log operation the way Chroma's SQLite metadata writer does."""
        present = row.id in self.rows
        if row.op == DELETE:
            self.rows.pop(row.id, None)
        elif row.op == ADD:
            if not present:
                self.rows[row.id] = _merged({}, row.metadata)
        elif row.op == UPDATE:
            if present:
                self.rows[row.id] = _merged(self.rows[row.id], row.metadata)
        elif row.op == UPSERT:
            self.rows[row.id] = _merged(self.rows.get(row.id, {}), row.metadata)


def _merged(stored: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(stored)
    for key, value in (update or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@dataclass
class VectorView:
    """The HNSW segment: id -> vector as Chroma's get returns it (see :meth:`finish`).

    Vectors in the index stay in its files (``base``, ``row``: id -> live element) until
    :meth:`matrix` copies them out once; only those the log replaces or adds are held one by one.
    """

    cosine: bool = False
    base: HnswVectors | None = None
    normalized: bool = False  # the index stores normalised vectors (cosine)
    row: dict[str, int] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    from_log: set[str] = field(default_factory=set)

    def __contains__(self, rid: str) -> bool:
        return rid in self.row or rid in self.vectors

    def ids(self) -> list[str]:
        """Every id with a vector."""
        return [*self.row, *self.vectors]

    def apply(self, row: LogRow) -> None:
        """Apply one log operation the way Chroma's local HNSW writer does."""
        present = row.id in self
        if row.op == DELETE:
            self.row.pop(row.id, None)
            self.vectors.pop(row.id, None)
            self.from_log.discard(row.id)
            return
        if row.vector is None or (row.op == ADD and present) or (row.op == UPDATE and not present):
            return
        self.row.pop(row.id, None)
        self.vectors[row.id] = row.vector
        self.from_log.add(row.id)

    def finish(self) -> None:
        """Give the vectors that came from the log the cosine index's round trip (in one batch)."""
        ids = [i for i in self.from_log if i in self.vectors]
        if self.cosine and ids:
            done = cosine_roundtrip(np.stack([self.vectors[i] for i in ids]))
            for k, i in enumerate(ids):
                self.vectors[i] = done[k]
        self.from_log.clear()

    def matrix(self, ids: list[str], dim: int) -> np.ndarray:
        """The vectors of ``ids`` (all present), in that order, as one float32 array."""
        rows = self.row
        if self.base is not None and not self.vectors:  # all from the index: gather in get() order
            order = np.fromiter(map(rows.__getitem__, ids), dtype=np.int64, count=len(ids))
            return self.base.gather(order, self.normalized)
        out = np.empty((len(ids), dim), dtype=np.float32)
        at = [k for k, i in enumerate(ids) if i in rows]
        if at and self.base is not None:
            out[at] = self.base.gather(np.array([rows[ids[k]] for k in at], dtype=np.int64), self.normalized)
        for k, i in enumerate(ids):
            if i not in rows:
                out[k] = self.vectors[i]
        return out


def cosine_roundtrip(vectors: np.ndarray) -> np.ndarray:
    """What a cosine index gives back for ``vectors``: hnswlib's normalise, then times the norm.

    hnswlib (``normalize_vector``) sums squares in float32 left to right, takes ``sqrtf``,
    multiplies by ``1 / (length + 1e-30f)``; ``getDataByLabel`` multiplies by the length again.
    The loop over dimensions keeps that exact summation order (numpy's sum would pair terms).
    """
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    acc = np.zeros(v.shape[0], dtype=np.float32)
    for d in range(v.shape[1]):
        col = v[:, d]
        acc += col * col
    length = np.sqrt(acc, dtype=np.float32)
    inv = np.float32(1.0) / (length + np.float32(1e-30))
    return ((v * inv[:, None]) * length[:, None]).astype(np.float32, copy=False)


def parse_log_metadata(text: str | None) -> dict[str, Any] | None:
    """The update-metadata map of a log row (document under ``chroma:document``), or None."""
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"log metadata is a {type(value).__name__}, not an object")
    return value


def split_stored(stored: dict[str, Any], python_era: bool = False, reserved: list[str] | None = None
                 ) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(document, uri, user metadata or None) from a stored key/value map, as Chroma's get splits it.

    ``python_era``: 0.x returns None, not ``{}``, when only reserved keys were stored.
    ``reserved``: every ``chroma:`` key any record of the collection holds, if known (see
    :func:`split_all`); otherwise this map's keys are scanned for them.
    """
    # Chroma takes the document out first; a map left empty is None, otherwise the uri and any
    # other reserved key are filtered out, which can leave {} (a record with only a uri).
    # ``stored`` is consumed (the reader's own copy): no per-record dict copies at 100k records.
    doc = stored.get(DOCUMENT_KEY)
    if isinstance(doc, str):
        del stored[DOCUMENT_KEY]
    else:
        doc = None
    uri = stored.get(URI_KEY)
    if not stored:
        return doc, None, None
    for k in [k for k in stored if k.startswith("chroma:")] if reserved is None else reserved:
        stored.pop(k, None)
    if python_era and not stored:
        return doc, uri if isinstance(uri, str) else None, None
    return doc, uri if isinstance(uri, str) else None, stored


def split_all(maps: list[dict[str, Any]], python_era: bool = False
              ) -> tuple[list[str | None], list[str | None], list[dict[str, Any] | None]]:
    """:func:`split_stored` of every map (consumed), as three columns. The ``chroma:`` keys are
    found once for all maps (a set union in C), not by scanning each map's keys."""
    keys: set[str] = set().union(*maps)
    reserved = sorted(k for k in keys if k.startswith("chroma:") and k != DOCUMENT_KEY)
    if DOCUMENT_KEY in keys:
        reserved.append(DOCUMENT_KEY)  # one that is not a string stays after the split: drop it
    others = [k for k in reserved if k != DOCUMENT_KEY]
    if others or python_era:
        out = [split_stored(stored, python_era, reserved) for stored in maps]
        return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]
    # The usual collection: no reserved key but the document (so no uri either). The same
    # result as split_stored, inline: documents popped; a map left empty is no metadata.
    docs: list[str | None] = [stored.pop(DOCUMENT_KEY, None) for stored in maps]
    metas: list[dict[str, Any] | None] = [stored or None for stored in maps]
    for k, doc in enumerate(docs):
        if doc is not None and type(doc) is not str:  # not a document: split_stored's rule
            maps[k][DOCUMENT_KEY] = doc
            docs[k], _, metas[k] = split_stored(maps[k], python_era, reserved)
    return docs, [None] * len(maps), metas
