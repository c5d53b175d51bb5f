"""Forks in the engine: shared segments, independence, reopen, compaction and garbage collection."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.storage_errors import AlreadyExistsError, NotFoundError

from .helpers import Model, clustered
from .test_database import assert_matches, open_db, snapshot

T, D = DEFAULT_TENANT, DEFAULT_DATABASE


def _fill(db: Database, cid: str, model: Model, start: int, n: int, seed: int) -> None:
    ids = [f"r{i}" for i in range(start, start + n)]
    vecs = clustered(n, 8, seed=seed)
    docs = [f"doc {i}" for i in range(start, start + n)]
    metas = [{"i": i} for i in range(start, start + n)]
    db.add(cid, ids, vecs, docs, metas)
    model.add(ids, vecs, docs, metas)


def _segments(db: Database, cid: str) -> set[str]:
    return {p.segment.descriptor.segment_id for p in db.collections[cid].segments()}


def _newest_manifest(path) -> object:
    return read_manifest_at(path, list_manifests_of(path)[-1])


def list_manifests_of(path):
    from sedimentdb.engine.fileio import OsFileSystem
    return [p for _, p in list_manifests(OsFileSystem(), str(path))]


def read_manifest_at(path, mpath):
    from sedimentdb.engine.fileio import OsFileSystem
    return read_manifest(OsFileSystem(), mpath)


@pytest.fixture()
def forked(tmp_path):
    """A source with two segments, deletes in them and a tail, forked; both models."""
    db = open_db(tmp_path)
    src = db.create_collection(T, D, "src", metadata={"k": "v"}).id
    model = Model()
    _fill(db, src, model, 0, 200, 1)
    db.compact(src)
    _fill(db, src, model, 200, 100, 2)
    db.compact(src)
    db.delete(src, ["r3", "r250"])
    model.delete(["r3", "r250"])
    db.update(src, ["r5"], documents=["changed"])
    model.update(["r5"], docs=["changed"])
    _fill(db, src, model, 300, 50, 3)  # the tail
    info = db.fork_collection(src, "copy")
    yield db, src, info, model
    db.close()


def test_fork_has_the_source_records_and_shares_its_segments(forked):
    db, src, info, model = forked
    assert info.name == "copy" and info.metadata == {"k": "v"} and info.id != src
    assert snapshot(db, info.id) == snapshot(db, src)
    assert_matches(db, info.id, model)
    assert _segments(db, info.id) == _segments(db, src) and len(_segments(db, src)) >= 1
    q = clustered(3, 8, seed=9)
    a, b = db.query(src, q, 7), db.query(info.id, q, 7)
    assert [r.ids for r in a] == [r.ids for r in b]


def test_writes_after_the_fork_stay_on_their_side(forked):
    db, src, info, model = forked
    fork_model = Model()
    fork_model.rows = dict(model.rows)
    db.delete(src, ["r1", "r301"])
    model.delete(["r1", "r301"])
    db.update(info.id, ["r2"], metadatas=[{"i": -2}])
    fork_model.update(["r2"], metas=[{"i": -2}])
    db.add(info.id, ["new"], np.ones((1, 8), np.float32))
    fork_model.add(["new"], np.ones((1, 8), np.float32))
    assert_matches(db, src, model)
    assert_matches(db, info.id, fork_model)


def test_fork_survives_reopen_before_and_after_compaction(forked, tmp_path):
    db, src, info, model = forked
    db.add(info.id, ["own"], np.ones((1, 8), np.float32))
    before = (snapshot(db, src), snapshot(db, info.id))
    db.close()
    # No manifest since the fork: the log's fork record rebuilds it from the source.
    with open_db(tmp_path) as again:
        assert (snapshot(again, src), snapshot(again, info.id)) == before
        assert again.fork_count(src) == again.fork_count(info.id) == 1
        again.compact(src)  # the source moves on; the fork still inherits its old tail on replay
    with open_db(tmp_path) as third:
        assert (snapshot(third, src), snapshot(third, info.id)) == before
        third.compact(info.id)
        third.compact()
    with open_db(tmp_path) as fourth:
        assert (snapshot(fourth, src), snapshot(fourth, info.id)) == before


def test_a_manifest_between_fork_and_reopen_keeps_inherited_tail_records(forked, tmp_path):
    """The manifest lists the fork with the source's old checkpoint; the source's tail records
    before the fork are logged under the source's id and must still reach the fork."""
    db, src, info, model = forked
    db.compact(src)  # source checkpoint passes the fork LSN; the fork's stays below it
    entry = _newest_manifest(tmp_path).collections
    assert entry[info.id]["checkpoint_lsn"] < entry[src]["checkpoint_lsn"]
    before = (snapshot(db, src), snapshot(db, info.id))
    db.close()
    with open_db(tmp_path) as again:
        assert (snapshot(again, src), snapshot(again, info.id)) == before
        assert_matches(again, info.id, model)


