"""Hypothesis state machines: records and collections against plain models.

The records model is a dict plus an insertion order and brute-force kNN with Chroma's distance
functions; after every step the collection must hold exactly the model's ids (in order),
embeddings, documents and metadatas. Queries must find the true nearest neighbour (recall
>= 0.95 over a run at n_results=1) and report exact distances for every id they return.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

import sedimentdb as chromadb
from sedimentdb import errors, system

CI = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DIM = 4
ID_POOL = [f"id{i}" for i in range(14)]
KEYS = ["a", "b", "c"]

ids_st = st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=6, unique=True)
value_st = st.one_of(
    st.integers(-5, 5), st.sampled_from(["x", "y", "z"]), st.booleans(),
    st.floats(-5, 5, allow_nan=False, width=32),
)
new_metadata_st = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), value_st, min_size=1, max_size=3))
update_metadata_st = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), value_st), min_size=1, max_size=3)
)
document_st = st.one_of(st.none(), st.text(alphabet="abc xyz", min_size=1, max_size=12))


def distances(space: str, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Chroma's distances, in float64: squared L2, 1 - dot, 1 - cosine similarity."""
    q = query.astype(np.float64)
    v = vectors.astype(np.float64)
    if space == "l2":
        return ((v - q) ** 2).sum(axis=1)
    if space == "ip":
        return 1.0 - v @ q
    return 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))


