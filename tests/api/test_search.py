"""``Collection.search``: Chroma's Search API documentation examples, its semantics and its messages."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sedimentdb
from sedimentdb import K, Knn, Rrf, Search, errors
from sedimentdb.api.types import ReadLevel
from sedimentdb.search import GroupBy, Limit, MaxK, MinK, Select, Val

WORDS = ["science", "art", "sport", "music", "history"]


class WordEmbedding:
    """A deterministic embedding: one axis per known word (so text queries have known neighbours)."""

    def __call__(self, input: list[str]) -> list[np.ndarray]:  # noqa: A002  (Chroma's signature)
        return [np.array([float(w in text.split()) for w in WORDS], dtype=np.float32) + 0.01 for text in input]

    @staticmethod
    def name() -> str:
        return "word-axes"


@pytest.fixture
def col() -> Any:
    client = sedimentdb.EphemeralClient()
    c = client.create_collection("articles", embedding_function=WordEmbedding(), metadata={"hnsw:space": "l2"})
    docs = [f"{WORDS[i % 5]} article {i}" for i in range(10)]
    c.add(ids=[f"a{i}" for i in range(10)], documents=docs,
          metadatas=[{"category": WORDS[i % 5], "year": 2020 + i % 3, "score": i / 10} for i in range(10)])
    yield c
    client.delete_collection("articles")


def test_quick_start_example(col: Any) -> None:
    """Overview's quick start: filter, Knn by text, limit, select document and score."""
    search = Search().where(K("category") == "science").limit(10).select(K.DOCUMENT, K.SCORE)
    result = col.search(search.rank(Knn(query="science")))
    assert result["ids"] == [["a0", "a5"]]
    assert result["documents"] == [["science article 0", "science article 5"]]
    assert result["embeddings"] == [None] and result["metadatas"] == [None]
    assert result["select"] == [["#document", "#score"]]
    assert result["scores"][0][0] == pytest.approx(0.0, abs=1e-6)
    rows = result.rows()[0]
    assert rows[0]["id"] == "a0" and "embedding" not in rows[0] and rows[0]["document"] == "science article 0"


def test_direct_construction_equals_builder(col: Any) -> None:
    """The docstring's two forms of one search give one answer."""
    from sedimentdb.search import And, Eq, Gt

    query = WordEmbedding()(["art"])[0].tolist()
    built = (Search().where((K("category") == "art") & (K("score") > 0.05))
             .rank(Knn(query=query) * 0.8 + Val(0.5) * 0.2).limit(10, offset=0).select(K.DOCUMENT, K.SCORE, "year"))
    direct = Search(where=And([Eq("category", "art"), Gt("score", 0.05)]), rank=Knn(query=query) * 0.8 + Val(0.5) * 0.2,
                    limit=Limit(offset=0, limit=10), select=Select(keys={K.DOCUMENT, K.SCORE, "year"}))
    assert col.search(built) == col.search(direct)
    result = col.search(built)
    assert result["ids"] == [["a1", "a6"]]
    assert result["metadatas"] == [[{"year": 2021}, {"year": 2020}]]  # only the selected key
    assert result["scores"][0] == pytest.approx([0.1, 0.1], abs=1e-5)  # 0 * 0.8 + 0.5 * 0.2


def test_batch_of_searches_keeps_order(col: Any) -> None:
    """A list of searches answers one column entry each, in order."""
    result = col.search([Search().where(K("category") == "sport").rank(Knn(query="sport")),
                         Search().where(K("category") == "music").rank(Knn(query="music"))])
    assert result["ids"] == [["a2", "a7"], ["a3", "a8"]]
    assert col.search([])["ids"] == []


def test_no_rank_is_index_order_with_pagination(col: Any) -> None:
    """Without a rank, records come in insertion order; limit and offset page them; scores are None."""
    result = col.search(Search().limit(3, offset=2).select(K.SCORE, K.METADATA))
    assert result["ids"] == [["a2", "a3", "a4"]]
    assert result["scores"] == [[None, None, None]]
    assert result["metadatas"][0][0] == {"category": "sport", "score": 0.2, "year": 2022}


