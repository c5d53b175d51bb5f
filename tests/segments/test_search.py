"""Search returns Chroma's distances, finds the true neighbours, and honours the allowed mask."""

from __future__ import annotations

import numpy as np
import pytest

SPACES = ["l2", "ip", "cosine"]


def _exact_top(h, space, queries, vectors, k, allowed=None):
    d = h.brute_force(space, queries, vectors)
    if allowed is not None:
        d[:, ~allowed] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("graph", [False, True], ids=["flat", "hnsw"])
def test_distances_equal_numpy_brute_force(fs, tmp_path, h, space, graph):
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((400, 12)).astype(np.float32)
    vectors[7] = 0.0  # a zero vector: cosine distance 1, as Chroma's epsilon gives
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space=space, graph=graph)
    queries = rng.standard_normal((6, 12)).astype(np.float32)
    rows, dists = seg.search(queries, 10)
    want_rows, want = _exact_top(h, space, queries, vectors, 10)
    assert rows.dtype == np.int64 and dists.dtype == np.float32 and rows.shape == (6, 10)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(dists, want, rtol=1e-5, atol=1e-4)
    ex_rows, ex_dists = seg.exact_search(queries, 10)
    np.testing.assert_array_equal(ex_rows, want_rows)
    np.testing.assert_allclose(ex_dists, want, rtol=1e-5, atol=1e-4)
    # every returned distance is the distance of the returned row
    full = h.brute_force(space, queries, vectors)
    np.testing.assert_allclose(dists, np.take_along_axis(full, rows, axis=1), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("space", SPACES)
def test_recall_at_10_on_clustered_data(fs, tmp_path, h, space):
    vectors = h.clustered(5000, 64, clusters=50, seed=6)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space=space)
    assert seg.graph is not None
    queries = h.clustered(200, 64, clusters=50, seed=7)
    rows, _ = seg.search(queries, 10)
    truth, _ = _exact_top(h, space, queries, vectors, 10)
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.99, recall


@pytest.mark.parametrize("graph", [False, True], ids=["flat", "hnsw"])
@pytest.mark.parametrize("fraction", [0.002, 0.03, 0.2, 0.7])
def test_filtered_search_equals_brute_force(fs, tmp_path, h, graph, fraction):
    vectors = h.clustered(3000, 32, clusters=30, seed=8)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="l2", graph=graph)
    rng = np.random.default_rng(9)
    allowed = rng.random(3000) < fraction
    queries = h.clustered(50, 32, clusters=30, seed=10)
    rows, dists = seg.search(queries, 10, allowed=allowed)
    truth, truth_d = _exact_top(h, "l2", queries, vectors, 10, allowed)
    n_allowed = int(allowed.sum())
    k_eff = min(10, n_allowed)
    assert (rows[:, :k_eff] >= 0).all() and (rows[:, k_eff:] == -1).all()
    assert allowed[rows[:, :k_eff]].all()
    if not graph or n_allowed <= 4096 or fraction < 0.1:
        # exact path: the very same rows
        np.testing.assert_array_equal(rows[:, :k_eff], truth[:, :k_eff])
    else:
        hits = np.mean([len(set(r[:k_eff]) & set(t[:k_eff])) / k_eff
                        for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
        assert hits >= 0.99, hits
    np.testing.assert_allclose(dists[:, :k_eff], truth_d[:, :k_eff], rtol=1e-5, atol=1e-3)


def test_broad_filter_walks_the_graph_and_returns_k(fs, tmp_path, h, monkeypatch):
    # 9000 rows with 60% allowed is neither small nor selective: the in-graph filter runs.
    vectors = h.clustered(9000, 16, clusters=40, seed=11)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="cosine")

    def no_fallback(*args, **kwargs):
        raise AssertionError("the broad filter fell back to exact search")

    monkeypatch.setattr(seg, "exact_search", no_fallback)
    allowed = np.random.default_rng(12).random(9000) < 0.6
    queries = h.clustered(40, 16, clusters=40, seed=13)
    rows, _ = seg.search(queries, 25, allowed=allowed)
    assert (rows >= 0).all() and allowed[rows].all()
    truth, _ = _exact_top(h, "cosine", queries, vectors, 25, allowed)
    recall = np.mean([len(set(r) & set(t)) / 25 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.99, recall


@pytest.mark.parametrize("graph", [False, True], ids=["flat", "hnsw"])
def test_padding_when_fewer_rows_than_k(fs, tmp_path, h, graph):
    vectors = np.random.default_rng(14).standard_normal((1100, 4)).astype(np.float32)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), graph=graph)
    allowed = np.zeros(1100, dtype=bool)
    allowed[[3, 500, 1099]] = True
    rows, dists = seg.search(vectors[:2], 5, allowed=allowed)
    assert sorted(rows[0, :3].tolist()) == [3, 500, 1099]
    assert (rows[:, 3:] == -1).all() and np.isinf(dists[:, 3:]).all()
    rows, dists = seg.search(vectors[:1], 5, allowed=np.zeros(1100, dtype=bool))
    assert (rows == -1).all() and np.isinf(dists).all()
    rows, _ = seg.search(vectors[:1], 2000)
    assert sorted(rows[0, :1100].tolist()) == list(range(1100)) and (rows[0, 1100:] == -1).all()


def test_ties_are_ordered_by_row(fs, tmp_path, h):
    vectors = np.zeros((6, 3), dtype=np.float32)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors))
    rows, dists = seg.search(np.ones((1, 3), dtype=np.float32), 4)
    assert rows[0].tolist() == [0, 1, 2, 3] and np.allclose(dists, 3.0)


