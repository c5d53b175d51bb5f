"""Sparse vectors, BM25 and hybrid search, embedded: Chroma's documentation examples
(cloud/schema/sparse-vector-search, cloud/search-api/hybrid-search, embedding-models/chroma-bm25)
run as tests, plus persistence, compaction, updates and validation."""

from __future__ import annotations

import pytest

import sedimentdb
from sedimentdb import K, Knn, Rrf, Schema, Search, SparseVector, SparseVectorIndexConfig, errors
from sedimentdb.utils.embedding_functions import ChromaBm25EmbeddingFunction, HashingEmbeddingFunction

DOCS = ["The quick brown fox jumps over the lazy dog", "A fast auburn fox leaps over a sleepy canine",
        "Machine learning is a subset of artificial intelligence"]
METAS = [{"category": "animals"}, {"category": "animals"}, {"category": "technology"}]


def hybrid_schema() -> Schema:
    """The docs' schema: a sparse index on "sparse_embedding" computed from the documents."""
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT,
                                                       embedding_function=ChromaBm25EmbeddingFunction()),
                        key="sparse_embedding")
    return schema


@pytest.fixture
def collection():
    client = sedimentdb.EphemeralClient()
    col = client.create_collection("hybrid_search_collection", schema=hybrid_schema(),
                                   embedding_function=HashingEmbeddingFunction())
    col.add(ids=["doc1", "doc2", "doc3"], documents=DOCS, metadatas=METAS)
    return col


def bm25_score(query: str, document: str) -> float:
    """Chroma's sparse Knn score by hand: 1 - BM25(query) . BM25(document)."""
    ef = ChromaBm25EmbeddingFunction()
    q, d = ef.embed_query([query])[0], ef([document])[0]
    dv = dict(zip(d.indices, d.values, strict=True))
    return 1.0 - sum(v * dv[i] for i, v in zip(q.indices, q.values, strict=True) if i in dv)


def test_bm25_doc_example():
    bm25_ef = ChromaBm25EmbeddingFunction(k=1.2, b=0.75, avg_doc_length=256.0, token_max_length=40)
    sparse_embeddings = bm25_ef(["Hello, world!", "How are you?"])
    assert len(sparse_embeddings[0].indices) == 2  # "hello", "world"
    assert sparse_embeddings[1] == SparseVector(indices=[], values=[])  # only stopwords


def test_schema_is_stored_and_returned(collection):
    index = collection.schema.keys["sparse_embedding"].sparse_vector.sparse_vector_index
    assert index.enabled and index.config.source_key == "#document"
    assert isinstance(index.config.embedding_function, ChromaBm25EmbeddingFunction)
    meta = collection.get(ids=["doc1"], include=["metadatas"])["metadatas"][0]
    assert meta["category"] == "animals"
    assert meta["sparse_embedding"] == ChromaBm25EmbeddingFunction()([DOCS[0]])[0]


def test_sparse_vector_search_doc_example(collection):
    sparse_rank = Knn(query="fox animal", key="sparse_embedding")
    search = Search().rank(sparse_rank).limit(10).select(K.DOCUMENT, K.SCORE)
    results = collection.search(search)
    rows = results.rows()[0]
    assert {row["id"] for row in rows} == {"doc1", "doc2"}  # doc3 shares no token with the query
    for row in rows:
        assert row["score"] == pytest.approx(bm25_score("fox animal", row["document"]))


def test_hybrid_search_doc_example(collection):
    hybrid_rank = Rrf(ranks=[Knn(query="fox animal", return_rank=True),
                             Knn(query="fox animal", key="sparse_embedding", return_rank=True)],
                      weights=[0.7, 0.3], k=60)
    results = collection.search(Search().rank(hybrid_rank).limit(10).select(K.DOCUMENT, K.SCORE))
    dense = collection.search(Search().rank(Knn(query="fox animal", return_rank=True)))["ids"][0]
    sparse = collection.search(Search().rank(Knn(query="fox animal", key="sparse_embedding",
                                                 return_rank=True)))["ids"][0]
    # Both Knns have default=None: candidates are in both lists; score -(0.7/(60+r1) + 0.3/(60+r2)).
    want = sorted((-(0.7 / (60 + dense.index(i)) + 0.3 / (60 + sparse.index(i))), i)
                   for i in set(dense) & set(sparse))
    assert results["ids"][0] == [i for _, i in want]
    assert results["scores"][0] == pytest.approx([s for s, _ in want])