def test_knn_limit_default_and_return_rank(col: Any) -> None:
    """Ranking docs: a Knn scores its top `limit`; default lets others in; return_rank gives positions."""
    q = WordEmbedding()(["history"])[0].tolist()
    only = col.search(Search().rank(Knn(query=q, limit=3)).select(K.SCORE))
    assert only["ids"][0][:2] == ["a4", "a9"] and len(only["ids"][0]) == 3
    ranks = col.search(Search().rank(Knn(query=q, limit=3, return_rank=True)).select(K.SCORE))
    assert ranks["scores"] == [[0.0, 1.0, 2.0]]
    # Example 2 of the docs: both Knn without default -> only records in both top lists.
    both = col.search(Search().rank(Knn(query=q, limit=2) + Knn(query=WordEmbedding()(["art"])[0].tolist(), limit=2)))
    assert both["ids"] == [[]]
    # Example 3: the second Knn has a default, so the first's top list is kept.
    mixed = col.search(Search().rank(Knn(query=q, limit=2) * 0.5
                                     + Knn(query=WordEmbedding()(["art"])[0].tolist(), limit=2, default=1000.0) * 0.5)
                       .select(K.SCORE))
    assert mixed["ids"] == [["a4", "a9"]]
    assert mixed["scores"][0][0] == pytest.approx(500.0, abs=1e-3)


def test_rrf_hybrid_example(col: Any) -> None:
    """Hybrid search docs: Rrf of ranked Knn lists; score = -sum(w / (k + rank))."""
    rrf = Rrf(ranks=[Knn(query="science", return_rank=True, limit=10), Knn(query="art", return_rank=True, limit=10)],
              weights=[0.7, 0.3], k=60)
    result = col.search(Search().rank(rrf).select(K.SCORE))
    positions = [dict(zip(r["ids"][0], r["scores"][0], strict=True)) for r in
                 (col.search(Search().rank(Knn(query=q, return_rank=True, limit=10)).select(K.SCORE))
                  for q in ("science", "art"))]
    expected = {i: -(0.7 / (60 + positions[0][i]) + 0.3 / (60 + positions[1][i])) for i in positions[0]}
    assert result["ids"][0][0] == "a0" and len(result["ids"][0]) == 10
    for record_id, score in zip(result["ids"][0], result["scores"][0], strict=True):
        assert score == pytest.approx(expected[record_id], rel=1e-9)
    assert result["scores"][0] == sorted(result["scores"][0])


def test_arithmetic_functions(col: Any) -> None:
    """abs, exp, log, max, min, subtraction and division over a Knn score."""
    knn = Knn(query="science", limit=10)
    for rank, fn in [(knn.exp(), math.exp), ((knn + 1).log(), lambda d: math.log(d + 1)), (abs(knn - 1), lambda d: abs(d - 1)),
                     (knn.max(0.5), lambda d: max(d, 0.5)), (knn.min(0.5), lambda d: min(d, 0.5)), (knn / 2, lambda d: d / 2),
                     (1 - knn, lambda d: 1 - d)]:
        plain = col.search(Search().rank(knn).select(K.SCORE))
        distance = dict(zip(plain["ids"][0], plain["scores"][0], strict=True))
        result = col.search(Search().rank(rank).select(K.SCORE))
        for record_id, score in zip(result["ids"][0], result["scores"][0], strict=True):
            assert score == pytest.approx(fn(distance[record_id]), rel=1e-5, abs=1e-6)
        assert result["scores"][0] == sorted(result["scores"][0])


def test_non_finite_score_is_none_and_sorts_last(col: Any) -> None:
    """log of a negative number has no value: the score is None, after every real one."""
    result = col.search(Search().rank((Knn(query="science", limit=10) - 0.5).log()).select(K.SCORE))
    scores = result["scores"][0]
    assert None in scores and scores[:2] == [None, None] or scores[-1] is None
    firsts = [s for s in scores if s is not None]
    assert scores[:len(firsts)] == firsts


