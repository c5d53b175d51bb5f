"""The deterministic operation stream of the kill -9 harness, shared by writer and checker.

Operation ``i`` of stream ``seed`` is a pure function of ``(seed, i)``, so the checker can
rebuild exactly what the killed writer did from the indices it acknowledged.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from sedimentdb.engine.options import DatabaseOptions

DIM = 8
ID_POOL = 400
COLLECTION = "kill"


def options() -> DatabaseOptions:
    """Durability full, compaction on, small thresholds so compactions and merges happen often."""
    return DatabaseOptions(durability="full", background_compaction=True, compact_tail_records=60,
                           compact_tail_age_s=0.2, max_segments_per_collection=3,
                           max_segment_records=150, wal_roll_bytes=64 * 1024)


def make_op(seed: int, i: int) -> dict[str, Any]:
    """Operation ``i`` of stream ``seed``; op 0 creates the collection. A ``fork`` op forks it
    into ``fork<i>`` (a snapshot that later ops leave alone while the source compacts on)."""
    if i == 0:
        return {"kind": "create"}
    rng = np.random.default_rng([seed, i])
    r = rng.random()
    kind = ("add" if r < 0.4 else "upsert" if r < 0.6 else "update" if r < 0.75 else
            "delete" if r < 0.9 else "delete_where" if r < 0.95 else "fork" if r < 0.97 else "compact")
    n = int(rng.integers(1, 24))
    ids = [f"id{x}" for x in rng.choice(ID_POOL, n, replace=False)]
    op: dict[str, Any] = {"kind": kind, "ids": ids, "i": i}
    if kind in ("add", "upsert", "update"):
        with_vecs = kind != "update" or rng.random() < 0.5
        op["vecs"] = rng.normal(size=(n, DIM)).astype(np.float32) if with_vecs else None
        op["docs"] = [f"doc {i}/{k} é\u2603" for k in range(n)]
        op["metas"] = [{"g": int(rng.integers(0, 5)), "i": i, "f": float(rng.random())} for _ in range(n)]
    if kind == "delete_where":
        op["g"] = int(rng.integers(0, 5))
    return op


def run_op(db: Any, cid: str, op: dict[str, Any]) -> None:
    """Perform ``op`` on a Database."""
    from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT

    kind = op["kind"]
    if kind == "create":
        db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, COLLECTION, id=cid)
    elif kind in ("add", "upsert", "update"):
        getattr(db, kind)(cid, op["ids"], op["vecs"], documents=op["docs"], metadatas=op["metas"])
    elif kind == "delete":
        db.delete(cid, ids=op["ids"])
    elif kind == "delete_where":
        db.delete(cid, where={"g": op["g"]})
    elif kind == "compact":
        db.compact()
    elif kind == "fork":
        name = f"fork{op['i']}"
        db.fork_collection(cid, name, id=str(uuid.uuid5(uuid.NAMESPACE_URL, "sediment-crash/" + name)))


def apply_op(model: Any, cid: str, op: dict[str, Any]) -> None:
    """Apply ``op`` to a DbModel."""
    kind = op["kind"]
    if kind == "create":
        model.create(COLLECTION)
    elif kind in ("add", "upsert", "update"):
        model.write(kind, cid, op["ids"], op["vecs"], op["docs"], op["metas"])
    elif kind == "delete":
        model.delete(cid, op["ids"])
    elif kind == "delete_where":
        rows = model.colls[cid].rows
        model.delete(cid, [k for k, (_, _, m) in rows.items() if m and m.get("g") == op["g"]])
    elif kind == "fork":
        model.fork(cid, f"fork{op['i']}")
