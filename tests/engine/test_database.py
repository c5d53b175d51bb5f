"""The database core: catalog, writes, reads, reopen and compaction, against a model."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    LockedError,
    NotFoundError,
)

from .helpers import Model, clustered

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True)
OPTS = DatabaseOptions(background_compaction=False)


def open_db(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False, **kw}))


def snapshot(db: Database, cid: str) -> dict:
    r = db.get(cid, include=ALL)
    return {i: (r.embeddings[k].tobytes(), r.documents[k], r.metadatas[k], r.uris[k]) for k, i in enumerate(r.ids)}


def assert_matches(db: Database, cid: str, model: Model) -> None:
    r = db.get(cid, include=ALL)
    assert sorted(r.ids) == sorted(model.rows)
    assert db.count(cid) == len(model.rows)
    for k, id_ in enumerate(r.ids):
        v, d, m = model.rows[id_]
        assert r.embeddings[k].tobytes() == v.astype(np.float32).tobytes()
        assert r.documents[k] == d
        assert r.metadatas[k] == m


def test_fresh_database_has_default_tenant_and_database(tmp_path):
    with open_db(tmp_path) as db:
        assert db.has_tenant(T)
        assert db.get_database(T, D).name == D


def test_catalog_errors(tmp_path):
    with open_db(tmp_path) as db:
        db.create_collection(T, D, "a")
        with pytest.raises(AlreadyExistsError):
            db.create_collection(T, D, "a")
        with pytest.raises(NotFoundError):
            db.get_collection(T, D, "missing")
        with pytest.raises(NotFoundError):
            db.create_database("nope", "x")
        with pytest.raises(AlreadyExistsError):
            db.create_tenant(T)


def test_second_writer_is_refused(tmp_path):
    with open_db(tmp_path):
        with pytest.raises(LockedError):
            open_db(tmp_path)


def test_write_semantics_match_chroma_quirks():
    db = Database.in_memory(OPTS)
    cid = db.create_collection(T, D, "c").id
    v = np.eye(3, dtype=np.float32)
    db.add(cid, ["a", "b"], v[:2], documents=["A", "B"], metadatas=[{"k": 1, "s": "x"}, None])
    db.add(cid, ["a"], v[2:3], documents=["ignored"])  # existing id: ignored
    db.update(cid, ["a", "zzz"], metadatas=[{"k": None, "n": 2}, {"q": 1}])  # merge, None deletes; missing ignored
    db.upsert(cid, ["b", "c"], v[[2, 2]], documents=[None, "C"], metadatas=[{"t": True}, {"u": 1}])
    r = db.get(cid, include=ALL)
    assert r.ids == ["a", "b", "c"]
    assert r.documents == ["A", "B", "C"]
    assert r.metadatas == [{"s": "x", "n": 2}, {"t": True}, {"u": 1}]
    assert r.embeddings[1].tolist() == [0, 0, 1]
    assert db.delete(cid, ids=["a", "nope"]) == 1
    assert db.count(cid) == 2
    db.close()


def test_dimension_is_fixed_by_first_add():
    db = Database.in_memory(OPTS)
    cid = db.create_collection(T, D, "c").id
    db.add(cid, ["a"], np.ones((1, 3), np.float32))
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 4"):
        db.add(cid, ["b"], np.ones((1, 4), np.float32))
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 2"):
        db.query(cid, np.ones((1, 2), np.float32), 1)


@pytest.mark.parametrize("compact", [False, True])
def test_reopen_is_exact(tmp_path, compact):
    vecs = clustered(500, 16)
    with open_db(tmp_path, compact_tail_records=100) as db:
        cid = db.create_collection(T, D, "c", metadata={"hnsw:space": "cosine"}).id
        for s in range(0, 500, 100):
            ids = [f"id{i}" for i in range(s, s + 100)]
            db.add(cid, ids, vecs[s:s + 100], documents=[f"doc {i}" for i in range(s, s + 100)],
                   metadatas=[{"i": i, "even": i % 2 == 0} for i in range(s, s + 100)])
            if compact:
                db.compact()
        db.update(cid, ["id3", "id250"], metadatas=[{"i": None, "u": 1.5}, {"x": "y"}])
        db.delete(cid, where={"i": {"$lt": 10}})
        before = snapshot(db, cid)
        q = db.query(cid, vecs[:5], 7, include=ALL)
    with open_db(tmp_path) as db:
        assert snapshot(db, cid) == before
        q2 = db.query(cid, vecs[:5], 7, include=ALL)
        assert [r.ids for r in q2] == [r.ids for r in q]
        assert [r.distances for r in q2] == [r.distances for r in q]


def test_compaction_keeps_state_and_frees_log(tmp_path):
    vecs = clustered(3000, 8, seed=1)
    model = Model("l2")
    with open_db(tmp_path, wal_roll_bytes=64 * 1024) as db:
        cid = db.create_collection(T, D, "c").id
        for s in range(0, 3000, 500):
            ids = [f"r{i}" for i in range(s, s + 500)]
            metas = [{"g": i % 10} for i in range(s, s + 500)]
            db.add(cid, ids, vecs[s:s + 500], metadatas=metas)
            model.add(ids, vecs[s:s + 500], metas=metas)
        logs_before = len(db.wal.files())
        db.compact()
        assert len(db.wal.files()) < logs_before
        db.delete(cid, ids=[f"r{i}" for i in range(0, 3000, 3)])
        model.delete([f"r{i}" for i in range(0, 3000, 3)])
        db.update(cid, ["r1"], embeddings=vecs[:1] * 2)
        model.update(["r1"], vecs[:1] * 2)
        assert_matches(db, cid, model)
        db.compact()
        assert_matches(db, cid, model)
    with open_db(tmp_path) as db:
        assert_matches(db, cid, model)
        got = db.query(cid, vecs[5:6], 10)[0]
        want = model.knn(vecs[5], 10)
        assert len(set(got.ids) & {i for i, _ in want}) >= 9


def test_delete_collection_frees_its_files(tmp_path):
    with open_db(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, [str(i) for i in range(100)], clustered(100, 4))
        db.compact()
        assert os.listdir(tmp_path / "segments")
        db.delete_collection(cid)
        assert os.listdir(tmp_path / "segments") == []


def test_filtered_query_and_get_agree_with_model():
    db = Database.in_memory(OPTS)
    cid = db.create_collection(T, D, "c").id
    vecs = clustered(2000, 8, seed=3)
    ids = [f"x{i}" for i in range(2000)]
    metas = [{"g": i % 10, "f": i / 7} for i in range(2000)]
    db.add(cid, ids[:1000], vecs[:1000], metadatas=metas[:1000])
    db.compact()
    db.add(cid, ids[1000:], vecs[1000:], metadatas=metas[1000:])
    model = Model("l2")
    model.add(ids, vecs, metas=metas)
    allowed = {i for i, m in zip(ids, metas, strict=True) if m["g"] == 3}
    got = db.get(cid, where={"g": 3})
    assert got.ids == [i for i in ids if i in allowed]  # insertion order across segment and tail
    for q in range(5):
        res = db.query(cid, vecs[q * 100:q * 100 + 1], 10, where={"g": 3})[0]
        want = model.knn(vecs[q * 100], 10, allowed)
        assert res.ids == [i for i, _ in want]
        assert np.allclose(res.distances, [d for _, d in want], rtol=1e-5, atol=1e-5)
    db.close()
