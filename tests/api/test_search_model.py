"""Model-based test: random searches (where x rank arithmetic x Rrf x group_by x limit x select) against a
brute-force evaluator over the same records, exact on l2, ip and cosine, and on sparse vectors (a
``Knn`` on the metadata key ``sv``: Chroma's ``1 - dot`` over the records sharing a dimension).

Collections are small (at most 24 records), where the HNSW graph search is exact. Vectors are drawn
from a seeded normal distribution so distances do not tie; scores compare with a tolerance for the
engine's float32 distances, and an order is accepted when each position's model score matches.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sedimentdb
from sedimentdb.schema import SparseVector
from sedimentdb.search import (
    GroupBy,
    K,
    Knn,
    Max,
    MaxK,
    Min,
    MinK,
    Rrf,
    Search,
    Sub,
    Sum,
    Val,
)

DIM = 3
SPARSE_DIMS = 8
GROUPS = ["a", "b", "c"]
TOL = 1e-3


@dataclass
class World:
    """The records and the collection's space."""

    space: str
    vectors: np.ndarray
    metas: list[dict[str, Any]]
    docs: list[str]

    @property
    def ids(self) -> list[str]:
        return [f"id{i:02d}" for i in range(len(self.vectors))]


@st.composite
def worlds(draw: Any) -> World:
    n = draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vectors = rng.normal(size=(n, DIM))
    metas = [{"x": int(rng.integers(0, 6)), "g": GROUPS[int(rng.integers(0, 3))]} for _ in range(n)]
    for meta in metas:
        if rng.random() < 0.8:  # most records hold a sparse vector; the others are never sparse candidates
            dims = sorted(rng.choice(SPARSE_DIMS, size=int(rng.integers(1, 5)), replace=False).tolist())
            meta["sv"] = SparseVector(indices=dims, values=rng.uniform(-0.5, 2.0, size=len(dims)).tolist())
    docs = [f"w{m['x']} t{m['g']}" for m in metas]
    return World(draw(st.sampled_from(["l2", "ip", "cosine"])), vectors, metas, docs)


# ---- the model ----------------------------------------------------------------------------


def distance(space: str, a: np.ndarray, b: np.ndarray) -> float:
    """Chroma's distances: squared L2, 1 - inner product, 1 - cosine similarity."""
    if space == "l2":
        return float(np.sum((a - b) ** 2))
    if space == "ip":
        return float(1.0 - a @ b)
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def passes(where: Any, record_id: str, meta: dict[str, Any], doc: str) -> bool:
    """The filter dictionary evaluated directly."""
    if where is None:
        return True
    if "$and" in where:
        return all(passes(c, record_id, meta, doc) for c in where["$and"])
    if "$or" in where:
        return any(passes(c, record_id, meta, doc) for c in where["$or"])
    key, cond = next(iter(where.items()))
    op, value = next(iter(cond.items()))
    actual = record_id if key == "#id" else doc if key == "#document" else meta.get(key)
    return {
        "$eq": lambda: actual == value, "$ne": lambda: actual != value, "$gt": lambda: actual > value,
        "$lt": lambda: actual < value, "$in": lambda: actual in value, "$nin": lambda: actual not in value,
        "$contains": lambda: value in actual, "$regex": lambda: re.search(value, actual) is not None,
    }[op]()


def model_scores(world: World, search: Search) -> dict[str, Optional[float]]:
    """Every candidate's score under the model."""
    payload = search.to_dict()
    allowed = [i for n, i in enumerate(world.ids) if passes(payload["filter"], i, world.metas[n], world.docs[n])]
    index = {i: n for n, i in enumerate(world.ids)}
    lists: dict[int, dict[str, float]] = {}

    def score(spec: dict[str, Any], rid: str) -> Optional[float]:
        if spec.get("key", "#embedding") == "#embedding":
            return distance(world.space, world.vectors[index[rid]], np.asarray(spec["query"]))
        q = dict(zip(spec["query"]["indices"], spec["query"]["values"], strict=True))
        vector = world.metas[index[rid]].get("sv")
        if vector is None or not set(vector.indices) & set(q):
            return None  # shares no dimension: not a candidate
        values = dict(zip(vector.indices, vector.values, strict=True))
        return 1.0 - sum(q[d] * values[d] for d in sorted(q) if d in values)

    def knn_list(spec: dict[str, Any]) -> dict[str, float]:
        key = id(spec)
        if key not in lists:
            scored = {i: score(spec, i) for i in allowed}
            eligible = [i for i in allowed if scored[i] is not None]
            ranked = sorted(eligible, key=lambda i: scored[i])[:spec["limit"]]  # ties: insertion order
            lists[key] = {i: (float(p) if spec.get("return_rank") else scored[i]) for p, i in enumerate(ranked)}
        return lists[key]

    def value(rank: dict[str, Any], rid: str) -> Optional[float]:
        op, arg = next(iter(rank.items()))
        if op == "$val":
            return float(arg)
        if op == "$knn":
            got = knn_list(arg).get(rid)
            return got if got is not None else arg.get("default")
        if op in ("$sub", "$div"):
            left, right = value(arg["left"], rid), value(arg["right"], rid)
            if op == "$sub":
                return left - right
            return left / right if right != 0 else (math.nan if left == 0 else math.copysign(math.inf, left))
        if op in ("$abs", "$exp", "$log"):
            v = value(arg, rid)
            if op == "$abs":
                return abs(v)
            if op == "$exp":
                return math.exp(v) if v < 709 else math.inf
            return math.nan if v < 0 or math.isnan(v) else (math.log(v) if v > 0 else -math.inf)
        values = [value(r, rid) for r in arg]
        return {"$sum": sum, "$mul": math.prod, "$max": max, "$min": min}[op](values)

    knns = _knn_specs(payload["rank"])
    candidates = set().union(*(knn_list(k) for k in knns))
    for spec in knns:
        if spec.get("default") is None:
            candidates &= knn_list(spec).keys()
    out = {}
    for rid in candidates:
        v = value(payload["rank"], rid)
        out[rid] = v if v is not None and math.isfinite(v) else None
    return out


