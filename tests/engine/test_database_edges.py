"""Edges of the database core: catalog operations with data, reset, read-only and closed
databases, argument checks, replication hooks and the rarer recovery branches."""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

from sedimentdb.engine.compactor.manifest import list_manifests
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, REPLICATION_HOLD, Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import (
    AlreadyExistsError,
    ClosedError,
    CorruptionError,
    InvalidArgumentError,
    NotFoundError,
    ReadOnlyError,
    StorageError,
    StorageIOError,
)
from sedimentdb.engine.wal.records import NewEpoch

from .helpers import Model, clustered
from .test_compactor_edges import RecordingLogger
from .test_database import assert_matches, snapshot

T, D = DEFAULT_TENANT, DEFAULT_DATABASE


def _open(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False, **kw}))


def _fill(db: Database, name: str = "c", n: int = 8, *, tenant: str = T, database: str = D,
          seed: int = 0) -> tuple[str, Model]:
    cid = db.create_collection(tenant, database, name).id
    vecs = clustered(n, 4, seed=seed)
    ids = [f"{name}{i}" for i in range(n)]
    metas = [{"i": i} for i in range(n)]
    db.add(cid, ids, vecs, documents=[f"d{i}" for i in range(n)], metadatas=metas)
    model = Model()
    model.add(ids, vecs, [f"d{i}" for i in range(n)], metas)
    return cid, model