def test_bad_query_shapes_and_masks_raise(fs, tmp_path, h):
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(np.ones((3, 4), dtype=np.float32)))
    with pytest.raises(ValueError):
        seg.search(np.ones((1, 5), dtype=np.float32), 1)
    with pytest.raises(ValueError):
        seg.search(np.ones((1, 4), dtype=np.float32), 1, allowed=np.ones(2, dtype=bool))
    with pytest.raises(ValueError):
        seg.search(np.ones((1, 4), dtype=np.float32), 0)
    rows, _ = seg.search(np.ones(4, dtype=np.float32), 1)  # one query given as a vector
    assert rows.shape == (1, 1)


def test_mask_avoiding_the_neighbourhood_uses_the_filtered_walk(fs, tmp_path, h, monkeypatch):
    """Broad mask, but every near neighbour of the queries is excluded: over-fetching and
    post-filtering finds nothing, so hnswlib's in-graph filter must answer (not exact search)."""
    from sedimentdb.engine.segments import planner

    vectors = h.clustered(9000, 16, clusters=40, seed=15)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="l2")
    queries = vectors[[0, 1000, 2000, 3000, 4000]] + 0.01
    near = np.argsort(h.brute_force("l2", queries, vectors), axis=1)[:, :300]
    allowed = np.ones(9000, dtype=bool)
    allowed[near.ravel()] = False
    assert allowed.mean() > 0.8
    walks = []
    real = planner._query_graph

    def spy(seg_, q, depth, mask):
        walks.append(mask is not None)
        return real(seg_, q, depth, mask)

    monkeypatch.setattr(planner, "_query_graph", spy)
    monkeypatch.setattr(seg, "exact_search", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fallback")))
    rows, _ = seg.search(queries, 25, allowed=allowed)
    assert walks == [False, True]  # post-filter attempt, then the filtered walk
    assert (rows >= 0).all() and allowed[rows].all()
    truth, _ = _exact_top(h, "l2", queries, vectors, 25, allowed)
    recall = np.mean([len(set(r) & set(t)) / 25 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.99, recall


def test_broad_mask_is_answered_by_post_filtering(fs, tmp_path, h, monkeypatch):
    from sedimentdb.engine.segments import planner

    vectors = h.clustered(9000, 16, clusters=40, seed=16)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="cosine")
    allowed = np.random.default_rng(17).random(9000) < 0.5
    walks = []
    real = planner._query_graph

    def spy(seg_, q, depth, mask):
        walks.append(mask is not None)
        return real(seg_, q, depth, mask)

    monkeypatch.setattr(planner, "_query_graph", spy)
    queries = h.clustered(30, 16, clusters=40, seed=18)
    rows, dists = seg.search(queries, 10, allowed=allowed)
    assert walks == [False]
    truth, _ = _exact_top(h, "cosine", queries, vectors, 10, allowed)
    assert allowed[rows].all()
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.99, recall


@pytest.mark.parametrize("fraction", [None, 0.2, 0.7], ids=["unfiltered", "filtered-20", "filtered-70"])
def test_unscored_candidates_hold_the_scored_top_k(fs, tmp_path, h, fraction):
    # rerank=False (what a collection asks for, as it merges every part's candidates once):
    # allowed rows only, -1 padded, among them every row the scored search returns, each with
    # hnswlib's distance, which is the exact one up to float32 rounding.
    # 25k rows: a 20% mask allows more than planner.EXACT_MAX_ROWS, so every case walks the graph
    vectors = h.clustered(25_000, 16, clusters=30, seed=11)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="cosine")
    allowed = None if fraction is None else np.random.default_rng(12).random(25_000) < fraction
    queries = h.clustered(40, 16, clusters=30, seed=13)
    rows, dists = seg.search(queries, 10, allowed=allowed)
    cands, cand_dists = seg.search(queries, 10, allowed=allowed, rerank=False)
    assert cands.shape[0] == 40 and cands.shape[1] >= 10
    full = h.brute_force("cosine", queries, vectors)
    real = cands >= 0
    np.testing.assert_allclose(cand_dists[real], np.take_along_axis(full, np.maximum(cands, 0), axis=1)[real],
                               rtol=1e-5, atol=1e-5)
    assert np.isinf(cand_dists[~real]).all()
    for scored, found in zip(rows.tolist(), cands.tolist(), strict=True):
        found = [r for r in found if r >= 0]
        assert len(found) >= 10 and len(set(found)) == len(found)
        assert set(scored) <= set(found)
        if allowed is not None:
            assert allowed[found].all()


def test_unscored_candidates_of_a_selective_mask_are_the_exact_answer(fs, tmp_path, h):
    vectors = h.clustered(3000, 16, clusters=10, seed=14)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="l2")
    allowed = np.zeros(3000, dtype=bool)
    allowed[::300] = True  # 10 rows: answered by exact search, left for the caller to score
    rows, dists = seg.search(vectors[:3], 5, allowed=allowed, rerank=False)
    want, _ = _exact_top(h, "l2", vectors[:3], vectors, 5, allowed)
    np.testing.assert_array_equal(rows, want)
    assert np.isinf(dists).all()


