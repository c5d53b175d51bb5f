"""The log tail as an index: its HNSW graph, filled in steps by the tail indexer, and its
columnwise filters.

The indexer thread runs only with background work on; these tests drive it by hand
(``db.indexer.step()``) on databases without background work, so every state is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE as D
from sedimentdb.engine.database import DEFAULT_TENANT as T
from sedimentdb.engine.database import Database
from sedimentdb.engine.filters import compile_where, compile_where_document
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.parts import GRAPH_FROM_ROWS, TailPart
from sedimentdb.engine.tailfilter import BLOCK, SUB_BLOCK, TailFilter

DIM = 32


def _db(tmp_path, **kw) -> Database:
    opts = DatabaseOptions(durability="off", background_compaction=False, compact_tail_records=1_000_000, **kw)
    return Database.open(str(tmp_path / "db"), opts)


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(32, DIM))
    return (centers[rng.integers(0, 32, n)] + 1.0 * rng.normal(size=(n, DIM))).astype(np.float32)


def _load(db: Database, n: int, space: str = "cosine") -> tuple[str, np.ndarray]:
    # search ef 200: on these low-dimensional clusters raw hnswlib reaches 0.98 at ef 100.
    cid = db.create_collection(T, D, "c", metadata={"hnsw:space": space, "hnsw:search_ef": 200}).id
    vecs = _clustered(n)
    for s in range(0, n, 500):
        db.add(cid, [f"r{i}" for i in range(s, min(n, s + 500))], vecs[s:s + 500],
               metadatas=[{"cat": f"c{i % 10}", "i": i} for i in range(s, min(n, s + 500))],
               documents=[f"doc {i} {'even' if i % 2 == 0 else 'odd'}" for i in range(s, min(n, s + 500))])
    return cid, vecs


def _index_all(db: Database) -> int:
    steps = 0
    while db.indexer.step():
        steps += 1
    return steps


def _tail(db: Database, cid: str) -> TailPart:
    return db.collections[cid].active


def _exact(vecs: np.ndarray, q: np.ndarray, k: int, alive: np.ndarray | None = None) -> list[set[int]]:
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    sims = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ unit.T
    if alive is not None:
        sims[:, ~alive] = -np.inf
    return [set(np.argsort(-row)[:k].tolist()) for row in sims]


def _recall(db: Database, cid: str, q: np.ndarray, truth: list[set[int]], **kw) -> float:
    got = db.query(cid, q, 10, **kw)
    return float(np.mean([len({int(i[1:]) for i in r.ids} & t) / len(t) for r, t in zip(got, truth, strict=True)]))


def test_indexed_tail_is_searched_through_its_graph_with_high_recall(tmp_path):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 6000)
        assert _index_all(db) > 0
        tail = _tail(db, cid)
        assert tail.graph is not None and tail.graph.indexed == 6000 and tail.unindexed() == 0
        q = _clustered(50, seed=5)
        assert _recall(db, cid, q, _exact(vecs, q, 10)) >= 0.99


def test_rows_logged_after_the_last_step_are_scanned(tmp_path):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 3000)
        _index_all(db)
        extra = _clustered(700, seed=9)
        db.add(cid, [f"r{3000 + i}" for i in range(700)], extra)
        assert _tail(db, cid).unindexed() == 700
        # Each new row is its own nearest neighbour: found although it is in no graph yet.
        for i in (0, 350, 699):
            assert db.query(cid, extra[i:i + 1], 1)[0].ids == [f"r{3000 + i}"]


def test_updates_and_deletes_in_an_indexed_tail_shadow_the_old_versions(tmp_path):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 4000)
        _index_all(db)
        far = np.zeros((1, DIM), dtype=np.float32)
        far[0, 0] = 50.0  # a direction no other record points in
        db.update(cid, ["r10"], far)  # the old version stays in the graph, dead
        db.delete(cid, ["r20"])
        for row in (10, 20):
            hits = db.query(cid, vecs[row:row + 1], 5)[0].ids
            assert f"r{row}" not in hits
        assert db.query(cid, far, 1)[0].ids == ["r10"]
        _index_all(db)  # the new version of r10 is now in the graph as well
        res = db.query(cid, far, 3)[0]
        assert res.ids[0] == "r10" and res.ids.count("r10") == 1


def test_filtered_queries_on_an_indexed_tail(tmp_path):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 6000)
        _index_all(db)
        q = _clustered(30, seed=6)
        cats = np.array([i % 10 == 3 for i in range(6000)])
        assert _recall(db, cid, q, _exact(vecs, q, 10, cats), where={"cat": "c3"}) >= 0.99
        broad = np.array([i % 10 != 3 for i in range(6000)])
        assert _recall(db, cid, q, _exact(vecs, q, 10, broad), where={"cat": {"$ne": "c3"}}) >= 0.99


def test_small_tails_are_scanned_exactly(tmp_path):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, GRAPH_FROM_ROWS - 1)
        _index_all(db)
        q = _clustered(20, seed=7)
        assert _recall(db, cid, q, _exact(vecs, q, 10)) == 1.0


def test_a_flush_adopts_the_tails_graph(tmp_path, monkeypatch):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 3000)
        _index_all(db)

        def no_build(*_a, **_k):
            raise AssertionError("the flush built a graph although the tail had one")

        monkeypatch.setattr("sedimentdb.engine.segments.writer.build_graph", no_build)
        db.compact()
        segs = db.collections[cid].segments()
        assert len(segs) == 1 and segs[0].segment.graph is not None
        q = _clustered(30, seed=8)
        assert _recall(db, cid, q, _exact(vecs, q, 10)) >= 0.99


def test_a_flush_completes_a_partly_indexed_graph(tmp_path, monkeypatch):
    with _db(tmp_path) as db:
        cid, vecs = _load(db, 3000)
        for _ in range(5):
            db.indexer.step()
        assert 0 < _tail(db, cid).graph.indexed < 3000
        monkeypatch.setattr("sedimentdb.engine.segments.writer.build_graph",
                            lambda *_a, **_k: pytest.fail("graph built from scratch"))
        db.compact()
        q = _clustered(30, seed=8)
        assert _recall(db, cid, q, _exact(vecs, q, 10)) >= 0.99
    with Database.open(str(tmp_path / "db"), DatabaseOptions(durability="off", background_compaction=False)) as db:
        assert db.count(cid) == 3000


WHERES = [
    {"cat": "c3"},
    {"cat": {"$ne": "c3"}},
    {"i": {"$gt": 4000}},
    {"$or": [{"cat": {"$in": ["c1", "c2"]}}, {"i": {"$lte": 10}}]},
    {"$and": [{"cat": "c4"}, {"missing": {"$nin": [1]}}]},
    {"flag": True},
]


@pytest.mark.parametrize("where", WHERES)
def test_tail_filter_matches_the_reference_predicate_across_blocks(where):
    n = 2 * BLOCK + 77
    metas = [{"cat": f"c{i % 10}", "i": i, **({"flag": i % 3 == 0} if i % 7 else {})} if i % 11 else None
             for i in range(n)]
    docs = [f"doc {i}" if i % 5 else None for i in range(n)]
    filt = TailFilter()
    pred = compile_where(where)
    want = np.array([pred(m) for m in metas])
    assert np.array_equal(filt.match(metas, docs, n, where, None), want)
    dpred = compile_where_document({"$contains": "doc 1"})
    want_doc = want & np.array([dpred(d) for d in docs])
    assert np.array_equal(filt.match(metas, docs, n, where, {"$contains": "doc 1"}), want_doc)


def test_tail_filter_tests_fewer_than_a_sub_block_of_rows_one_by_one(monkeypatch):
    n = 2 * BLOCK + 3 * SUB_BLOCK + 5
    metas = [{"cat": f"c{i % 10}", "i": i} for i in range(n)]
    docs = [f"doc {i}" for i in range(n)]
    where = {"cat": "c3"}
    want = np.array([m["cat"] == "c3" for m in metas])
    one_by_one: list[int] = []
    import sedimentdb.engine.tailfilter as tf
    reference = tf._match_rows

    def counting(metadatas, documents, lo, hi, w, wd):
        one_by_one.append(hi - lo)
        return reference(metadatas, documents, lo, hi, w, wd)

    monkeypatch.setattr(tf, "_match_rows", counting)
    filt = TailFilter()
    # The tail grows between queries, as under a writer; the same filter object follows it.
    for count in (0, 1, SUB_BLOCK - 1, SUB_BLOCK, SUB_BLOCK + 1, BLOCK - 1, BLOCK, BLOCK + SUB_BLOCK + 9,
                  2 * BLOCK + 1, n):
        assert np.array_equal(filt.match(metas, docs, count, where, None), want[:count]), count
        assert np.array_equal(filt.match(metas, docs, count, None, {"$contains": "doc 1"}),
                              np.array(["doc 1" in d for d in docs[:count]], dtype=bool)), count
    assert max(one_by_one) < SUB_BLOCK