def test_hybrid_with_filter_and_weights_doc_examples(collection):
    collection.update(ids=["doc1"], metadatas=[{"status": "published", "title": "Fox"}])
    collection.update(ids=["doc3"], metadatas=[{"status": "published", "title": "ML"}])
    dense_rank = Knn(query="machine learning research", key="#embedding", return_rank=True, limit=200)
    sparse_rank = Knn(query="machine learning research", key="sparse_embedding", return_rank=True, limit=200)
    search = (Search().where(K("status") == "published")
              .rank(Rrf(ranks=[dense_rank, sparse_rank], weights=[0.7, 0.3], k=60))
              .limit(20).select(K.DOCUMENT, K.SCORE, "title"))
    results = collection.search(search)
    assert results["ids"][0] == ["doc3"]  # doc1 is published but shares no token with the query
    assert results.rows()[0][0]["metadata"] == {"title": "ML"}
    normalized = Rrf(ranks=[Knn(query="fox", return_rank=True, default=10.0),
                            Knn(query="fox", key="sparse_embedding", return_rank=True)],
                     weights=[75, 25], normalize=True)
    assert set(collection.search(Search().rank(normalized))["ids"][0]) == {"doc1", "doc2"}


def test_sparse_given_directly_and_explicit_query():
    col = sedimentdb.EphemeralClient().create_collection("direct", embedding_function=None)
    col.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0]] * 3,
            metadatas=[{"sv": SparseVector(indices=[1, 7], values=[2.0, 1.0])},
                       {"sv": {"#type": "sparse_vector", "indices": [7], "values": [5.0]}}, {"x": 1}])
    got = col.search(Search().rank(Knn(query=SparseVector(indices=[7], values=[1.0]), key="sv")).select(K.SCORE))
    assert got["ids"] == [["b", "a"]] and got["scores"] == [[-4.0, 0.0]]
    assert col.get(ids=["b"])["metadatas"][0]["sv"] == SparseVector(indices=[7], values=[5.0])
    with pytest.raises(ValueError, match="Cannot embed string query for key 'sv': no embedding function"):
        col.search(Search().rank(Knn(query="text", key="sv")))  # no sparse index, no function


def test_survives_reopen_and_compaction_and_updates(tmp_path):
    client = sedimentdb.PersistentClient(path=str(tmp_path))
    col = client.create_collection("persisted", schema=hybrid_schema(), embedding_function=HashingEmbeddingFunction())
    col.add(ids=[f"d{i}" for i in range(3)], documents=DOCS)
    col.upsert(ids=["d3"], documents=["Foxes everywhere, fox after fox"])
    col.update(ids=["d2"], documents=["A fox learns machine learning"])  # recomputed from the new text
    search = Search().rank(Knn(query="fox", key="sparse_embedding")).select(K.SCORE)
    before = col.search(search)
    assert set(before["ids"][0]) == {"d0", "d1", "d2", "d3"}
    client._engine().compact(col.get_model().id)
    assert col.search(search) == before
    del client
    sedimentdb.system.clear()
    reopened = sedimentdb.PersistentClient(path=str(tmp_path)).get_collection("persisted")
    assert reopened.search(search) == before
    index = reopened.schema.keys["sparse_embedding"].sparse_vector.sparse_vector_index
    assert isinstance(index.config.embedding_function, ChromaBm25EmbeddingFunction)


def test_source_key_from_metadata():
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(source_key="body", embedding_function=ChromaBm25EmbeddingFunction()),
                        key="sv")
    col = sedimentdb.EphemeralClient().create_collection("from_meta", schema=schema, embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]], metadatas=[{"body": "red apples"}, {"other": 3}])
    metas = col.get(include=["metadatas"])["metadatas"]
    assert metas[0]["sv"] == ChromaBm25EmbeddingFunction()(["red apples"])[0]
    assert "sv" not in metas[1]


def test_bad_sparse_values_are_refused():
    col = sedimentdb.EphemeralClient().create_collection("bad", embedding_function=None)
    with pytest.raises(errors.InvalidArgumentError, match="NaN or infinite"):
        col.add(ids=["a"], embeddings=[[1.0]], metadatas=[{"sv": SparseVector(indices=[1], values=[float("nan")])}])
    with pytest.raises(ValueError, match="SparseVector indices must be non-negative"):
        SparseVector(indices=[-1], values=[1.0])
    with pytest.raises(errors.InvalidArgumentError, match="needs the metadata key of a sparse vector index"):
        col.search(Search().rank(Knn(query=SparseVector(indices=[1], values=[1.0]))))
    assert col.count() == 0
