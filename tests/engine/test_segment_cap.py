"""max_segment_records: outputs are split at the cap, a job rewrites about a cap of rows at
most, and segments that reached half the cap are not merged again (no churn)."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.compactor.compactor import _within_cap
from sedimentdb.engine.compactor.policy import SegmentStats, pick_inputs, segment_cap
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions

from .helpers import Model, clustered
from .test_database import assert_matches

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
CAP = 500


def _open(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False,
                                                       "max_segment_records": CAP, **kw}))


def _load(db: Database, n: int) -> tuple[str, Model, np.ndarray]:
    vecs = clustered(n, 8, seed=5)
    cid = db.create_collection(T, D, "c").id
    ids = [f"r{i}" for i in range(n)]
    metas = [{"i": i} for i in range(n)]
    db.add(cid, ids, vecs, metadatas=metas)
    model = Model("l2")
    model.add(ids, vecs, metas=metas)
    return cid, model, vecs


def test_a_flush_without_a_tail_graph_is_split_at_the_cap_in_insertion_order(tmp_path):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        cs = db.collections[cid]
        cs.hnsw = cs.active.hnsw = None  # a tail without a graph: its rows go into new graphs
        vecs = clustered(1800, 8, seed=5)
        ids = [f"r{i}" for i in range(1800)]
        db.add(cid, ids, vecs, metadatas=[{"i": i} for i in range(1800)])
        model = Model("l2")
        model.add(ids, vecs, metas=[{"i": i} for i in range(1800)])
        db.compactor.run_pass(force=True)  # the flush alone (compact() then grows them into one)
        segs = db.collections[cid].segments()
        assert [p.count for p in segs] == [500, 500, 500, 300]
        ordinals = np.concatenate([p.segment.ordinals for p in segs])
        assert np.all(np.diff(ordinals.astype(np.int64)) > 0)  # one run of insertion order
        assert_matches(db, cid, model)
        db.compact()
        assert [p.count for p in db.collections[cid].segments()] == [1800]
        assert_matches(db, cid, model)
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_a_flush_adopts_the_tail_graph_as_one_output_whatever_the_cap(tmp_path):
    with _open(tmp_path) as db:
        cid, model, vecs = _load(db, 1800)
        db.compact()
        segs = db.collections[cid].segments()
        assert [p.count for p in segs] == [1800]
        assert segs[0].segment.graph is not None
        assert_matches(db, cid, model)
        got = db.query(cid, vecs[7:8], 10)[0]
        assert len(set(got.ids) & {i for i, _ in model.knn(vecs[7], 10)}) >= 9
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_vacuum_of_the_largest_segment_is_one_growth_job(tmp_path):
    with _open(tmp_path) as db:
        cid, model, vecs = _load(db, 2000)
        db.compact()
        gone = [f"r{i}" for i in range(0, 2000, 4)]
        db.delete(cid, ids=gone)
        model.delete(gone)
        db.update(cid, ["r1", "r2"], embeddings=vecs[1:3] * 3)
        model.update(["r1", "r2"], vecs[1:3] * 3)
        jobs: list[tuple[bool, int]] = []
        real_build = db.compactor._build_one

        def counting(plan, start, end, single):
            jobs.append((plan.grow, sum(len(r) for r in plan.rows)))
            return real_build(plan, start, end, single)

        db.compactor._build_one = counting
        db.compact()
        # The flush of the tail (the two updates), then one job rewriting everything: the
        # largest segment is never split, so a query searches one graph.
        assert jobs[-1] == (True, 1500)
        (part,) = db.collections[cid].segments()
        assert part.count == 1500 and part.segment.graph is not None
        assert part.count - int(part.alive().sum()) == 0
        assert_matches(db, cid, model)
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_segments_past_half_the_cap_are_not_merged_again():
    opts = DatabaseOptions(max_segments_per_collection=2, max_segment_records=100)
    full = [SegmentStats(100, 100)] * 5 + [SegmentStats(60, 60)]
    assert pick_inputs(full, 1, opts) == []
    mixed = full + [SegmentStats(10, 10), SegmentStats(20, 20)]
    assert pick_inputs(mixed, 1, opts) == [6, 7]


def test_a_job_takes_picks_up_to_the_cap():
    stats = [SegmentStats(100, 90), SegmentStats(100, 80), SegmentStats(100, 70), SegmentStats(100, 0)]
    assert _within_cap([0, 1, 2, 3], stats, 200) == [0, 1]
    assert _within_cap([2, 3, 0], stats, 60) == [2]  # at least one, even past the cap
    assert _within_cap([], stats, 60) == []


def test_max_segment_records_is_validated():
    with pytest.raises(ValueError, match="max_segment_records must be at least 2"):
        DatabaseOptions(max_segment_records=1)


def test_background_jobs_leave_a_core_to_writers_and_compact_uses_all(tmp_path, monkeypatch):
    import os

    from sedimentdb.engine.compactor import compactor as C

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert C.background_threads(2) == 1
    assert C.background_threads(8) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert C.background_threads(4) == 4
    assert C.background_threads(64) == 15
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert C.background_threads(4) == 1
    seen: list[int] = []
    real = C.write_segment_keeping_graph

    def spy(*a, **kw):
        seen.append(kw["build_threads"])
        return real(*a, **kw)

    monkeypatch.setattr(C, "write_segment_keeping_graph", spy)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with _open(tmp_path) as db:
        cid, _model, _vecs = _load(db, 1200)
        db.compactor.run_pass(force=True)  # what the background thread runs
        db.add(cid, ["x"], clustered(1, 8, seed=1))
        db.compact()  # on demand
        configured = db.collections[cid].segments()[0].segment.descriptor.hnsw["num_threads"]
    assert seen[0] == 1 and seen[-1] == configured


def test_the_cap_grows_with_the_collection_so_a_query_searches_a_bounded_number_of_graphs():
    opts = DatabaseOptions(max_segments_per_collection=4, max_segment_records=500)
    assert segment_cap(0, opts) == 500
    assert segment_cap(2000, opts) == 500
    assert segment_cap(2001, opts) == 501
    assert segment_cap(20_000, opts) == 5000
    # Five 150-row segments are done growing under a cap of 200, small (merged) under 500.
    stats = [SegmentStats(150, 150)] * 5
    small_cap = DatabaseOptions(max_segments_per_collection=4, max_segment_records=200)
    assert pick_inputs(stats, 0, small_cap) == []
    assert pick_inputs(stats, 0, small_cap, cap=500) == [0, 1, 2, 3]


def test_loading_in_many_flushes_converges_to_a_bounded_number_of_segments(tmp_path):
    with _open(tmp_path, max_segments_per_collection=4) as db:
        vecs = clustered(8000, 8, seed=7)
        cid = db.create_collection(T, D, "c").id
        model = Model("l2")
        for start in range(0, 8000, 400):  # 20 flushes of 400 rows
            ids = [f"r{i}" for i in range(start, start + 400)]
            db.add(cid, ids, vecs[start:start + 400])
            model.add(ids, vecs[start:start + 400])
            db.compact()
        segs = db.collections[cid].segments()
        # A fixed cap of 500 would leave 16 segments; growing the largest one keeps one
        # large graph and at most a few small ones beside it.
        assert len(segs) <= 2, [p.count for p in segs]
        assert max(p.count for p in segs) >= 8000 - 2 * 400
        assert_matches(db, cid, model)
        got = db.query(cid, vecs[11:12], 10)[0]
        assert len(set(got.ids) & {i for i, _ in model.knn(vecs[11], 10)}) >= 9
    with _open(tmp_path, max_segments_per_collection=4) as db:
        assert_matches(db, cid, model)


def test_growth_merges_into_the_largest_segment_once_the_others_are_many_and_worth_it():
    from sedimentdb.engine.compactor.policy import GROW_FRACTION, pick_growth

    opts = DatabaseOptions(max_segments_per_collection=8)  # growth from 5 segments on
    small = int(GROW_FRACTION * 1000) // 2  # three of them are worth growing by
    assert pick_growth([SegmentStats(1000, 1000)], 0, opts) == []
    assert pick_growth([SegmentStats(1000, 1000)] + [SegmentStats(small, small)] * 3, 0, opts) == []
    four = [SegmentStats(small, small)] * 4
    assert pick_growth([SegmentStats(1000, 1000)] + four, 0, opts) == [0, 1, 2, 3, 4]
    assert pick_growth([SegmentStats(1000, 1000)] + four[:3], 1, opts) == [0, 1, 2, 3]  # a flush to come
    tiny = [SegmentStats(5, 5)] * 6  # many, but not worth rewriting the largest: tiered merges instead
    assert pick_growth([SegmentStats(1000, 1000)] + tiny, 0, opts) == []
    # compact() on demand: however few the others, when they are worth it
    assert pick_growth([SegmentStats(100, 100), SegmentStats(1000, 1000)], 0, opts, everything=True) == [0, 1]
    assert pick_growth([SegmentStats(1, 1), SegmentStats(1000, 1000)], 0, opts, everything=True) == []
    # the largest segment past the vacuum threshold is rewritten alone, too
    assert pick_growth([SegmentStats(1000, 800)], 0, opts) == [0]