def test_shared_segment_files_live_until_no_collection_holds_them(forked, tmp_path):
    db, src, info, model = forked
    shared = _segments(db, src)
    db.compact(src)
    db.add(src, [f"x{i}" for i in range(5)], clustered(5, 8, seed=4))
    db.delete(src, [f"r{i}" for i in range(0, 300, 2)])  # enough deletes to make the source rewrite
    db.compact(src)
    db.compact(src)
    on_disk = set(os.listdir(tmp_path / "segments"))
    assert shared <= on_disk  # the fork still holds them
    db.delete_collection(src)
    assert shared <= set(os.listdir(tmp_path / "segments"))
    assert_matches(db, info.id, model)
    db.delete_collection(info.id)
    db.compact()
    assert not shared & set(os.listdir(tmp_path / "segments"))


def test_deletes_in_a_shared_segment_get_their_own_marker_per_collection(forked, tmp_path):
    db, src, info, model = forked
    db.delete(src, ["r10"])
    db.delete(info.id, ["r11"])
    # One flushing pass: compact() would also grow the shared segment into a new one per
    # collection (compactor/policy.py: pick_growth), leaving no shared segment to mark.
    db.compactor.run_pass(force=True)
    m = _newest_manifest(tmp_path)
    files = sorted(os.listdir(tmp_path / "markers"))
    assert len(files) == len(set(files))
    src_markers = {s["marker"]["file"] for s in m.collections[src]["segments"] if s["marker"]}
    fork_markers = {s["marker"]["file"] for s in m.collections[info.id]["segments"] if s["marker"]}
    assert src_markers and fork_markers and src_markers != fork_markers
    db.close()
    with open_db(tmp_path) as again:
        assert "r10" not in again.get(src).ids and "r10" in again.get(info.id).ids
        assert "r11" in again.get(src).ids and "r11" not in again.get(info.id).ids


def test_fork_of_a_fork_and_fork_count(forked, tmp_path):
    db, src, info, model = forked
    second = db.fork_collection(info.id, "copy2")
    third = db.fork_collection(src, "copy3")
    assert {db.fork_count(c) for c in (src, info.id, second.id, third.id)} == {3}
    assert second.lineage[0][0] == src and second.lineage[1][0] == info.id
    db.delete_collection(second.id)
    assert db.fork_count(src) == 3  # Chroma's lineage file keeps deleted forks
    other = db.create_collection(T, D, "other")
    assert db.fork_count(other.id) == 0
    assert_matches(db, third.id, model)


def test_fork_errors(forked):
    db, src, info, model = forked
    with pytest.raises(AlreadyExistsError, match=r"Collection \[src\] already exists"):
        db.fork_collection(info.id, "src")
    with pytest.raises(NotFoundError, match=r"Collection \[nope\] does not exist"):
        db.fork_collection("nope", "x")
    with pytest.raises(NotFoundError, match=r"Collection \[nope\] does not exist"):
        db.fork_count("nope")


def test_fork_of_an_empty_collection_and_in_memory():
    db = Database.in_memory()
    src = db.create_collection(T, D, "e").id
    f = db.fork_collection(src, "f")
    assert db.count(f.id) == 0
    db.add(f.id, ["a"], np.ones((1, 3), np.float32))
    db.add(src, ["a"], np.ones((1, 4), np.float32))  # dimensions are the fork's own, too
    assert db.get(f.id).ids == ["a"] and db.count(src) == 1
    db.close()


def test_the_log_tool_shows_fork_records(forked, tmp_path):
    from sedimentdb.tools.ops.wal import collection_of, read_records, record_dict

    db, src, info, model = forked
    db.close()
    found = list(read_records(str(tmp_path), ops=["fork-collection"]))
    assert len(found) == 1 and collection_of(found[0]) == info.id
    d = record_dict(found[0], {})
    assert d["op"] == "fork-collection" and d["source_id"] == src and d["name"] == "copy"
    assert [r.lsn for r in read_records(str(tmp_path), collection="copy")] == [found[0].lsn]
