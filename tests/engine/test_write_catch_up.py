"""The bound on rows in no graph: a write past ``max_unindexed_rows`` indexes the backlog on
its own thread before it returns (engine/indexer.py: catch_up), so no query scans more
than about that many tail rows.

Most tests run without background work, so only the writer indexes and every count is exact.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sedimentdb.config import Settings
from sedimentdb.engine.database import DEFAULT_DATABASE as D
from sedimentdb.engine.database import DEFAULT_TENANT as T
from sedimentdb.engine.database import Database
from sedimentdb.engine.indexer import collection_backlog
from sedimentdb.engine.options import DEFAULT_MAX_UNINDEXED_ROWS, DatabaseOptions
from sedimentdb.engine.rwlock import ReadWriteLock

DIM = 32


def _db(tmp_path, **kw) -> Database:
    kw.setdefault("background_compaction", False)
    opts = DatabaseOptions(durability="off", compact_tail_records=1_000_000, **kw)
    return Database.open(str(tmp_path / "db"), opts)


def _clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(32, dim))
    return (centers[rng.integers(0, 32, n)] + 1.0 * rng.normal(size=(n, dim))).astype(np.float32)


def _collection(db: Database) -> str:
    return db.create_collection(T, D, "c", metadata={"hnsw:space": "cosine", "hnsw:search_ef": 200}).id


def _backlog(db: Database, cid: str) -> int:
    with db.lock:
        return collection_backlog(db.collections[cid])


def _ids(lo: int, hi: int) -> list[str]:
    return [f"r{i}" for i in range(lo, hi)]


def test_a_write_past_the_bound_leaves_at_most_the_bound_unindexed(tmp_path):
    with _db(tmp_path, max_unindexed_rows=500) as db:
        cid = _collection(db)
        vecs = _clustered(4000)
        seen = []
        for s in range(0, 4000, 200):
            db.add(cid, _ids(s, s + 200), vecs[s:s + 200])
            seen.append(_backlog(db, cid))
            assert seen[-1] <= 500
        # Below the bound writes do not index (200, 400, then 600 > 500 is indexed away).
        assert seen[:3] == [200, 400, 0]
        assert db.count(cid) == 4000
        assert db.collections[cid].active.graph.indexed >= 3500


def test_one_batch_bigger_than_the_bound_is_indexed_whole(tmp_path):
    with _db(tmp_path, max_unindexed_rows=100) as db:
        cid = _collection(db)
        db.add(cid, _ids(0, 3000), _clustered(3000))
        assert _backlog(db, cid) == 0


def test_updates_and_upserts_are_bounded_the_same_way(tmp_path):
    with _db(tmp_path, max_unindexed_rows=300) as db:
        cid = _collection(db)
        vecs = _clustered(2000)
        db.add(cid, _ids(0, 2000), vecs)
        assert _backlog(db, cid) == 0
        moved = _clustered(2000, seed=3)
        for s in range(0, 1000, 250):
            db.update(cid, _ids(s, s + 250), moved[s:s + 250])
            assert _backlog(db, cid) <= 300
        for s in range(1000, 2000, 250):
            db.upsert(cid, _ids(s, s + 250), moved[s:s + 250], metadatas=[{"k": 1}] * 250)
            assert _backlog(db, cid) <= 300
        # Each moved record is found under its new vector, its old version shadowed.
        for i in (0, 777, 1999):
            assert db.query(cid, moved[i:i + 1], 1)[0].ids == [f"r{i}"]


def test_a_follower_applying_shipped_records_is_bounded_the_same_way(tmp_path):
    with _db(tmp_path, max_unindexed_rows=0) as primary:
        cid = _collection(primary)
        start = primary.last_lsn
        vecs = _clustered(3000)
        for s in range(0, 3000, 500):
            primary.add(cid, _ids(s, s + 500), vecs[s:s + 500])
        shipped = list(primary.wal.replay(1))
    opts = DatabaseOptions(durability="off", background_compaction=False, compact_tail_records=1_000_000,
                           max_unindexed_rows=400)
    with Database.open(str(tmp_path / "follower"), opts) as follower:
        # A fresh directory already logged its default tenant and database: ship what follows.
        follower.apply_replicated([(lsn, r) for lsn, r in shipped if lsn > follower.last_lsn])
        assert start and follower.count(cid) == 3000
        assert _backlog(follower, cid) <= 400


def test_zero_never_indexes_on_the_write_path(tmp_path):
    with _db(tmp_path, max_unindexed_rows=0) as db:
        cid = _collection(db)
        db.add(cid, _ids(0, 5000), _clustered(5000))
        assert _backlog(db, cid) == 5000


def test_the_default_bound_holds_with_background_work_on(tmp_path):
    with _db(tmp_path, background_compaction=True) as db:
        assert db.options.max_unindexed_rows == DEFAULT_MAX_UNINDEXED_ROWS
        cid = _collection(db)
        vecs = _clustered(8000)
        for s in range(0, 8000, 1000):
            db.add(cid, _ids(s, s + 1000), vecs[s:s + 1000])
            assert _backlog(db, cid) <= DEFAULT_MAX_UNINDEXED_ROWS


def _true_topk(vecs: np.ndarray, q: np.ndarray, k: int) -> list[list[int]]:
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    sims = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ unit.T
    return [np.argsort(-row, kind="stable")[:k].tolist() for row in sims]


def test_queries_during_a_writers_catch_up_are_right(tmp_path):
    with _db(tmp_path, max_unindexed_rows=200) as db:
        cid = _collection(db)
        vecs = _clustered(6000)
        db.add(cid, _ids(0, 1000), vecs[:1000])
        graph = db.collections[cid].active.graph
        q = _clustered(40, seed=11)
        truth = _true_topk(vecs, q, 10)
        unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        writer = threading.Thread(target=db.add, args=(cid, _ids(1000, 6000), vecs[1000:]))
        results, mid = [], 0
        writer.start()
        try:
            while writer.is_alive() or not results:
                if db.count(cid) < 6000:  # the batch is not applied yet: nothing to check
                    time.sleep(0.001)
                    continue
                before = graph.indexed
                got = db.query(cid, q, 10)
                mid += before < 6000  # ran while the writer was indexing
                results.append(got)
        finally:
            writer.join()
        assert mid > 0, "no query ran while the writer was indexing"
        for got in results:
            rec = np.mean([len({int(i[1:]) for i in r.ids} & set(t)) / 10 for r, t in zip(got, truth, strict=True)])
            assert rec >= 0.97
            for qi, r in enumerate(got):  # distances exact, nearest first, each id once
                assert len(set(r.ids)) == len(r.ids) == 10
                rows = [int(i[1:]) for i in r.ids]
                assert r.distances == sorted(r.distances)
                want = 1 - unit[rows] @ (q[qi] / np.linalg.norm(q[qi]))
                assert np.allclose(r.distances, want, atol=1e-5)
        # Each record is its own nearest neighbour, indexed or not.
        for i in (0, 2500, 5999):
            assert db.query(cid, vecs[i:i + 1], 1)[0].ids == [f"r{i}"]


def test_close_during_a_writers_catch_up_returns_within_a_second(tmp_path):
    db = _db(tmp_path, max_unindexed_rows=100)
    cid = _collection(db)
    vecs = _clustered(30_000, dim=384)
    db.add(cid, _ids(0, 1), vecs[:1])
    graph = db.collections[cid].active.graph
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(db.add(cid, _ids(1, 30_000), vecs[1:]))
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever it was
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 60
    while graph.indexed < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert graph.indexed >= 500, "the writer never started indexing"
    started = time.monotonic()
    db.close()
    closed_in = time.monotonic() - started
    writer.join(timeout=5)
    assert closed_in < 1.0
    assert not writer.is_alive()
    assert isinstance(outcome[0], int)  # the write itself was durable before it indexed
    assert graph.indexed < 30_000  # it stopped part way
    with _db(tmp_path, max_unindexed_rows=0) as again:
        assert again.count(cid) == 30_000


@pytest.mark.parametrize("bad", [-1, 1.5, "2048", True, None])
def test_max_unindexed_rows_must_be_a_whole_number_not_below_zero(bad):
    with pytest.raises(ValueError, match="max_unindexed_rows"):
        DatabaseOptions(max_unindexed_rows=bad)


def test_the_setting_reaches_the_engine(monkeypatch):
    assert Settings().engine_options().max_unindexed_rows == DEFAULT_MAX_UNINDEXED_ROWS
    monkeypatch.setenv("SEDIMENT_MAX_UNINDEXED_ROWS", "0")
    assert Settings().engine_options().max_unindexed_rows == 0
    assert Settings(sediment_max_unindexed_rows=700).engine_options().max_unindexed_rows == 700


def test_readers_that_waited_through_a_step_go_before_the_next_one():
    lock = ReadWriteLock()
    steps_done = []
    holding = threading.Event()

    def steps() -> None:
        for i in range(20):  # a writer catching up: step after step, no pause between
            with lock.write():
                holding.set()
                time.sleep(0.01)
                steps_done.append(i)

    writer = threading.Thread(target=steps)
    writer.start()
    holding.wait(5)
    with lock.read():
        entered_after = len(steps_done)
    writer.join()
    assert entered_after <= 3, f"the reader waited for {entered_after} steps"


def test_a_backlog_replayed_at_open_is_not_paid_for_by_one_write(tmp_path):
    """After a reopen the whole unflushed load is a tail in no graph; a one-row write indexes
    its share (2 × its rows + the bound, in steps), not all of it, and the writes after it
    drain the rest."""
    with _db(tmp_path, max_unindexed_rows=0) as db:  # logged at log speed, nothing indexed
        cid = _collection(db)
        db.add(cid, _ids(0, 3000), _clustered(3000))
    with _db(tmp_path, max_unindexed_rows=100) as db:
        assert _backlog(db, cid) == 3000
        db.add(cid, ["new0"], _clustered(1, seed=9))
        after_one = _backlog(db, cid)
        # At most one step (STEP × cores rows) past its budget of 2 × 1 + 100 rows.
        assert 3001 - after_one <= 102 + 64 * 8
        assert after_one > 100
        for i in range(1, 200):
            if _backlog(db, cid) <= 100:
                break
            db.add(cid, [f"new{i}"], _clustered(1, seed=9 + i))
        assert _backlog(db, cid) <= 100
        assert db.count(cid) == 3000 + i