def test_group_by_min_k_and_max_k(col: Any) -> None:
    """Group-by docs: top k per category by score; by a metadata key with MaxK."""
    knn = Knn(query="science", limit=10)
    result = col.search(Search().rank(knn).group_by(GroupBy(keys=K("category"), aggregate=MinK(keys=K.SCORE, k=1)))
                        .select(K.SCORE, "category"))
    categories = [m["category"] for m in result["metadatas"][0]]
    assert sorted(categories) == sorted(WORDS) and result["ids"][0][0] == "a0"
    assert result["scores"][0] == sorted(result["scores"][0])
    newest = col.search(Search().rank(knn).group_by(GroupBy(keys=[K("category")], aggregate=MaxK(keys=[K("year")], k=1)))
                        .select("category", "year"))
    by_category = {m["category"]: m["year"] for m in newest["metadatas"][0]}
    assert by_category == {"science": 2022, "art": 2021, "sport": 2022, "music": 2022, "history": 2021}


def test_id_and_document_filters(col: Any) -> None:
    """#id in/not-in, #document contains and regex, as the filtering docs show."""
    assert col.search(Search().where(K.ID.is_in(["a1", "a3", "zz"])))["ids"] == [["a1", "a3"]]
    assert col.search(Search().where(K.ID.not_in(["a0", "a1"]) & (K("year") == 2020)))["ids"] == [["a3", "a6", "a9"]]
    assert col.search(Search().where(K.DOCUMENT.contains("article 1")))["ids"] == [["a1"]]
    assert col.search(Search().where(K.DOCUMENT.regex(r"^music article \d$") & K.ID.is_in(["a3", "a8"]))
                      .rank(Knn(query="music")))["ids"] == [["a3", "a8"]]
    assert col.search(Search().where(K.DOCUMENT.not_contains("article")))["ids"] == [[]]


def test_select_all_and_embedding(col: Any) -> None:
    """select_all returns document, embedding, metadata and score."""
    result = col.search(Search().where(K.ID == "a2").rank(Knn(query="sport")).select_all())
    assert result["select"] == [["#document", "#embedding", "#metadata", "#score"]]
    assert result["embeddings"][0][0] == pytest.approx(WordEmbedding()(["sport"])[0].tolist())
    assert result["metadatas"][0][0]["category"] == "sport"


def test_read_levels(col: Any) -> None:
    """INDEX_ONLY reads the compacted segments only; the others read the tail (the default bound
    of 1000 log records covers this one); an unknown level is refused."""
    science = Search().where(K("category") == "science").rank(Knn(query="science", limit=20))
    col.add(ids=["fresh"], documents=["science fresh"], metadatas=[{"category": "science"}])
    for level in (ReadLevel.INDEX_AND_WAL, ReadLevel.INDEX_AND_BOUNDED_WAL):
        assert "fresh" in col.search(science, read_level=level)["ids"][0]
    assert col.search(science, read_level=ReadLevel.INDEX_ONLY)["ids"] == [[]]  # nothing compacted yet
    total = col.count()
    assert col.count(read_level=ReadLevel.INDEX_ONLY) == 0
    assert col.count(read_level=ReadLevel.INDEX_AND_BOUNDED_WAL) == total
    col._client._engine().compact(col.id)
    col.delete(ids=["a0"])  # a tail delete of a compacted record
    only = col.search(science, read_level=ReadLevel.INDEX_ONLY)["ids"][0]
    assert "fresh" in only and "a0" in only
    assert "a0" not in col.search(science, read_level=ReadLevel.INDEX_AND_WAL)["ids"][0]
    assert col.count(read_level=ReadLevel.INDEX_ONLY) == total  # the tail delete is not applied
    assert col.count() == total - 1
    with pytest.raises(ValueError, match="read_level must be one of"):
        col.count(read_level="eventually")
    with pytest.raises(ValueError, match="read_level must be one of"):
        col.search(Search(), read_level="eventually")