def _knn_specs(rank: Any) -> list[dict[str, Any]]:
    if isinstance(rank, list):
        return [k for r in rank for k in _knn_specs(r)]
    if not isinstance(rank, dict):
        return []
    if "$knn" in rank:
        return [rank["$knn"]]
    return [k for v in rank.values() for k in _knn_specs(v)]


def model_result(world: World, search: Search) -> list[tuple[str, Optional[float]]]:
    """The model's ordered (id, score) page, grouping applied."""
    scores = model_scores(world, search)
    order = sorted(scores, key=lambda i: (scores[i] is None, scores[i] or 0.0, i))
    payload = search.to_dict()
    group = payload["group_by"]
    if group:
        (direction, agg), = group["aggregate"].items()
        keep: list[str] = []
        meta = {i: world.metas[n] for n, i in enumerate(world.ids)}
        sign = 1 if direction == "$min_k" else -1

        def agg_key(i: str) -> tuple[Any, ...]:
            v = scores[i] if agg["keys"][0] == "#score" else meta[i][agg["keys"][0]]
            return ((1, 0.0) if v is None else (0, sign * v), i)

        for g in GROUPS:
            members = [i for i in order if meta[i]["g"] == g]
            keep.extend(sorted(members, key=agg_key)[:agg["k"]])
        order = sorted(keep, key=lambda i: (scores[i] is None, scores[i] or 0.0, i))
    limit = payload["limit"]
    end = None if "limit" not in limit else limit["offset"] + limit["limit"]
    return [(i, scores[i]) for i in order[limit["offset"]:end]]


# ---- strategies ---------------------------------------------------------------------------


def vectors_st() -> Any:
    return st.lists(st.floats(-2, 2, allow_nan=False, width=32), min_size=DIM, max_size=DIM).filter(
        lambda v: sum(x * x for x in v) > 1e-4)  # a zero query has no cosine distance


def sparse_query_st() -> Any:
    return st.dictionaries(st.integers(0, SPARSE_DIMS), st.floats(-2, 2, allow_nan=False, width=32), min_size=1,
                           max_size=4).map(lambda d: SparseVector(indices=sorted(d), values=[d[k] for k in sorted(d)]))


def knn_st() -> Any:
    dense = st.builds(Knn, query=vectors_st(), limit=st.integers(1, 30),
                      default=st.none() | st.floats(-5, 50, allow_nan=False), return_rank=st.booleans())
    sparse = st.builds(Knn, query=sparse_query_st(), key=st.just("sv"), limit=st.integers(1, 30),
                       default=st.none() | st.floats(-5, 50, allow_nan=False), return_rank=st.booleans())
    return dense | sparse


def rank_st() -> Any:
    leaves = knn_st() | st.builds(Val, st.floats(-3, 3, allow_nan=False))
    tree = st.recursive(leaves, lambda kids: st.one_of(
        st.builds(lambda a, b: Sum([a, b]), kids, kids), st.builds(Sub, kids, kids),
        st.builds(lambda a, b: a * b, kids, kids), st.builds(lambda a, b: a / b, kids, kids),
        st.builds(abs, kids), st.builds(lambda a: a.exp(), kids), st.builds(lambda a: a.log(), kids),
        st.builds(lambda a, b: Max([a, b]), kids, kids), st.builds(lambda a, b: Min([a, b]), kids, kids)),
        max_leaves=4)
    with_knn = st.builds(lambda k, t: k + t, knn_st(), tree) | knn_st()
    rrf = st.builds(lambda ks, k: Rrf(ranks=ks, k=k), st.lists(
        st.builds(Knn, query=vectors_st(), limit=st.integers(1, 30), return_rank=st.just(True),
                  default=st.none() | st.just(100.0))
        | st.builds(Knn, query=sparse_query_st(), key=st.just("sv"), limit=st.integers(1, 30),
                    return_rank=st.just(True), default=st.none() | st.just(100.0)), min_size=1, max_size=3),
        st.integers(1, 80))
    return with_knn | rrf


