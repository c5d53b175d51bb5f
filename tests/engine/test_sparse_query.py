"""Sparse top-k in the engine: exact against brute force, the same before and after compaction,
after merges, deletes, updates and reopen."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.segments.sparse import SparsePostings
from sedimentdb.engine.storage_errors import InvalidArgumentError

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
DIST = Include(embeddings=False, documents=False, metadatas=False, uris=False, distances=True)
KEY = "sv"


def sv(indices: list[int], values: list[float]) -> dict:
    return {"#type": "sparse_vector", "indices": indices, "values": values}


def random_sv(rng: random.Random, dims: int = 12) -> dict:
    picked = sorted(rng.sample(range(dims), rng.randint(1, 4)))
    return sv(picked, [round(rng.uniform(-1, 2), 3) for _ in picked])


def brute(records: dict[str, dict | None], q: dict, k: int) -> list[tuple[str, float]]:
    """Chroma's rule by hand: score 1 - dot over records sharing a dimension, best first."""
    scored = []
    qmap = dict(zip(q["indices"], q["values"], strict=True))
    for order, (id_, vec) in enumerate(records.items()):
        if vec is None or not set(vec["indices"]) & set(qmap):
            continue
        dot = 0.0
        for i in sorted(qmap):
            if i in vec["indices"]:
                dot += qmap[i] * vec["values"][vec["indices"].index(i)]
        scored.append((1.0 - dot, order, id_))
    scored.sort()
    return [(i, s) for s, _, i in scored[:k]]


def open_db(path) -> Database:
    return Database.open(str(path), DatabaseOptions(background_compaction=False))


def answer(db: Database, cid: str, q: dict, k: int, **kw) -> list[tuple[str, float]]:
    r = db.sparse_query(cid, KEY, q["indices"], q["values"], k, include=DIST, **kw)
    return list(zip(r.ids, r.distances or [], strict=True))


def test_sparse_query_matches_brute_force_through_tail_segments_merge_and_reopen(tmp_path):
    rng = random.Random(7)
    model: dict[str, dict | None] = {}
    db = open_db(tmp_path)
    cid = db.create_collection(T, D, "c").id
    queries = [random_sv(rng) for _ in range(6)]

    def check() -> None:
        for q in queries:
            for k in (1, 3, 50):
                got = answer(db, cid, q, k)
                want = brute(model, q, k)
                assert [i for i, _ in got] == [i for i, _ in want]
                assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-12)

    for batch in range(4):
        ids = [f"r{batch}-{j}" for j in range(10)]
        metas = [{KEY: random_sv(rng), "n": j} if j % 3 else {"n": j} for j in range(10)]
        db.add(cid, ids, np.zeros((10, 2), dtype=np.float32), None, metas)
        model.update({i: m.get(KEY) for i, m in zip(ids, metas, strict=True)})
        check()
        before = [answer(db, cid, q, 50) for q in queries]
        db.compact(cid)  # tail -> segment: bit-equal scores
        assert [answer(db, cid, q, 50) for q in queries] == before
    # deletes and an update that replaces the sparse vector
    db.delete(cid, ["r0-1", "r2-2"])
    model.pop("r0-1"), model.pop("r2-2")
    new = random_sv(rng)
    db.update(cid, ["r1-4"], None, None, [{KEY: new}])
    model.pop("r1-4")
    model["r1-4"] = new  # an update moves the record to the tail; order only breaks exact ties
    check()
    db.compact(cid)
    check()
    assert list(tmp_path.rglob("sparse.idx")), "the compactor wrote no sparse index"
    db.close()
    db = open_db(tmp_path)
    check()
    db.close()


def test_sparse_query_applies_filters_and_ids(tmp_path):
    with open_db(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        metas = [{KEY: sv([1], [float(j)]), "n": j} for j in range(6)]
        db.add(cid, [f"r{j}" for j in range(6)], np.zeros((6, 2), dtype=np.float32), None, metas)
        q = sv([1], [1.0])
        assert [i for i, _ in answer(db, cid, q, 3)] == ["r5", "r4", "r3"]
        assert [i for i, _ in answer(db, cid, q, 3, where={"n": {"$lt": 3}})] == ["r2", "r1", "r0"]
        assert [i for i, _ in answer(db, cid, q, 9, ids=["r0", "r4", "nope"])] == ["r4", "r0"]
        assert answer(db, cid, sv([9], [1.0]), 3) == []  # shares no dimension: no candidate
        with pytest.raises(InvalidArgumentError, match="2 indices and 1 values"):
            db.sparse_query(cid, KEY, [1, 2], [1.0], 3)


def test_postings_dots_equal_a_loop():
    rng = random.Random(3)
    metas = [{KEY: random_sv(rng, 30)} if rng.random() < 0.8 else None for _ in range(200)]
    postings = SparsePostings.build(metas, KEY)
    q = random_sv(rng, 30)
    rows, dots = postings.dots(q["indices"], q["values"])
    want = {}
    for r, m in enumerate(metas):
        if m and set(m[KEY]["indices"]) & set(q["indices"]):
            want[r] = sum(v * m[KEY]["values"][m[KEY]["indices"].index(i)]
                          for i, v in zip(q["indices"], q["values"], strict=True) if i in m[KEY]["indices"])
    assert rows.tolist() == sorted(want)
    assert dots.tolist() == pytest.approx([want[r] for r in rows.tolist()])
