"""Max-score sparse top-k (engine/segments/sparse_topk.py) equals the exhaustive answer bit for bit:
negative weights, ties, masks, k larger than the candidates, one-list and many-list queries, and
both the pruned and the exhaustive paths."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sedimentdb.engine.segments import sparse_topk
from sedimentdb.engine.segments.sparse import SparsePostings
from sedimentdb.engine.segments.sparse_topk import sparse_top

KEY = "sv"


def _sv(indices: list[int], values: list[float]) -> dict:
    return {"#type": "sparse_vector", "indices": indices, "values": values}


def _reference(postings: SparsePostings, q: tuple[list[int], list[float]], k: int,
               allowed: np.ndarray) -> list[tuple[int, float]]:
    """Every allowed row sharing a dimension, scored by ``dots``; those at most the k-th score."""
    rows, dots = postings.dots(*q)
    keep = allowed[rows]
    rows, dots = rows[keep], dots[keep]
    if len(rows) > k:
        scores = 1.0 - dots
        bound = np.sort(scores)[k - 1]
        rows, dots = rows[scores <= bound], dots[scores <= bound]
    return sorted(zip(rows.tolist(), dots.tolist(), strict=True))


def _got(postings: SparsePostings, q: tuple[list[int], list[float]], k: int,
         allowed: np.ndarray) -> list[tuple[int, float]]:
    rows, dots = sparse_top(postings, q[0], q[1], k, allowed)
    return sorted(zip(rows.tolist(), dots.tolist(), strict=True))


def _corpus(rng: random.Random, n: int, dims: int, weights: list[float]) -> list[dict | None]:
    """Zipf-like dimensions (a few lists hold most rows, as words do), values from ``weights``
    (a short list makes many exact ties)."""
    zipf = [1.0 / (d + 1) for d in range(dims)]
    metas: list[dict | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            metas.append(None)
            continue
        picked = sorted(set(rng.choices(range(dims), weights=zipf, k=rng.randint(1, 8))))
        metas.append({KEY: _sv(picked, [rng.choice(weights) for _ in picked])})
    return metas


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lookup_cost", [0.01, sparse_topk.LOOKUP_COST, 1e9])  # always prune / default / never
def test_sparse_top_equals_exhaustive(seed, lookup_cost, monkeypatch):
    monkeypatch.setattr(sparse_topk, "LOOKUP_COST", lookup_cost)
    rng = random.Random(seed)
    weights = [0.5, 1.0, 1.5, 2.0] if seed % 2 else [round(rng.uniform(-1, 3), 3) for _ in range(50)]
    metas = _corpus(rng, 600, 40, weights)
    postings = SparsePostings.build(metas, KEY)
    everyone = np.ones(len(metas), dtype=bool)
    for _ in range(25):
        dims = sorted(rng.sample(range(45), rng.randint(1, 7)))  # 40..44 are in no list
        q = (dims, [rng.choice([1.0, 0.5, -0.75, 2.0]) for _ in dims])
        some = np.array([rng.random() < 0.6 for _ in metas])
        for k in (1, 3, 16, 1000):
            for allowed in (everyone, some):
                assert _got(postings, q, k, allowed) == _reference(postings, q, k, allowed), (q, k)


def test_sparse_top_prunes_long_lists(monkeypatch):
    """One rare dimension and two that every row has: the rare list's rows are scored and the
    long lists only looked up (the answer is among the rows holding all three)."""
    n = 2000
    metas = [{KEY: _sv([0, 1] + ([2] if r % 100 == 0 else []), [1.0, 1.0] + ([3.0] if r % 100 == 0 else []))}
             for r in range(n)]
    postings = SparsePostings.build(metas, KEY)
    scored: list[int] = []
    real = sparse_topk._score_new_rows

    def spy(p, terms, nxt, read, done):
        scored.append(terms[nxt].length)
        return real(p, terms, nxt, read, done)

    monkeypatch.setattr(sparse_topk, "_score_new_rows", spy)
    rows, dots = sparse_top(postings, [0, 1, 2], [1.0, 1.0, 1.0], 5, np.ones(n, dtype=bool))
    assert scored == [20]  # the rare list only: the long lists' bounds (1 + 1) cannot reach 5
    assert sorted(rows.tolist()) == list(range(0, n, 100)) and set(dots.tolist()) == {5.0}


def test_sparse_top_without_candidates():
    postings = SparsePostings.build([{KEY: _sv([1], [1.0])}, None], KEY)
    allowed = np.ones(2, dtype=bool)
    assert sparse_top(postings, [7], [1.0], 3, allowed)[0].tolist() == []
    assert sparse_top(postings, [], [], 3, allowed)[0].tolist() == []
    assert sparse_top(postings, [1], [1.0], 3, np.zeros(2, dtype=bool))[0].tolist() == []
    assert sparse_top(SparsePostings.empty(2), [1], [1.0], 3, allowed)[0].tolist() == []