def where_st() -> Any:
    clause = st.one_of(
        st.builds(lambda v: K("x") == v, st.integers(0, 5)), st.builds(lambda v: K("x") > v, st.integers(-1, 5)),
        st.builds(lambda v: K("g").is_in(v), st.lists(st.sampled_from(GROUPS), min_size=1)),
        st.builds(lambda a, b: (K("x") < a) | (K("g") == b), st.integers(0, 6), st.sampled_from(GROUPS)),
        st.builds(lambda v: K.ID.is_in(v), st.lists(st.sampled_from([f"id{i:02d}" for i in range(26)]), min_size=1)),
        st.builds(lambda v: K.ID.not_in(v), st.lists(st.sampled_from([f"id{i:02d}" for i in range(26)]))),
        st.builds(lambda v: K.DOCUMENT.contains(f"w{v}"), st.integers(0, 5)),
        st.builds(lambda g: K.DOCUMENT.regex(f"t[{g}]$"), st.sampled_from(["a", "ab", "bc"])))
    return st.none() | st.lists(clause, min_size=1, max_size=3).map(
        lambda cs: cs[0] if len(cs) == 1 else cs[0] & cs[1] if len(cs) == 2 else cs[0] & cs[1] & cs[2])


@st.composite
def searches(draw: Any) -> Search:
    s = Search(where=draw(where_st()), rank=draw(rank_st()))
    if draw(st.booleans()):
        s = s.limit(draw(st.integers(1, 30)), offset=draw(st.integers(0, 10)))
    if draw(st.integers(0, 3)) == 0:
        aggregate = draw(st.sampled_from([MinK, MaxK]))(keys=draw(st.sampled_from([K.SCORE, K("x")])),
                                                        k=draw(st.integers(1, 3)))
        s = s.group_by(GroupBy(keys=K("g"), aggregate=aggregate))
    return s.select(*draw(st.sets(st.sampled_from([K.DOCUMENT, K.SCORE, K.METADATA, K.EMBEDDING, "x", "g"]))))


# ---- the property -------------------------------------------------------------------------


def _close(a: Optional[float], b: Optional[float]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), batch=st.lists(searches(), min_size=1, max_size=3))
def test_search_matches_brute_force_model(world: World, batch: list[Search]) -> None:
    """Each search's page, scores and selected fields agree with the model."""
    client = sedimentdb.EphemeralClient()
    col = client.get_or_create_collection("model-search", embedding_function=None,
                                          metadata={"hnsw:space": world.space})
    try:
        col.add(ids=world.ids, embeddings=world.vectors.tolist(), metadatas=world.metas, documents=world.docs)
        result = col.search(batch)
        for n, search in enumerate(batch):
            want = model_result(world, search)
            scores = model_scores(world, search)
            got_ids = result["ids"][n]
            assert len(got_ids) == len(want), (got_ids, want)
            for position, record_id in enumerate(got_ids):
                # Either the same record or one the model scores the same (a float32 near-tie).
                assert record_id in scores and _close(scores[record_id], want[position][1]), (got_ids, want)
            _check_columns(world, search, result, n, scores)
    finally:
        client.delete_collection("model-search")


def _check_columns(world: World, search: Search, result: Any, n: int, scores: dict[str, Optional[float]]) -> None:
    keys = set(search.to_dict()["select"]["keys"])
    index = {i: k for k, i in enumerate(world.ids)}
    ids = result["ids"][n]
    predefined = ["#document", "#embedding", "#metadata", "#score"]
    assert result["select"][n] == [k for k in predefined if k in keys] + sorted(keys - set(predefined))
    if "#score" in keys:
        assert all(_close(s, scores[i]) for i, s in zip(ids, result["scores"][n], strict=True))
    else:
        assert result["scores"][n] is None
    if "#document" in keys:
        assert result["documents"][n] == [world.docs[index[i]] for i in ids]
    else:
        assert result["documents"][n] is None
    if "#embedding" in keys:
        for i, e in zip(ids, result["embeddings"][n], strict=True):
            assert np.allclose(e, world.vectors[index[i]], atol=1e-6)
    fields = keys & {"x", "g"}
    if "#metadata" in keys:
        assert result["metadatas"][n] == [world.metas[index[i]] for i in ids]
    elif fields:
        assert result["metadatas"][n] == [{k: world.metas[index[i]][k] for k in sorted(fields)} for i in ids]
    else:
        assert result["metadatas"][n] is None
