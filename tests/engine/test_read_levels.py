"""Read levels in the engine (engine/read_levels.py): INDEX_ONLY sees the segments as compacted,
INDEX_AND_BOUNDED_WAL a bounded prefix of the log tail, INDEX_AND_WAL everything."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.options import DatabaseOptions

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
DOCS = Include(embeddings=False, documents=True, metadatas=True, uris=False, distances=False)
ALL, ONLY, BOUNDED = "index_and_wal", "index_only", "index_and_bounded_wal"
SV = {"#type": "sparse_vector", "indices": [1], "values": [1.0]}


def vec(i: int) -> np.ndarray:
    return np.array([[float(i), 1.0, 0.0]], dtype=np.float32)


def open_db(path, bound: int = 1000) -> Database:
    return Database.open(str(path), DatabaseOptions(background_compaction=False, bounded_wal_records=bound))


def ids(db: Database, cid: str, level: str, **kw) -> list[str]:
    return db.get(cid, include=DOCS, read_level=level, **kw).ids


def nearest(db: Database, cid: str, level: str, i: int, k: int = 10, **kw) -> list[str]:
    return db.query(cid, vec(i), k, read_level=level, **kw)[0].ids


def sparse(db: Database, cid: str, level: str) -> list[str]:
    return db.sparse_query(cid, "sv", [1], [1.0], 10, read_level=level).ids


@pytest.fixture
def db(tmp_path):
    with open_db(tmp_path) as d:
        yield d


def test_tail_add_visible_only_with_wal_until_compacted(db):
    cid = db.create_collection(T, D, "c").id
    db.add(cid, ["old"], vec(1), metadatas=[{"sv": SV}])
    db.compact(cid)
    db.add(cid, ["new"], vec(2), metadatas=[{"sv": SV}])
    assert ids(db, cid, ALL) == ["old", "new"]
    assert ids(db, cid, ONLY) == ["old"]
    assert nearest(db, cid, ALL, 2) == ["new", "old"]
    assert nearest(db, cid, ONLY, 2) == ["old"]
    assert sorted(sparse(db, cid, ALL)) == ["new", "old"] and sparse(db, cid, ONLY) == ["old"]
    assert ids(db, cid, ONLY, ids=["new", "old"]) == ["old"]
    assert db.count(cid, ONLY) == 1 and db.count(cid, ALL) == 2
    db.compact(cid)
    for level in (ALL, ONLY, BOUNDED):
        assert ids(db, cid, level) == ["old", "new"], level
        assert nearest(db, cid, level, 2) == ["new", "old"], level


def test_tail_delete_and_update_of_compacted_record_apply_only_with_wal(db):
    cid = db.create_collection(T, D, "c").id
    db.add(cid, ["a", "b", "c"], np.vstack([vec(1), vec(2), vec(3)]), documents=["a0", "b0", "c0"])
    db.compact(cid)
    db.delete(cid, ["a"])
    db.update(cid, ["b"], documents=["b1"])
    assert ids(db, cid, ALL) == ["b", "c"]
    assert ids(db, cid, ONLY) == ["a", "b", "c"]
    assert db.get(cid, ids=["b"], include=DOCS, read_level=ONLY).documents == ["b0"]
    assert db.get(cid, ids=["b"], include=DOCS, read_level=ALL).documents == ["b1"]
    assert db.get(cid, ids=["a", "b"], include=DOCS, read_level=ONLY).documents == ["a0", "b0"]
    assert nearest(db, cid, ONLY, 1, ids=["a"]) == ["a"]
    assert nearest(db, cid, ALL, 1, ids=["a"]) == []
    assert db.get(cid, where_document={"$contains": "b0"}, include=DOCS, read_level=ONLY).ids == ["b"]
    assert db.get(cid, where_document={"$contains": "b0"}, include=DOCS, read_level=ALL).ids == []
    db.compact(cid)
    assert ids(db, cid, ONLY) == ["b", "c"]
    assert db.get(cid, ids=["b"], include=DOCS, read_level=ONLY).documents == ["b1"]


def test_bounded_wal_reads_a_prefix_of_the_tail(tmp_path):
    with open_db(tmp_path, bound=2) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, ["s"], vec(0))
        db.compact(cid)
        for i in range(4):  # four log records after the checkpoint
            db.add(cid, [f"t{i}"], vec(i + 1))
        assert ids(db, cid, BOUNDED) == ["s", "t0", "t1"]
        db.delete(cid, ["t0"])  # the fifth record: beyond the bound, not applied
        assert ids(db, cid, BOUNDED) == ["s", "t0", "t1"]
        assert ids(db, cid, ALL) == ["s", "t1", "t2", "t3"]
        db.compact(cid)
        assert ids(db, cid, BOUNDED) == ["s", "t1", "t2", "t3"]
    with open_db(tmp_path, bound=0) as db:  # reopen: the bound comes from the options; 0 is INDEX_ONLY
        cid = db.get_collection(T, D, "c").id
        db.add(cid, ["u"], vec(9))
        assert ids(db, cid, BOUNDED) == ids(db, cid, ONLY) == ["s", "t1", "t2", "t3"]


def test_bounded_wal_within_bound_sees_everything_and_survives_reopen(tmp_path):
    with open_db(tmp_path, bound=3) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, ["a"], vec(1))
        db.add(cid, ["b"], vec(2))
        db.update(cid, ["a"], documents=["a1"])
        assert ids(db, cid, BOUNDED) == ids(db, cid, ALL) == ["a", "b"]
        db.add(cid, ["c"], vec(3))
        assert ids(db, cid, BOUNDED) == ["a", "b"]
    with open_db(tmp_path, bound=3) as db:  # replayed tail: same answer
        cid = db.get_collection(T, D, "c").id
        assert ids(db, cid, BOUNDED) == ["a", "b"]
        assert db.get(cid, ids=["a"], include=DOCS, read_level=BOUNDED).documents == ["a1"]
        assert ids(db, cid, ONLY) == []


def test_unknown_read_level_and_bad_bound_are_refused(db):
    cid = db.create_collection(T, D, "c").id
    with pytest.raises(ValueError, match="read_level must be one of"):
        db.get(cid, read_level="sometimes")
    with pytest.raises(ValueError, match="bounded_wal_records"):
        DatabaseOptions(bounded_wal_records=-1)


def test_bulk_ingested_segment_is_index(db):
    """A bulk ingest writes a segment and moves the checkpoint: INDEX_ONLY sees its records."""
    cid = db.create_collection(T, D, "c").id
    db.bulk_ingest(cid, ["a", "b"], np.vstack([vec(1), vec(2)]))
    db.add(cid, ["c"], vec(3))
    assert ids(db, cid, ONLY) == ["a", "b"]
    assert ids(db, cid, ALL) == ["a", "b", "c"]
