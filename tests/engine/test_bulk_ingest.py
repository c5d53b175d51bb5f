"""Bulk ingest (engine/bulk.py): new records straight into a segment, one log record, one manifest."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.parts import SegmentPart, TailPart
from sedimentdb.engine.storage_errors import InvalidArgumentError
from sedimentdb.engine.wal import scan
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

from .helpers import Model, clustered
from .test_database import assert_matches

T, D = DEFAULT_TENANT, DEFAULT_DATABASE


def _open(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False, **kw}))


def _columns(n: int, dim: int = 8, seed: int = 3, prefix: str = "r"):
    vecs = clustered(n, dim, seed=seed)
    ids = [f"{prefix}{i}" for i in range(n)]
    docs = [f"doc {i}" if i % 3 else None for i in range(n)]
    metas = [{"i": i, "f": i / 3, "b": i % 2 == 0, "s": f"t{i % 5}", "drop": None} if i % 4 else None
             for i in range(n)]
    uris = [f"u{i}" if i % 7 == 0 else None for i in range(n)]
    return ids, vecs, docs, metas, uris


def _model(ids, vecs, docs, metas, space="l2") -> Model:
    model = Model(space)
    model.add(ids, vecs, docs, [None if m is None else {k: v for k, v in m.items() if v is not None}
                                for m in metas])
    return model


def test_bulk_ingest_writes_one_segment_one_log_record_and_one_manifest(tmp_path):
    ids, vecs, docs, metas, uris = _columns(3000)
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        manifests = db.manifests[-1].generation if db.manifests else 0
        lsn = db.bulk_ingest(cid, ids, vecs, docs, metas, uris)
        cs = db.collections[cid]
        assert [type(p) for p in cs.parts if p.count] == [SegmentPart]
        assert cs.checkpoint_lsn == lsn and db.last_lsn == lsn
        assert db.manifests[-1].collections[cid]["checkpoint_lsn"] == lsn
        assert db.manifests[-1].generation == manifests + 1
        seg = cs.segments()[0].segment
        assert not seg.descriptor.has_graph  # built later by the compactor
        assert_matches(db, cid, _model(ids, vecs, docs, metas))
        assert db.get(cid, ids=["r7"], include=Include(uris=True)).uris == ["u7"]
        assert db.count(cid) == 3000
    batches = [r for r in scan(str(tmp_path / "wal"), fs=OsFileSystem()) if isinstance(r.record, WriteBatch)]
    assert len(batches) == 1 and batches[0].lsn == lsn
    assert batches[0].record.op == WriteOp.ADD and batches[0].record.ids == ids
    with _open(tmp_path) as db:  # the manifest covers the record: nothing replayed into a tail
        cs = db.collections[cid]
        assert all(p.count == 0 for p in cs.parts if isinstance(p, TailPart))
        assert_matches(db, cid, _model(ids, vecs, docs, metas))


def test_bulk_ingest_answers_queries_and_filters_exactly_before_the_graph_exists(tmp_path):
    ids, vecs, docs, metas, uris = _columns(2000, dim=16)
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c", metadata={"hnsw:space": "cosine"}).id
        db.bulk_ingest(cid, ids, vecs, docs, metas, uris)
        q = vecs[:5] + np.float32(0.01)
        got = db.query(cid, q, 10)
        model = _model(ids, vecs, docs, metas, "cosine")
        for k in range(5):
            assert got[k].ids == [i for i, _ in model.knn(q[k], 10)]
        hits = db.get(cid, where={"s": "t3"})
        assert hits.ids == [i for i, m in zip(ids, metas, strict=True) if m and m["s"] == "t3"]
        hits = db.get(cid, where_document={"$contains": "doc 1"})
        assert hits.ids == [i for i, d in zip(ids, docs, strict=True) if d and "doc 1" in d]


def test_the_compactor_builds_the_graph_later_and_nothing_changes(tmp_path):
    ids, vecs, docs, metas, uris = _columns(3000)
    with _open(tmp_path, max_segment_records=2000) as db:
        cid = db.create_collection(T, D, "c").id
        db.bulk_ingest(cid, ids, vecs, docs, metas, uris)
        before = db.query(cid, vecs[:3], 5)
        db.compact()
        segs = db.collections[cid].segments()
        # Built in cap-sized outputs (2000 + 1000), which compact() then grows into one graph
        # (compactor/policy.py: pick_growth).
        assert [s.segment.descriptor.has_graph for s in segs] == [True]
        assert sum(s.count for s in segs) == 3000
        assert_matches(db, cid, _model(ids, vecs, docs, metas))
        assert [r.ids for r in db.query(cid, vecs[:3], 5)] == [r.ids for r in before]
        db.compact()  # nothing left to do: no endless rewrite
        assert [s.segment.descriptor.segment_id for s in db.collections[cid].segments()] == \
            [s.segment.descriptor.segment_id for s in segs]


def test_writes_after_a_bulk_ingest_and_reopen_are_exact(tmp_path):
    ids, vecs, docs, metas, uris = _columns(1500)
    model = _model(ids, vecs, docs, metas)
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.bulk_ingest(cid, ids, vecs, docs, metas, uris)
        db.delete(cid, ids=["r1", "r2"])
        db.update(cid, ["r5"], metadatas=[{"i": None, "new": 1}])
        extra = clustered(3, 8, seed=9)
        db.add(cid, ["x0", "x1", "x2"], extra)
        for i in ("r1", "r2"):
            model.rows.pop(i)
        model.update(["r5"], metas=[{"i": None, "new": 1}])
        model.add(["x0", "x1", "x2"], extra)
        assert_matches(db, cid, model)
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)
        db.compact()
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_a_second_bulk_ingest_adds_new_ids_and_refuses_existing_ones(tmp_path):
    a = _columns(1200)
    b = _columns(1100, seed=4, prefix="s")
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.bulk_ingest(cid, *a)
        with pytest.raises(InvalidArgumentError, match="'r3' already exists"):
            db.bulk_ingest(cid, ["new", "r3"], np.zeros((2, 8), dtype=np.float32))
        db.bulk_ingest(cid, *b)
        model = _model(*a[:4])
        for k, v in _model(*b[:4]).rows.items():
            model.rows[k] = v
        assert_matches(db, cid, model)
        assert db.get(cid, limit=2, offset=1199).ids == ["r1199", "s0"]  # insertion order kept


def test_metadata_is_stored_as_add_stores_it():
    from sedimentdb.engine.bulk import stored_metadata
    metas = [None, {}, {"a": None}, {"a": 1, "b": None}, {"s": "null"}, {"n": [1, None]}, {"x": 1.0}]
    assert stored_metadata(metas) == [None, None, None, '{"a":1}', '{"s":"null"}', '{"n":[1,null]}', '{"x":1.0}']


def test_metadata_given_as_stored_texts_is_kept_and_logged_as_the_maps(tmp_path):
    import json

    from sedimentdb.engine.bulk import stored_metadata
    ids, vecs, docs, metas, uris = _columns(300)
    texts = [None if m is None else json.dumps(m, separators=(",", ":")) for m in metas]
    assert stored_metadata(texts) == stored_metadata(metas)  # "null" values stripped, {} is none
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        lsn = db.bulk_ingest(cid, ids, vecs, docs, texts, uris)
        assert db.collections[cid].segments()[0].segment.all_metadata_texts() == stored_metadata(metas)
        assert_matches(db, cid, _model(ids, vecs, docs, metas))
    logged = next(r.record for r in scan(str(tmp_path / "wal"), fs=OsFileSystem()) if r.lsn == lsn)
    assert logged.metadatas == [None if m is None else {k: v for k, v in m.items() if v is not None}
                                for m in metas]
    with _open(tmp_path) as db:
        assert_matches(db, cid, _model(ids, vecs, docs, metas))


def test_stored_texts_go_through_the_tail_as_maps(tmp_path):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, ["a"], np.ones((1, 8), dtype=np.float32))
        db.bulk_ingest(cid, ["b", "c"], np.ones((2, 8), dtype=np.float32), None, ['{"k":1}', None])
        assert db.get(cid, ids=["b", "c"], include=Include(metadatas=True)).metadatas == [{"k": 1}, None]


def test_bulk_ingest_after_plain_adds_goes_through_the_tail_and_stays_exact(tmp_path):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, ["a"], np.ones((1, 8), dtype=np.float32))
        ids, vecs, docs, metas, uris = _columns(50)
        db.bulk_ingest(cid, ids, vecs, docs, metas, uris)  # the tail holds "a": no segment
        assert not db.collections[cid].segments()
        assert db.count(cid) == 51
    with _open(tmp_path) as db:
        assert db.count(cid) == 51


@pytest.mark.parametrize("bad, message", [
    (dict(ids=["a", "a"]), "'a' repeats"),
    (dict(embeddings=np.zeros((2, 3), dtype=np.float32)), "dimension of 8"),
    (dict(embeddings=np.zeros((3, 8), dtype=np.float32)), r"shape \(2, dim\)"),
    (dict(documents=["x"]), "documents has 1 entries for 2 ids"),
    (dict(embeddings=None), "needs embeddings"),
    (dict(metadatas=[{"a": 1}, ["x"]]), "metadata of record 1 is a list"),
    (dict(metadatas=[{"a": object()}, None]), "metadata cannot be stored"),
    (dict(metadatas=['{"a":1}', '{"a":']), "metadata cannot be stored: a metadata text is not valid JSON"),
    (dict(metadatas=['{"a":1}', "[1]"]), "metadata text of record 1 is not one JSON object"),
    (dict(metadatas=['{"a":1}', '{"a":1},{"b":2}']), "metadata cannot be stored"),
])
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, bad, message):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c", dimension=8).id
        last = db.last_lsn
        args = dict(ids=["a", "b"], embeddings=np.zeros((2, 8), dtype=np.float32)) | bad
        with pytest.raises(InvalidArgumentError, match=message):
            db.bulk_ingest(cid, **args)
        assert db.last_lsn == last and db.count(cid) == 0


def test_a_failed_segment_write_leaves_the_durable_records_in_the_tail(tmp_path, monkeypatch):
    import sedimentdb.engine.bulk as bulk

    def broken(*args, **kwargs):
        raise OSError("disk full")

    ids, vecs, docs, metas, uris = _columns(1200)
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        monkeypatch.setattr(bulk, "write_segment", broken)
        db.bulk_ingest(cid, ids, vecs, docs, metas, uris)  # logged: acknowledged
        assert not db.collections[cid].segments()
        assert_matches(db, cid, _model(ids, vecs, docs, metas))
    monkeypatch.undo()
    with _open(tmp_path) as db:  # replayed from the log
        assert_matches(db, cid, _model(ids, vecs, docs, metas))