def _files(path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (LOCK excluded: its content is not data)."""
    out = {}
    for root, _dirs, names in os.walk(str(path)):
        for name in names:
            full = os.path.join(root, name)
            if name != "LOCK":
                out[os.path.relpath(full, str(path))] = open(full, "rb").read()
    return out


def _segment_dirs(path) -> list[str]:
    base = os.path.join(str(path), "segments")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


# ---- in-memory --------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [None, DatabaseOptions(durability="off", background_compaction=False),
                                     DatabaseOptions(durability="full", background_compaction=False)])
def test_in_memory_database_never_syncs(options):
    db = Database.in_memory(options)
    with db:
        assert db.options.durability == "off"
        cid, model = _fill(db)
        assert_matches(db, cid, model)


# ---- catalog ----------------------------------------------------------------------------------------

def test_tenants_and_databases_round_trip(tmp_path):
    with _open(tmp_path) as db:
        db.create_tenant("acme")
        assert db.has_tenant("acme") and not db.has_tenant("nobody")
        assert db.list_tenants() == [T, "acme"]
        infos = [db.create_database("acme", f"db{i}") for i in range(3)]
        given = db.create_database("acme", "fixed", id="11111111-1111-1111-1111-111111111111")
        assert given.id == "11111111-1111-1111-1111-111111111111"
        with pytest.raises(AlreadyExistsError, match=r"Database \[db1\] already exists"):
            db.create_database("acme", "db1")
        assert [d.name for d in db.list_databases("acme")] == ["db0", "db1", "db2", "fixed"]
        assert [d.name for d in db.list_databases("acme", limit=2, offset=1)] == ["db1", "db2"]
        assert [d.name for d in db.list_databases("acme", offset=3)] == ["fixed"]
        assert db.get_database("acme", "db2").id == infos[2].id
        with pytest.raises(NotFoundError, match=r"Tenant \[nobody\] not found"):
            db.list_databases("nobody")
        with pytest.raises(NotFoundError, match=r"Database \[nope\] not found"):
            db.get_database("acme", "nope")
        with pytest.raises(NotFoundError, match="Tenant"):
            db.get_database("nobody", "db0")
    with _open(tmp_path) as db:
        assert db.list_tenants() == [T, "acme"]
        assert [d.id for d in db.list_databases("acme")][:3] == [i.id for i in infos]


def test_delete_database_drops_its_collections_and_their_files(tmp_path):
    with _open(tmp_path) as db:
        db.create_tenant("acme")
        db.create_database("acme", "gone")
        gone_a, _ = _fill(db, "a", tenant="acme", database="gone")
        gone_b, _ = _fill(db, "b", tenant="acme", database="gone", seed=1)
        kept, model = _fill(db, "k", seed=2)
        db.compact()
        assert len(_segment_dirs(tmp_path)) == 3
        db.delete_database("acme", "gone")
        with pytest.raises(NotFoundError):
            db.get_database("acme", "gone")
        with pytest.raises(NotFoundError):
            db.count(gone_a)
        assert db.count_collections("acme", "gone") == 0
        with pytest.raises(NotFoundError):
            db.delete_database("acme", "gone")
        db.compact()
        db.compact()  # two manifests: the retained one references only the kept segment
        assert len(_segment_dirs(tmp_path)) == 1
        assert_matches(db, kept, model)
    with _open(tmp_path) as db:
        assert [d.name for d in db.list_databases("acme")] == []
        for cid in (gone_a, gone_b):
            with pytest.raises(NotFoundError):
                db.get_collection_by_id(cid)
        assert_matches(db, kept, model)


def test_a_deleted_database_name_can_be_reused_empty(tmp_path):
    with _open(tmp_path) as db:
        db.create_database(T, "again")
        _fill(db, "c", database="again")
        db.delete_database(T, "again")
        db.create_database(T, "again")
        assert db.list_collections(T, "again") == []
        cid, model = _fill(db, "c", database="again", seed=3)
        assert_matches(db, cid, model)


def test_collections_list_by_id_and_page(tmp_path):
    with _open(tmp_path) as db:
        ids = [db.create_collection(T, D, f"n{i}", id=f"0000000{i}-0000-0000-0000-000000000000").id
               for i in (3, 1, 2)]
        assert [c.id for c in db.list_collections(T, D)] == sorted(ids)
        assert [c.name for c in db.list_collections(T, D, limit=1, offset=1)] == ["n2"]
        assert db.count_collections(T, D) == 3
        with pytest.raises(AlreadyExistsError, match="with id"):
            db.create_collection(T, D, "other", id=ids[0])
        with pytest.raises(NotFoundError, match="does not exist"):
            db.get_collection_by_id("missing")
        with pytest.raises(NotFoundError):
            db.create_collection(T, "no-such-db", "x")


def test_modify_collection_renames_and_replaces_metadata_durably(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db, "old")
        db.create_collection(T, D, "taken")
        with pytest.raises(AlreadyExistsError, match=r"Collection \[taken\] already exists"):
            db.modify_collection(cid, name="taken")
        same = db.modify_collection(cid, name="old", metadata={"v": 1})  # same name is no conflict
        assert same.name == "old" and same.metadata == {"v": 1}
        info = db.modify_collection(cid, name="new", metadata={"v": 2})
        assert info.name == "new"
        assert db.get_collection(T, D, "new").id == cid
        with pytest.raises(NotFoundError):
            db.get_collection(T, D, "old")
        with pytest.raises(NotFoundError):
            db.modify_collection("missing", name="x")
        db.compact()  # the catalog snapshot in the manifest holds the new name
        db.modify_collection(cid, metadata={"v": 3})  # and the log the change after it
    with _open(tmp_path) as db:
        info = db.get_collection(T, D, "new")
        assert info.id == cid and info.metadata == {"v": 3}
        assert_matches(db, cid, model)


def test_delete_collection_with_segments_and_tail(tmp_path):
    with _open(tmp_path) as db:
        cid, _ = _fill(db, "c")
        db.compact()
        db.add(cid, ["tail"], clustered(1, 4, seed=9))
        db.delete_collection(cid)
        with pytest.raises(NotFoundError):
            db.get(cid)
        with pytest.raises(NotFoundError):
            db.delete_collection(cid)
        assert _segment_dirs(tmp_path) == []  # two manifests were installed at once
        cid2, model = _fill(db, "c", seed=4)  # the name is free again
        assert cid2 != cid
    with _open(tmp_path) as db:
        assert_matches(db, cid2, model)
        with pytest.raises(NotFoundError):
            db.get_collection_by_id(cid)


def test_reset_deletes_everything_and_recreates_the_defaults(tmp_path):
    with _open(tmp_path) as db:
        db.create_tenant("acme")
        db.create_database("acme", "x")
        a, _ = _fill(db, "a", tenant="acme", database="x")
        b, _ = _fill(db, "b")
        db.compact()
        old_default = db.get_database(T, D).id
        db.reset()
        assert db.list_tenants() == [T]
        assert db.get_database(T, D).id != old_default
        assert db.list_collections(T, D) == []
        for cid in (a, b):
            with pytest.raises(NotFoundError):
                db.count(cid)
        assert _segment_dirs(tmp_path) == []
        cid, model = _fill(db, "b", seed=5)
    with _open(tmp_path) as db:
        assert db.list_tenants() == [T]
        assert [c.id for c in db.list_collections(T, D)] == [cid]
        assert_matches(db, cid, model)


# ---- read-only and closed ------------------------------------------------------------------------------

def _refused_writes(db: Database, cid: str) -> dict:
    v = np.zeros((1, 4), dtype=np.float32)
    return {
        "create_tenant": lambda: db.create_tenant("t2"),
        "create_database": lambda: db.create_database(T, "d2"),
        "delete_database": lambda: db.delete_database(T, D),
        "create_collection": lambda: db.create_collection(T, D, "new"),
        "modify_collection": lambda: db.modify_collection(cid, name="renamed"),
        "delete_collection": lambda: db.delete_collection(cid),
        "add": lambda: db.add(cid, ["new"], v),
        "update": lambda: db.update(cid, ["c0"], documents=["x"]),
        "upsert": lambda: db.upsert(cid, ["c0"], v),
        "delete": lambda: db.delete(cid, ids=["c0"]),
        "reset": db.reset,
        "compact": db.compact,
        "apply_replicated": lambda: db.apply_replicated([(db.last_lsn + 1, NewEpoch(9))]),
        "begin_epoch": lambda: db.begin_epoch(db.epoch + 1),
    }


def test_read_only_database_reads_and_refuses_every_write(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
        db.compact()
        db.delete(cid, ids=["c1"])
        model.delete(["c1"])
        db.add(cid, ["t"], clustered(1, 4, seed=8))
        model.add(["t"], clustered(1, 4, seed=8))
    before = _files(tmp_path)
    ro = _open(tmp_path, read_only=True)
    with ro:
        assert_matches(ro, cid, model)
        assert ro.query(cid, clustered(1, 4, seed=8), 1)[0].ids == ["t"]
        for name, call in _refused_writes(ro, cid).items():
            with pytest.raises(ReadOnlyError):
                call()
            assert ro.count(cid) == len(model.rows), name
        # A writer may open the directory while the reader holds it: no lock was taken.
        with _open(tmp_path) as writer:
            assert writer.count(cid) == len(model.rows)
        before = _files(tmp_path)  # after the writer's close, which rewrites the seal
    assert _files(tmp_path) == before  # closing the reader wrote nothing


def test_read_only_open_of_an_empty_directory_creates_no_database(tmp_path):
    with _open(tmp_path, read_only=True) as ro:
        assert ro.list_tenants() == []
        assert ro.last_lsn == 0
    assert list_manifests(ro.fs, str(tmp_path)) == []
    assert not [n for n in os.listdir(tmp_path / "wal")]


def test_closed_database_refuses_reads_and_writes(tmp_path):
    db = _open(tmp_path)
    cid, model = _fill(db)
    db.close()
    db.close()  # idempotent
    with pytest.raises(ClosedError):
        db.get(cid)
    with pytest.raises(ClosedError):
        db.query(cid, np.zeros(4, dtype=np.float32), 1)
    for name, call in _refused_writes(db, cid).items():
        if name == "begin_epoch":
            continue  # checked before the database state: see below
        with pytest.raises(ClosedError):
            call()
    with pytest.raises(ClosedError):
        db.begin_epoch(db.epoch + 1)
    with _open(tmp_path) as again:  # the lock was released and nothing was half-written
        assert_matches(again, cid, model)


# ---- argument checks ---------------------------------------------------------------------------------

def test_rejected_writes_write_nothing(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
        lsn = db.last_lsn
        v = np.zeros((2, 4), dtype=np.float32)
        cases = [
            (lambda: db.add(cid, list("wxyz"), np.zeros(4, dtype=np.float32)), "2-D array"),
            (lambda: db.add(cid, ["x", "y"], v, documents=["one"]), "documents has 1 entries for 2 ids"),
            (lambda: db.add(cid, ["x", "y"], v, metadatas=[{}]), "metadatas has 1"),
            (lambda: db.add(cid, ["x", "y"], v, uris=["u"] * 3), "uris has 3"),
            (lambda: db.add(cid, ["x"], v), "embeddings has 2 rows for 1 ids"),
            (lambda: db.add(cid, ["x"], None), "add needs embeddings"),
            (lambda: db.add(cid, ["x", "y"], np.zeros((2, 5), dtype=np.float32)), "dimension of 4, got 5"),
            (lambda: db.upsert(cid, ["c0", "brand-new"], documents=["a", "b"]),
             "upsert of a new record needs an embedding"),
        ]
        for call, message in cases:
            with pytest.raises(InvalidArgumentError, match=message):
                call()
        with pytest.raises(NotFoundError):
            db.add("missing", ["x"], v[:1])
        assert db.last_lsn == lsn
        assert_matches(db, cid, model)


def test_update_without_embeddings_of_a_dimensionless_collection_fixes_no_dimension(tmp_path):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        db.update(cid, ["ghost"], documents=["nothing to update"])
        assert db.get_collection_by_id(cid).dimension is None
        assert db.count(cid) == 0
        db.add(cid, ["a"], np.ones((1, 3), dtype=np.float32))
        assert db.get_collection_by_id(cid).dimension == 3


def test_delete_by_filter_with_limit(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
        assert db.delete(cid, where={"i": {"$gte": 4}}, limit=2) == 2
        model.delete(["c4", "c5"])
        assert db.delete(cid, ids=["c0", "c1", "c0"], limit=1) == 1
        model.delete(["c0"])
        lsn = db.last_lsn
        assert db.delete(cid, where={"i": {"$gt": 100}}) == 0
        assert db.delete(cid, ids=["nope"]) == 0
        assert db.last_lsn == lsn  # a delete of nothing logs nothing
        assert_matches(db, cid, model)


def test_query_checks_dimension_and_ids(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
        q = clustered(1, 4, seed=42)[0]
        one = db.query(cid, q, 3)  # a single vector is one query
        assert len(one) == 1
        assert one[0].ids == [i for i, _ in model.knn(q, 3)]
        restricted = db.query(cid, q, 3, ids=["c2", "c3"])[0]
        assert sorted(restricted.ids) == ["c2", "c3"]
        # An unknown id is no candidate; the API layer raises Chroma's "Error finding id" where Chroma does.
        assert db.query(cid, q, 3, ids=["c2", "nope"])[0].ids == ["c2"]
        with pytest.raises(InvalidArgumentError, match="dimension of 4, got 2"):
            db.query(cid, np.zeros(2, dtype=np.float32), 1)


# ---- replication hooks ---------------------------------------------------------------------------------

def test_apply_replicated_reproduces_the_primary(tmp_path):
    primary_dir, follower_dir = tmp_path / "p", tmp_path / "f"
    with _open(primary_dir) as primary:
        cid, model = _fill(primary)
    shutil.copytree(primary_dir, follower_dir)
    os.unlink(follower_dir / "LOCK")
    with _open(primary_dir) as primary, _open(follower_dir) as follower:
        assert follower.apply_replicated([]) == follower.last_lsn
        start = follower.last_lsn
        primary.update(cid, ["c1"], documents=["changed"])
        primary.delete(cid, ids=["c2"])
        other, other_model = _fill(primary, "o", seed=7)
        shipped = list(primary.wal.replay(start + 1))
        assert [lsn for lsn, _ in shipped] == list(range(start + 1, primary.last_lsn + 1))
        assert follower.apply_replicated(shipped) == primary.last_lsn
        assert snapshot(follower, cid) == snapshot(primary, cid)
        assert_matches(follower, other, other_model)
    with _open(follower_dir) as follower:  # logged under the primary's LSNs, so a reopen agrees
        assert follower.last_lsn == start + len(shipped)
        assert_matches(follower, other, other_model)


def test_apply_replicated_refuses_a_gap_and_applies_nothing(tmp_path):
    with _open(tmp_path) as db:
        lsn = db.last_lsn
        with pytest.raises(CorruptionError, match=f"LSN {lsn + 2}, this log expects {lsn + 1}"):
            db.apply_replicated([(lsn + 2, NewEpoch(3))])
        assert db.last_lsn == lsn and db.epoch == 0


def test_begin_epoch_is_logged_and_names_new_log_files(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
        with pytest.raises(InvalidArgumentError, match="must be above the current epoch 0"):
            db.begin_epoch(0)
        lsn = db.begin_epoch(4)
        assert lsn == db.last_lsn
        assert db.epoch == 4
        assert db.wal.files()[-1].first_lsn == lsn + 1  # the log was sealed at the epoch record
        db.add(cid, ["e"], clustered(1, 4, seed=11))
        model.add(["e"], clustered(1, 4, seed=11))
        with pytest.raises(InvalidArgumentError):
            db.begin_epoch(4)
    with _open(tmp_path) as db:
        assert db.epoch == 4
        assert_matches(db, cid, model)


def test_log_release_limit_reads_the_replication_hold(tmp_path):
    with _open(tmp_path) as db:
        assert db.log_release_limit() is None
        hold = tmp_path / REPLICATION_HOLD
        hold.parent.mkdir()
        for content, expected in ((b"17 1700000000.5\n", 17), (b"", 0), (b"garbage", 0)):
            hold.write_bytes(content)
            assert db.log_release_limit() == expected


# ---- recovery ----------------------------------------------------------------------------------------

def test_replay_skips_records_already_in_segments_and_of_deleted_collections(tmp_path):
    with _open(tmp_path) as db:
        first_write = db.last_lsn + 2  # after the collection's creation record
        open_, open_model = _fill(db, "open", seed=2)  # never compacted: checkpoint at its creation
        done, done_model = _fill(db, "done")
        db.delete(done, ids=["done0"])
        done_model.delete(["done0"])
        gone, _ = _fill(db, "gone", seed=1)
        db.delete(gone, ids=["gone1"])
        db.compact(done)  # moves only this collection's checkpoint
        db.delete_collection(gone)
        db.delete(open_, ids=["open3"])
        open_model.delete(["open3"])
        assert db.manifests[-1].replay_from() == first_write  # so replay meets every record above
    with _open(tmp_path) as db:
        assert_matches(db, done, done_model)
        assert_matches(db, open_, open_model)
        with pytest.raises(NotFoundError):
            db.count(gone)


def test_older_damaged_manifest_is_ignored_when_a_newer_one_validates(tmp_path):
    with _open(tmp_path, keep_manifests=2) as db:
        cid, model = _fill(db)
        db.compact()
        db.add(cid, ["n"], clustered(1, 4, seed=3))
        model.add(["n"], clustered(1, 4, seed=3))
        db.compact()
    found = list_manifests(db.fs, str(tmp_path))
    assert len(found) == 2
    with open(found[0][1], "r+b") as f:
        f.write(b"XXXX")
    with _open(tmp_path, keep_manifests=2) as db:
        assert [m.generation for m in db.manifests] == [found[1][0]]
        assert_matches(db, cid, model)


def test_failed_open_closes_its_log_file_and_sync_thread(tmp_path):
    """Regression: an open that failed after opening the log (here: the log is missing behind
    the manifest) released the lock but left the log's file open and, with durability
    ``normal``, its sync thread running for the life of the process."""
    with _open(tmp_path) as db:
        _fill(db)
        db.compact()
    shutil.rmtree(tmp_path / "wal")
    # Without the seal the open gets as far as opening (creating) the log, then fails on the
    # manifest; with it, the missing log is refused before anything is opened (tests/engine/test_seal.py).
    os.unlink(tmp_path / "SEAL")
    threads = {t.ident for t in threading.enumerate()}
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(2):  # the failed open released the lock, so a second attempt fails the same way
        with pytest.raises(CorruptionError, match="the log ends at LSN 0 but the manifest covers"):
            _open(tmp_path, durability="normal")
    for t in threading.enumerate():
        if t.ident not in threads:
            t.join(timeout=5)  # a closed log's sync thread ends within one sync interval
    leaked = [t.name for t in threading.enumerate() if t.ident not in threads]
    assert leaked == []
    assert len(os.listdir("/proc/self/fd")) <= fds


def _record_offsets(db: Database, cid: str, n: int) -> list[tuple[int, int]]:
    """Add ``n`` one-record batches; return each one's (start, end) in the active log file."""
    path = db.wal.files()[-1].path
    spans = []
    for i in range(n):
        start = os.path.getsize(path)
        db.add(cid, [f"r{i}"], clustered(1, 4, seed=50 + i))
        spans.append((start, os.path.getsize(path)))
    return spans


def test_point_in_time_recovery_cuts_the_log_at_the_first_damaged_record(tmp_path):
    with _open(tmp_path) as db:
        cid = db.create_collection(T, D, "c").id
        spans = _record_offsets(db, cid, 6)
        log = db.wal.files()[-1].path
    start, end = spans[3]
    with open(log, "r+b") as f:
        f.seek((start + end) // 2)
        byte = f.read(1)
        f.seek((start + end) // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CorruptionError):
        _open(tmp_path)  # strict: damage followed by valid, synced records is refused
    with _open(tmp_path, recovery_mode="point_in_time") as db:
        assert db.get(cid).ids == ["r0", "r1", "r2"]
        assert any(".broken-" in n for n in os.listdir(tmp_path / "wal"))  # the cut-off part is kept
        db.add(cid, ["after"], clustered(1, 4, seed=1))
    with _open(tmp_path) as db:  # the cut log is whole again: strict opens it
        assert db.get(cid).ids == ["r0", "r1", "r2", "after"]


def test_applying_an_unknown_record_type_is_a_type_error(tmp_path):
    with _open(tmp_path) as db:
        with pytest.raises(TypeError, match="unknown record object"):
            db._apply(object(), db.last_lsn + 1)


# ---- read-only beside a writer -----------------------------------------------------------------------

READER = DatabaseOptions(read_only=True, background_compaction=False)


class FlakyReads(OsFileSystem):
    """The real file system, but the first ``n`` reads of log files fail as if the writer had
    just released them (a reader takes no lock, so that race is real)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def read_bytes(self, path: str) -> bytes:
        """Fail while ``left`` lasts for a log file, else read."""
        if path.endswith(".log") and self.left > 0:
            self.left -= 1
            raise StorageIOError("read failed: No such file or directory", path=path)
        return super().read_bytes(path)


def test_read_only_open_starts_over_after_a_race_with_the_writer(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
    fs = FlakyReads(2)
    with Database.open(str(tmp_path), READER, fs=fs) as ro:
        assert fs.left == 0
        assert_matches(ro, cid, model)
    with pytest.raises(StorageIOError, match="No such file"):
        Database.open(str(tmp_path), READER, fs=FlakyReads(10**6))


def test_writable_open_is_not_retried(tmp_path):
    with _open(tmp_path) as db:
        _fill(db)
    fs = FlakyReads(1)
    with pytest.raises(StorageIOError):
        Database.open(str(tmp_path), DatabaseOptions(background_compaction=False), fs=fs)
    assert fs.left == 0
    with Database.open(str(tmp_path), DatabaseOptions(background_compaction=False), fs=fs):
        pass  # the failed attempt released the lock


def test_refresh_is_only_for_read_only_databases(tmp_path):
    with _open(tmp_path) as db:
        with pytest.raises(InvalidArgumentError, match="read_only=True"):
            db.refresh()


def test_reader_of_an_empty_directory_sees_the_database_once_created(tmp_path):
    with Database.open(str(tmp_path), READER) as ro:
        assert ro.refresh() is False  # still nothing there
        with _open(tmp_path) as db:
            cid, model = _fill(db)
            assert ro.refresh() is True
            assert_matches(ro, cid, model)
            assert ro.list_tenants() == [T]


def test_reader_follows_writes_and_compactions(tmp_path):
    with _open(tmp_path) as db, Database.open(str(tmp_path), READER) as ro:
        cid, model = _fill(db)
        assert ro.refresh() is True
        assert_matches(ro, cid, model)
        assert ro.refresh() is False  # nothing new in the log
        db.compact()
        assert ro.refresh() is False  # a new layout of the same contents
        assert ro.manifests[-1].generation == db.manifests[-1].generation
        db.delete(cid, ids=["c0"])
        model.delete(["c0"])
        db.compact()
        assert ro.refresh() is True
        assert_matches(ro, cid, model)


def test_reader_never_moves_back_to_an_older_copy(tmp_path):
    path, backup = tmp_path / "db", tmp_path / "backup"
    with _open(path) as db:
        cid, old_model = _fill(db)
    shutil.copytree(path, backup)
    with _open(path) as db:
        db.add(cid, ["newer"], clustered(1, 4, seed=6))
        db.compact()
    with Database.open(str(path), READER) as ro:
        model = Model()
        model.rows = {**old_model.rows}
        model.add(["newer"], clustered(1, 4, seed=6))
        lsn = ro.last_lsn
        shutil.rmtree(path)
        shutil.copytree(backup, path)  # a restore of an older copy of the same database
        with _open(path) as db:
            db.compact()
            db.compact()  # a manifest generation newer than the reader's, so it reloads
        ro.log = log = RecordingLogger()
        assert ro.refresh() is False
        assert ro.last_lsn == lsn
        assert_matches(ro, cid, model)
        assert [e for lvl, e, _ in log.events if lvl == "warning"] == [
            "the writer's log ends before what this reader applied"]


def test_reader_refuses_a_directory_that_now_holds_another_database(tmp_path):
    with _open(tmp_path / "db") as db:
        cid, model = _fill(db)
    with Database.open(str(tmp_path / "db"), READER) as ro:
        shutil.rmtree(tmp_path / "db")
        with _open(tmp_path / "db") as other:
            _fill(other, "x")
            other.compact()  # a manifest newer than the reader's: it reloads and finds the stranger
            with pytest.raises(StorageError, match="now holds database"):
                ro.refresh()
        assert_matches(ro, cid, model)  # the reader keeps what it had


def test_refresh_of_a_closed_reader_is_not_retried(tmp_path, monkeypatch):
    with _open(tmp_path) as db:
        _fill(db)
    ro = Database.open(str(tmp_path), READER)
    calls = []

    def closed_meanwhile():
        calls.append(1)
        raise ClosedError("the log is closed", path=str(tmp_path))

    monkeypatch.setattr(ro.wal, "read_new", closed_meanwhile)
    with pytest.raises(ClosedError):
        ro.refresh()
    assert calls == [1]
    ro.close()
    with pytest.raises(ClosedError):
        ro.refresh()


def test_manifest_without_an_entry_for_a_cataloged_collection_is_refused(tmp_path):
    """Regression: a manifest whose catalog lists a collection but which has no entry for it
    (only a bug or a forgery writes one) opened as valid: the collection came back empty, its
    segments were deleted as orphans and its records before the manifest's LSN were lost.
    Now decoding refuses it, so the open falls back to the previous manifest."""
    from sedimentdb.engine.compactor.manifest import Manifest, read_manifest, write_manifest

    with _open(tmp_path) as db:
        cid, model = _fill(db)
        db.compact()
    (gen, mpath), = list_manifests(db.fs, str(tmp_path))
    good = read_manifest(db.fs, mpath)
    forged = Manifest(gen + 1, good.db_uuid, good.epoch, good.catalog_lsn, good.catalog, {}, good.created_at)
    forged_path = write_manifest(db.fs, str(tmp_path), forged)
    with pytest.raises(CorruptionError, match=f"no entry for collection {cid}"):
        read_manifest(db.fs, forged_path)
    segments = _segment_dirs(tmp_path)
    with _open(tmp_path) as db:
        assert [m.generation for m in db.manifests] == [gen]
        assert_matches(db, cid, model)
        assert _segment_dirs(tmp_path) == segments  # nothing was deleted
    os.unlink(mpath)  # without the good one, nothing validates: refuse rather than lose data
    with pytest.raises(CorruptionError, match="no manifest validates"):
        _open(tmp_path)
    assert _segment_dirs(tmp_path) == segments


def test_refresh_reloads_when_the_log_it_would_read_was_released(tmp_path, monkeypatch):
    import sedimentdb.engine.database as dbmod

    with _open(tmp_path, wal_roll_bytes=1024) as db, Database.open(str(tmp_path), READER) as ro:
        cid, model = _fill(db)
        db.compact()
        assert ro.refresh() is True
        stale = dbmod.list_manifests(db.fs, str(tmp_path))
        for i in range(20):  # enough to roll the log several times
            db.add(cid, [f"n{i}"], clustered(1, 4, seed=30 + i), documents=["y" * 100])
            model.add([f"n{i}"], clustered(1, 4, seed=30 + i), ["y" * 100])
        db.compact()  # a new manifest, and the log the reader would read next is released
        # The reader listed the manifests just before the writer installed its new one.
        real, calls = dbmod.list_manifests, []

        def listed_too_early(fs, path):
            calls.append(path)
            return stale if len(calls) == 1 else real(fs, path)

        monkeypatch.setattr(dbmod, "list_manifests", listed_too_early)
        assert ro.refresh() is True
        assert len(calls) >= 2  # the stale listing, then the reload's own
        assert ro.last_lsn == db.last_lsn
        assert_matches(ro, cid, model)


class FailingListing(OsFileSystem):
    """The real file system, but listing the data directory raises a non-storage error."""

    def listdir(self, path: str) -> list[str]:
        """Raise for the data directory itself (the manifests' listing)."""
        if not path.rstrip("/").endswith(("wal", "segments", "markers")):
            raise RuntimeError("listing failed")
        return super().listdir(path)


def test_an_open_failing_with_a_foreign_error_releases_the_lock(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _fill(db)
    with pytest.raises(RuntimeError, match="listing failed"):
        Database.open(str(tmp_path), DatabaseOptions(background_compaction=False), fs=FailingListing())
    with _open(tmp_path) as db:  # the lock was released
        assert_matches(db, cid, model)