@pytest.mark.parametrize("payload, kind, message", [
    ({"rank": {}}, ValueError, "Rank dict cannot be empty"),
    ({"rank": {"$val": "x"}}, TypeError, "$val requires a number, got str"),
    ({"rank": {"$sum": [{"$val": 1}]}}, ValueError, "$sum requires at least 2 ranks, got 1"),
    ({"rank": {"$sub": {"left": {"$val": 1}}}}, ValueError, "$sub requires 'left' and 'right' fields"),
    ({"rank": {"$knn": {}}}, ValueError, "$knn requires 'query' field"),
    ({"rank": {"$knn": {"query": [1.0] * 5, "limit": 0}}}, ValueError, "$knn limit must be positive, got 0"),
    ({"rank": {"$knn": {"query": [1.0] * 5, "return_rank": 1}}}, TypeError, "$knn return_rank must be a boolean"),
    ({"rank": {"$pow": 2}}, ValueError, "Unknown rank operator: $pow"),
    ({"rank": {"$val": 1.0}}, errors.InvalidArgumentError, "must contain at least one Knn"),
    ({"filter": {}}, ValueError, "Where dict cannot be empty"),
    ({"filter": {"a": {"$in": 3}}}, TypeError, "$in requires a list, got int"),
    ({"filter": {"a": {"$like": 3}}}, ValueError, "Unknown operator: $like"),
    ({"filter": {"$or": [{"#id": "a1"}, {"year": 2020}]}}, errors.InvalidArgumentError, "#id filters are supported"),
    ({"limit": {"limit": 0}}, ValueError, "Limit limit must be positive, got 0"),
    ({"limit": {"offset": -1}}, ValueError, "Limit offset must be non-negative, got -1"),
    ({"select": {"keys": [1]}}, TypeError, "Select key must be a string, got int"),
    ({"group_by": {"keys": ["a"]}}, ValueError, "GroupBy requires 'aggregate' field"),
    ({"group_by": {"keys": ["a"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 0}}}}, ValueError,
     "$min_k k must be positive, got 0"),
    ({"rank": {"$knn": {"query": {"#type": "sparse_vector", "indices": [1], "values": [1.0]}}}},
     errors.InvalidArgumentError, "needs the metadata key of a sparse vector index"),
    ({"rank": {"$knn": {"query": [1.0] * 5, "key": "sparse"}}}, errors.InvalidArgumentError,
     "takes a sparse vector query"),
    ({"rank": {"$knn": {"query": {"#type": "sparse_vector", "indices": [2, 1], "values": [1.0, 1.0]}, "key": "s"}}},
     ValueError, "SparseVector indices must be sorted in strictly ascending order"),
    ({"rank": {"$knn": {"query": {"indices": [1], "values": [1.0]}, "key": "s"}}},
     ValueError, "Expected dict with #type='sparse_vector'"),
    ({"rank": {"$knn": {"query": [1.0] * 3}}}, errors.InvalidArgumentError, "dimension of 5, got 3"),
])
def test_bad_expressions_are_refused_with_chromas_messages(col: Any, payload: dict, kind: type,
                                                          message: str) -> None:
    """Malformed search dictionaries: chromadb 1.5.9's exception type and message."""
    with pytest.raises(kind) as info:
        col.search_payloads([payload])
    assert message in str(info.value)


def test_search_on_empty_collection_and_non_search() -> None:
    """An empty collection answers empty columns; a non-Search argument is a TypeError."""
    c = sedimentdb.EphemeralClient().create_collection("empty-one", embedding_function=None)
    assert c.search(Search().rank(Knn(query=[1.0, 2.0])).select(K.SCORE)) == {
        "ids": [[]], "documents": [None], "embeddings": [None], "metadatas": [None], "scores": [[]],
        "select": [["#score"]]}
    with pytest.raises(TypeError, match="Expected a Search"):
        c.search("find things")