def merge(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chroma's update rule: keys merge, None deletes."""
    if new is None:
        return old
    merged = dict(old or {})
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None


def vectors_for(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs[np.linalg.norm(vecs, axis=1) < 1e-3] += 1.0  # cosine needs non-zero vectors
    return vecs


class RecordsMachine(RuleBasedStateMachine):
    """add/update/upsert/delete/get/query/compact/reopen on one persistent collection."""

    def __init__(self) -> None:
        super().__init__()
        system.clear()
        self.path = tempfile.mkdtemp(prefix="sediment-sm-")
        self.settings = chromadb.Settings(sediment_durability="off", sediment_background_compaction=False)
        self.client = chromadb.PersistentClient(self.path, settings=self.settings)
        self.space = "l2"
        self.collection: Any = None
        self.model: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.hits = 0
        self.queries = 0

    @initialize(space=st.sampled_from(["l2", "ip", "cosine"]))
    def create(self, space: str) -> None:
        self.space = space
        self.collection = self.client.create_collection("records", metadata={"hnsw:space": space},
                                                        embedding_function=None)

    # ---- writes ---------------------------------------------------------------------------

    @rule(ids=ids_st, seed=st.integers(0, 2**32 - 1), data=st.data())
    def add(self, ids: list[str], seed: int, data: st.DataObject) -> None:
        vecs = vectors_for(seed, len(ids))
        docs = data.draw(st.lists(document_st, min_size=len(ids), max_size=len(ids)))
        metas = data.draw(st.lists(new_metadata_st, min_size=len(ids), max_size=len(ids)))
        self.collection.add(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        for i, id_ in enumerate(ids):
            if id_ not in self.model:  # an existing id is ignored
                self.model[id_] = {"embedding": vecs[i], "document": docs[i], "metadata": merge(None, metas[i])}
                self.order.append(id_)

    @rule(ids=ids_st, seed=st.integers(0, 2**32 - 1), data=st.data())
    def update(self, ids: list[str], seed: int, data: st.DataObject) -> None:
        with_vectors = data.draw(st.booleans())
        vecs = vectors_for(seed, len(ids)) if with_vectors else None
        # Documents without vectors would be re-embedded, and this collection has no function.
        docs = data.draw(st.one_of(st.none(), st.lists(document_st, min_size=len(ids), max_size=len(ids)))) \
            if with_vectors else None
        metas = data.draw(st.lists(update_metadata_st, min_size=len(ids), max_size=len(ids)))
        if vecs is None and docs is None and all(m is None for m in metas):
            metas = None
        self.collection.update(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        for i, id_ in enumerate(ids):
            self._apply_update(id_, i, vecs, docs, metas)

    def _apply_update(self, id_: str, i: int, vecs: Any, docs: Any, metas: Any) -> None:
        record = self.model.get(id_)
        if record is None:
            return  # a missing id is ignored
        if vecs is not None:
            record["embedding"] = vecs[i]
        if docs is not None and docs[i] is not None:
            record["document"] = docs[i]
        if metas is not None:
            record["metadata"] = merge(record["metadata"], metas[i])

    @rule(ids=ids_st, seed=st.integers(0, 2**32 - 1), data=st.data())
    def upsert(self, ids: list[str], seed: int, data: st.DataObject) -> None:
        vecs = vectors_for(seed, len(ids))
        docs = data.draw(st.lists(document_st, min_size=len(ids), max_size=len(ids)))
        metas = data.draw(st.lists(update_metadata_st, min_size=len(ids), max_size=len(ids)))
        self.collection.upsert(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        for i, id_ in enumerate(ids):
            if id_ in self.model:
                self._apply_update(id_, i, vecs, docs, metas)
            else:
                self.model[id_] = {"embedding": vecs[i], "document": docs[i], "metadata": merge(None, metas[i])}
                self.order.append(id_)

    @rule(ids=ids_st)
    def delete_ids(self, ids: list[str]) -> None:
        assert self.collection.delete(ids=ids) == {"deleted": len(ids)}
        for id_ in ids:
            if self.model.pop(id_, None) is not None:
                self.order.remove(id_)

    @rule(key=st.sampled_from(KEYS), value=value_st)
    def delete_where(self, key: str, value: Any) -> None:
        gone = [i for i in self.order if self._matches(i, key, value)]
        assert self.collection.delete(where={key: value}) == {"deleted": len(gone)}
        for id_ in gone:
            del self.model[id_]
            self.order.remove(id_)

    def _matches(self, id_: str, key: str, value: Any) -> bool:
        meta = self.model[id_]["metadata"] or {}
        if key not in meta:
            return False
        stored = meta[key]
        if isinstance(value, bool) or isinstance(stored, bool):
            return isinstance(value, bool) and isinstance(stored, bool) and value == stored
        if isinstance(value, str) or isinstance(stored, str):
            return type(value) is type(stored) and value == stored
        return float(stored) == float(value)

    # ---- maintenance ----------------------------------------------------------------------

    @rule()
    def compact(self) -> None:
        self.client._engine().compact()

    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = chromadb.PersistentClient(self.path, settings=self.settings)
        self.collection = self.client.get_collection("records", embedding_function=None)

    # ---- reads ----------------------------------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(seed=st.integers(0, 2**32 - 1), n_results=st.integers(1, 5))
    def query(self, seed: int, n_results: int) -> None:
        query = vectors_for(seed, 1)
        res = self.collection.query(query_embeddings=query, n_results=n_results,
                                    include=["distances", "documents", "metadatas"])
        ids = self.order
        truth = distances(self.space, query[0], np.stack([self.model[i]["embedding"] for i in ids]))
        got_ids, got_d = res["ids"][0], res["distances"][0]
        assert len(got_ids) == min(n_results, len(ids))
        assert len(set(got_ids)) == len(got_ids)
        for id_, d in zip(got_ids, got_d, strict=True):
            assert d == pytest.approx(truth[ids.index(id_)], rel=1e-3, abs=1e-4)
            assert res["documents"][0][got_ids.index(id_)] == self.model[id_]["document"]
            assert res["metadatas"][0][got_ids.index(id_)] == self.model[id_]["metadata"]
        assert got_d == sorted(got_d)
        self.queries += 1
        if got_d and got_d[0] == pytest.approx(truth.min(), rel=1e-3, abs=1e-4):
            self.hits += 1

    @rule(key=st.sampled_from(KEYS), value=value_st, needle=st.one_of(st.none(), st.sampled_from(["a", "x", "b z"])))
    def get_filtered(self, key: str, value: Any, needle: str | None) -> None:
        where_document = None if needle is None else {"$contains": needle}
        got = self.collection.get(where={key: value}, where_document=where_document)
        expected = [
            i for i in self.order
            if self._matches(i, key, value)
            and (needle is None or needle in (self.model[i]["document"] or ""))
        ]
        assert got["ids"] == expected

    @rule(ids=ids_st)
    def get_ids(self, ids: list[str]) -> None:
        got = self.collection.get(ids=ids)
        assert got["ids"] == [i for i in self.order if i in ids]

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def state_matches_model(self) -> None:
        if self.collection is None:
            return
        assert self.collection.count() == len(self.model)
        got = self.collection.get(include=["embeddings", "documents", "metadatas"])
        assert got["ids"] == self.order
        assert len(set(got["ids"])) == len(got["ids"])
        assert got["documents"] == [self.model[i]["document"] for i in self.order]
        assert got["metadatas"] == [self.model[i]["metadata"] for i in self.order]
        if self.order:
            expected = np.stack([self.model[i]["embedding"] for i in self.order])
            np.testing.assert_array_equal(got["embeddings"], expected)

    def teardown(self) -> None:
        try:
            if self.queries:
                assert self.hits / self.queries >= 0.95
        finally:
            self.client.close()
            system.clear()
            shutil.rmtree(self.path, ignore_errors=True)


TestRecords = RecordsMachine.TestCase
TestRecords.settings = CI


NAMES = ["alpha", "beta", "gamma", "delta"]
collection_metadata_st = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), value_st, min_size=1, max_size=2))


class CollectionsMachine(RuleBasedStateMachine):
    """create/get/get_or_create/modify/delete/list on one database."""

    names = Bundle("names")

    def __init__(self) -> None:
        super().__init__()
        system.clear()
        self.client = chromadb.EphemeralClient()
        self.model: dict[str, dict[str, Any] | None] = {}

    @rule(target=names, name=st.sampled_from(NAMES), metadata=collection_metadata_st)
    def create(self, name: str, metadata: dict[str, Any] | None) -> str:
        if name in self.model:
            with pytest.raises(errors.ChromaError, match=r"already exists"):
                self.client.create_collection(name, metadata=metadata, embedding_function=None)
        else:
            col = self.client.create_collection(name, metadata=metadata, embedding_function=None)
            assert col.name == name and col.metadata == metadata
            self.model[name] = metadata
        return name

    @rule(name=st.sampled_from(NAMES), metadata=collection_metadata_st)
    def get_or_create(self, name: str, metadata: dict[str, Any] | None) -> None:
        col = self.client.get_or_create_collection(name, metadata=metadata, embedding_function=None)
        self.model.setdefault(name, metadata)
        assert col.metadata == self.model[name]

    @rule(name=st.sampled_from(NAMES))
    def get(self, name: str) -> None:
        if name in self.model:
            assert self.client.get_collection(name).metadata == self.model[name]
        else:
            with pytest.raises(errors.NotFoundError):
                self.client.get_collection(name)

    @rule(name=names, new_name=st.one_of(st.none(), st.sampled_from(NAMES)), metadata=collection_metadata_st)
    def modify(self, name: str, new_name: str | None, metadata: dict[str, Any] | None) -> None:
        if name not in self.model:
            return
        col = self.client.get_collection(name, embedding_function=None)
        if new_name is not None and new_name != name and new_name in self.model:
            with pytest.raises(errors.ChromaError, match=r"already exists"):
                col.modify(name=new_name, metadata=metadata)
            return
        col.modify(name=new_name, metadata=metadata)
        old = self.model.pop(name)
        self.model[new_name or name] = metadata if metadata is not None else old

    @rule(name=consumes(names))
    def delete(self, name: str) -> None:
        if name in self.model:
            self.client.delete_collection(name)
            del self.model[name]
        else:
            with pytest.raises(errors.NotFoundError):
                self.client.delete_collection(name)

    @invariant()
    def listing_matches_model(self) -> None:
        listed = self.client.list_collections()
        assert sorted(c.name for c in listed) == sorted(self.model)
        assert {c.name: c.metadata for c in listed} == self.model
        assert self.client.count_collections() == len(self.model)
        assert [str(c.id) for c in listed] == sorted(str(c.id) for c in listed)

    def teardown(self) -> None:
        self.client.close()
        system.clear()


TestCollections = CollectionsMachine.TestCase
TestCollections.settings = CI