@pytest.mark.parametrize("space", SPACES)
def test_unscored_graph_distances_are_hnswlibs(fs, tmp_path, h, space):
    # What the collection returns for a record a graph found: hnswlib's own distance, as Chroma does.
    vectors = h.clustered(2000, 16, clusters=10, seed=15)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space=space)
    queries = h.clustered(5, 16, clusters=10, seed=16)
    rows, dists = seg.search(queries, 10, rerank=False)
    labels, want = seg.graph.knn_query(queries, k=10)
    np.testing.assert_array_equal(rows, labels.astype(np.int64))
    np.testing.assert_array_equal(dists, want)


def test_cosine_graph_distances_out_of_range_are_left_to_score():
    from sedimentdb.engine.segments import planner

    # hnswlib's cosine distance of a vector whose squared norm underflows float32 is garbage
    # (-1.8e7 and the like): marked inf, so the collection scores that row from its vector.
    got = planner.graph_distances("cosine", np.array([[0.5, -1.8e7, 2.5, -1e-6]], dtype=np.float32))
    assert got[0, 0] == np.float32(0.5) and np.isinf(got[0, 1]) and np.isinf(got[0, 2]) and got[0, 3] == np.float32(-1e-6)
    assert planner.graph_distances("ip", np.array([[-3.0]], dtype=np.float32))[0, 0] == -3.0
