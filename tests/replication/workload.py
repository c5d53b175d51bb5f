"""A random workload on a primary that remembers the primary's digest after every LSN.

The primary itself is the model: ``digests[lsn]`` is the state digest taken right after the
record with that LSN was applied, so a restore or replica at an LSN must reproduce it exactly.
``snapshots[lsn]`` additionally keeps the full content (ids, vectors, documents, metadata) at
a few LSNs, for a field-by-field comparison that does not trust the digest.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.replication import state_digest

DIM = 4
ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True, distances=False)


def content(db: Any) -> dict[str, Any]:
    """Everything a database holds, as comparable Python values."""
    out: dict[str, Any] = {}
    for info in sorted(db.catalog.collections.values(), key=lambda c: c.id):
        recs = db.get(info.id, include=ALL)
        rows = {}
        for i, rid in enumerate(recs.ids):
            vec = recs.embeddings[i].tolist() if recs.embeddings is not None else None
            rows[rid] = (vec, recs.documents[i], recs.metadatas[i], recs.uris[i])
        out[info.id] = (info.name, info.metadata, rows)
    return out


class Workload:
    """Random writes to ``db``; ``step`` does one operation (and records digests)."""

    def __init__(self, db: Any, seed: int, keep_content_every: int = 0) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.cols: list[str] = []
        self.digests: dict[int, str] = {db.last_lsn: state_digest(db).digest}
        self.contents: dict[int, Any] = {}
        self.keep_every = keep_content_every
        self.n = 0

    def _record(self) -> None:
        lsn = self.db.last_lsn
        self.digests[lsn] = state_digest(self.db).digest
        self.n += 1
        if self.keep_every and self.n % self.keep_every == 0:
            self.contents[lsn] = content(self.db)

    def step(self) -> None:
        """One random operation (catalog changes, forks included, and writes)."""
        r = self.rng.random()
        if not self.cols or r < 0.04:
            info = self.db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, f"c{self.rng.randrange(10**9)}",
                                             metadata={"n": self.rng.randrange(5)})
            self.cols.append(info.id)
        elif r < 0.06 and len(self.cols) > 1:
            self.db.delete_collection(self.cols.pop(self.rng.randrange(len(self.cols))))
        elif r < 0.08:
            self.db.modify_collection(self.rng.choice(self.cols), metadata={"m": self.rng.random()})
        elif r < 0.10:  # a fork: followers and restores must reproduce it (and its shared segments)
            info = self.db.fork_collection(self.rng.choice(self.cols), f"f{self.rng.randrange(10**9)}")
            self.cols.append(info.id)
        else:
            self._data_op(self.rng.choice(self.cols))
        self._record()

    def _ids(self, k: int) -> list[str]:
        return list(dict.fromkeys(f"id{self.rng.randrange(60)}" for _ in range(k)))

    def _data_op(self, cid: str) -> None:
        ids = self._ids(self.rng.randrange(1, 6))
        n = len(ids)
        vecs = self.nrng.standard_normal((n, DIM)).astype(np.float32)
        docs = [self.rng.choice([None, "a", "b c", "ünï", "x" * self.rng.randrange(40)]) for _ in ids]
        metas = [self.rng.choice([None, {"k": self.rng.randrange(3)}, {"f": 1.5, "s": "t"}, {"b": True}]) for _ in ids]
        op = self.rng.random()
        if op < 0.45:
            self.db.add(cid, ids, vecs, documents=docs, metadatas=metas)
        elif op < 0.65:
            self.db.upsert(cid, ids, vecs, documents=docs, metadatas=metas)
        elif op < 0.8:
            self.db.update(cid, ids, None, documents=docs, metadatas=metas)
        elif op < 0.9:
            self.db.delete(cid, ids=ids)
        else:
            self.db.delete(cid, where={"k": self.rng.randrange(3)})
