"""Edges of the compactor, its policy and its manifests.

The policy is pure, so its decisions are checked on numbers; the compactor's rarer paths
(background thread, failures during a build, a collection deleted while its segment was being
built, delete markers carried over, replication holds on the log) run against real databases,
with the simulated file system of tests/crash where a fault must be injected.
"""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from sedimentdb.engine.compactor import manifest as M
from sedimentdb.engine.compactor.policy import SegmentStats, pick_inputs, should_flush
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, REPLICATION_HOLD, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import CorruptionError, NotFoundError, StorageIOError
from tests.crash.simfs import SimFileSystem
from tests.crash.workload import NULL

from .helpers import Model, clustered
from .test_database import assert_matches

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
POLICY = DatabaseOptions(compact_tail_records=100, compact_tail_bytes=1000, compact_tail_age_s=60.0,
                         max_segments_per_collection=4, vacuum_deleted_fraction=0.25)


def _open(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False, **kw}))


def _wait_for(cond, timeout: float = 20.0) -> bool:
    """Poll ``cond`` until it holds (background work) or the timeout passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _segment_dirs(path) -> list[str]:
    base = os.path.join(str(path), "segments")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


def _wal_files(path) -> list[str]:
    return sorted(n for n in os.listdir(os.path.join(str(path), "wal")) if n.endswith(".log"))


class RecordingLogger:
    """Keeps (level, event, fields) of every log call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    def _at(level: str):  # noqa: N805 - a factory evaluated in the class body
        def log(self, event: str, **fields) -> None:
            self.events.append((level, event, fields))
        return log

    debug, info, warning, error = _at("debug"), _at("info"), _at("warning"), _at("error")

    def bind(self, **_fields) -> RecordingLogger:
        """Binding keeps recording into the same list."""
        return self


# ---- policy -----------------------------------------------------------------------------------------

def test_empty_tail_is_never_flushed():
    assert not should_flush(0, 0, 10**9, 10**9, POLICY)


@pytest.mark.parametrize(("live", "nbytes", "age", "expected"), [
    (99, 999, 59.9, False),   # below every threshold
    (100, 0, 0.0, True),      # live records reach the record threshold
    (1, 1000, 0.0, True),     # bytes reach the byte threshold
    (1, 1, 60.0, True),       # the oldest record is old enough
])
def test_tail_flushes_at_the_first_threshold_reached(live, nbytes, age, expected):
    assert should_flush(live, 200, nbytes, age, POLICY) is expected


def test_flush_threshold_counts_live_rows_not_superseded_ones():
    # 150 rows of which 50 live: an update-heavy tail is not flushed for rows it no longer needs.
    assert not should_flush(50, 150, 10, 0.0, POLICY)


def test_deleted_fraction_of_an_empty_segment_is_one():
    assert SegmentStats(0, 0).deleted_fraction == 1.0
    assert SegmentStats(8, 6).deleted_fraction == 0.25


def test_segments_below_the_cap_and_threshold_are_left_alone():
    stats = [SegmentStats(100, 100), SegmentStats(100, 80)]  # 20% dead: not past 25%
    assert pick_inputs(stats, 1, POLICY) == []


def test_empty_and_mostly_dead_segments_are_always_rewritten():
    stats = [SegmentStats(100, 100), SegmentStats(50, 0), SegmentStats(100, 74), SegmentStats(100, 75)]
    assert pick_inputs(stats, 0, POLICY) == [1, 2]


def test_vacuum_needs_strictly_more_than_the_threshold():
    opts = DatabaseOptions(vacuum_deleted_fraction=1.0)
    assert pick_inputs([SegmentStats(10, 1)], 0, opts) == []  # 90% dead is not past 100%


def test_tiered_merge_takes_the_smallest_segments_down_to_about_half_the_cap():
    sizes = [500, 10, 400, 20, 300]  # five segments, cap four, no new output
    picked = pick_inputs([SegmentStats(n, n) for n in sizes], 0, POLICY)
    # remaining 5 > cap 4: target 2, so 5 - 2 + 1 = 4 of the smallest merge into one.
    assert picked == [1, 2, 3, 4]
    assert 5 - len(picked) + 1 <= POLICY.max_segments_per_collection


def test_tiered_merge_counts_the_output_being_added():
    sizes = [40, 30, 20, 10]
    assert pick_inputs([SegmentStats(n, n) for n in sizes], 0, POLICY) == []
    # A flush adds a fifth segment: the cap is passed. The flushed tail joins the same output,
    # so merging all four leaves one segment (target 2 minus the one being added).
    assert pick_inputs([SegmentStats(n, n) for n in sizes], 1, POLICY) == [0, 1, 2, 3]
    assert pick_inputs([SegmentStats(n, n) for n in [*sizes, 5]], 0, POLICY) == [1, 2, 3, 4]


def test_tiered_merge_merges_at_least_two():
    opts = DatabaseOptions(max_segments_per_collection=1)
    assert pick_inputs([SegmentStats(5, 5), SegmentStats(9, 9)], 0, opts) == [0, 1]


def test_vacuumed_segments_do_not_count_towards_the_cap():
    stats = [SegmentStats(10, 0), SegmentStats(10, 10), SegmentStats(20, 20), SegmentStats(30, 30),
             SegmentStats(40, 40)]
    # Without the empty one four remain: at the cap, so only the empty one is rewritten.
    assert pick_inputs(stats, 0, POLICY) == [0]


# ---- manifest decoding and installing ----------------------------------------------------------------

def _rehead(obj: dict, gen: int = 3) -> bytes:
    payload = json.dumps(obj).encode()
    import crc32c

    head = M.HEADER.pack(M.MAGIC, M.FORMAT_VERSION, 0, gen, len(payload), crc32c.crc32c(payload))
    return head + M.HEADER_CRC.pack(crc32c.crc32c(head)) + payload


def _payload(collections: dict) -> dict:
    return {"generation": 3, "db_uuid": "u", "epoch": 0, "catalog_lsn": 5, "catalog": {},
            "collections": collections}


@pytest.mark.parametrize("collections", [
    {"c": {"checkpoint_lsn": 2, "segments": {}}},                                  # segments not a list
    {"c": {"checkpoint_lsn": 2, "segments": [{"descriptor": {"segment_id": 7}}]}},  # id not a string
    {"c": []},                                                                      # entry not an object
    {"c": {"checkpoint_lsn": 2, "segments": ["s"]}},                               # segment not an object
])
def test_manifest_of_the_wrong_shape_is_refused(collections):
    with pytest.raises(CorruptionError, match="wrong shape"):
        M.decode(_rehead(_payload(collections)), "/db/MANIFEST-00000000000000000003")


def test_manifest_with_a_valid_marker_decodes():
    seg = {"descriptor": {"segment_id": "s"}, "marker": {"file": "s.3.del", "lsn": 2, "deleted": 1}}
    m = M.decode(_rehead(_payload({"c": {"checkpoint_lsn": 2, "segments": [seg]}})), "/m")
    assert m.files() == {"segments/s", "markers/s.3.del"}
    assert m.replay_from() == 3


def _with_catalog(listed: list) -> dict:
    obj = _payload({"c": {"checkpoint_lsn": 2, "segments": []}})
    obj["catalog"] = {"tenants": [], "databases": [], "collections": listed}
    return obj


def test_manifest_must_have_an_entry_for_every_cataloged_collection():
    ok = M.decode(_rehead(_with_catalog([{"id": "c"}])), "/m")
    assert list(ok.collections) == ["c"]
    with pytest.raises(CorruptionError, match="no entry for collection d"):
        M.decode(_rehead(_with_catalog([{"id": "c"}, {"id": "d"}])), "/m")
    with pytest.raises(CorruptionError, match="no entry for collection None"):
        M.decode(_rehead(_with_catalog(["c"])), "/m")


def _manifest(gen: int) -> M.Manifest:
    return M.Manifest(gen, "u", 0, 5, {}, {"c": {"checkpoint_lsn": 2, "segments": []}}, 1.0)


def test_manifest_renamed_to_another_generation_is_corruption(tmp_path):
    from sedimentdb.engine.fileio import OsFileSystem

    fs = OsFileSystem()
    path = M.write_manifest(fs, str(tmp_path), _manifest(4))
    assert M.read_manifest(fs, path).generation == 4
    wrong = os.path.join(str(tmp_path), M.manifest_name(5))
    os.rename(path, wrong)
    with pytest.raises(CorruptionError, match="file name says generation 5, content 4"):
        M.read_manifest(fs, wrong)


def test_an_existing_manifest_is_never_overwritten(tmp_path):
    from sedimentdb.engine.fileio import OsFileSystem

    fs = OsFileSystem()
    path = M.write_manifest(fs, str(tmp_path), _manifest(2))
    before = open(path, "rb").read()
    with pytest.raises(CorruptionError, match="refusing to overwrite"):
        M.write_manifest(fs, str(tmp_path), M.Manifest(2, "other", 0, 9, {}, {}, 2.0))
    assert open(path, "rb").read() == before


def test_list_manifests_ignores_temp_files_and_foreign_names(tmp_path):
    from sedimentdb.engine.fileio import OsFileSystem

    for name in (M.manifest_name(3), M.manifest_name(1), M.manifest_name(2) + ".tmp",
                 "MANIFEST-12", "MANIFEST-abcdefghijklmnopqrst", "README"):
        (tmp_path / name).write_bytes(b"")
    found = M.list_manifests(OsFileSystem(), str(tmp_path))
    assert [g for g, _ in found] == [1, 3]


# ---- compactor passes ---------------------------------------------------------------------------------

def _collection(db: Database, n: int, name: str = "c", seed: int = 0) -> tuple[str, Model]:
    cid = db.create_collection(T, D, name).id
    vecs = clustered(n, 4, seed=seed)
    ids = [f"{name}{i}" for i in range(n)]
    model = Model()
    db.add(cid, ids, vecs, documents=[f"doc {i}" for i in range(n)])
    model.add(ids, vecs, [f"doc {i}" for i in range(n)])
    return cid, model


def test_pass_with_nothing_to_do_installs_no_manifest(tmp_path):
    with _open(tmp_path) as db:
        cid, _ = _collection(db, 5)
        db.compact()
        gens = [g for g, _ in M.list_manifests(db.fs, db.path)]
        assert db.compactor.run_pass(force=False) is False
        assert [g for g, _ in M.list_manifests(db.fs, db.path)] == gens


def test_unforced_pass_flushes_a_tail_past_its_record_threshold(tmp_path):
    with _open(tmp_path, compact_tail_records=10) as db:
        cid, model = _collection(db, 5)
        assert db.compactor.run_pass(force=False) is False  # 5 live records: below the threshold
        assert db.collections[cid].segments() == []
        db.add(cid, [f"x{i}" for i in range(5)], clustered(5, 4, seed=1))
        model.add([f"x{i}" for i in range(5)], clustered(5, 4, seed=1))
        assert db.compactor.run_pass(force=False) is True
        assert len(db.collections[cid].segments()) == 1
        assert_matches(db, cid, model)


def test_unforced_pass_flushes_an_old_tail(tmp_path):
    now = [1000.0]
    db = Database.open(str(tmp_path), DatabaseOptions(background_compaction=False, compact_tail_age_s=30),
                       clock=lambda: now[0])
    with db:
        cid, model = _collection(db, 3)
        assert db.compactor.run_pass(force=False) is False  # first seen now
        now[0] += 29
        assert db.compactor.run_pass(force=False) is False
        now[0] += 1
        assert db.compactor.run_pass(force=False) is True
        assert len(db.collections[cid].segments()) == 1
        assert_matches(db, cid, model)


def test_flushing_a_tail_whose_records_are_all_deleted_writes_no_segment(tmp_path):
    with _open(tmp_path) as db:
        cid, _ = _collection(db, 4)
        db.delete(cid, ids=[f"c{i}" for i in range(4)])
        db.compact()
        assert db.collections[cid].segments() == []
        assert _segment_dirs(tmp_path) == []
        assert db.count(cid) == 0
        ckpt = db.collections[cid].checkpoint_lsn
        assert ckpt == db.last_lsn  # the flush still moved the checkpoint
    with _open(tmp_path) as db:
        assert db.count(cid) == 0
        assert db.get(cid).ids == []


def test_compacting_an_unknown_collection_is_not_found_and_changes_nothing(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _collection(db, 3)
        manifests = M.list_manifests(db.fs, db.path)
        with pytest.raises(NotFoundError, match="no-such-collection"):
            db.compact("no-such-collection")
        assert db.collections[cid].segments() == []
        assert M.list_manifests(db.fs, db.path) == manifests
        assert_matches(db, cid, model)
        db.compact(cid)
        assert db.collections[cid].segments()


def test_closed_database_runs_no_job_and_installs_no_manifest(tmp_path):
    db = _open(tmp_path)
    cid, _ = _collection(db, 3)
    db.close()
    before = M.list_manifests(db.fs, db.path)
    assert db.compactor.run_pass(force=True) is False
    db.compactor.request_manifest()
    assert M.list_manifests(db.fs, db.path) == before
    assert db.collections[cid].segments() == []


def test_read_only_database_installs_no_manifest_on_request(tmp_path):
    with _open(tmp_path) as db:
        _collection(db, 3)
        db.compact()
    with _open(tmp_path, read_only=True) as ro:
        before = M.list_manifests(ro.fs, str(tmp_path))
        ro.compactor.request_manifest()
        assert M.list_manifests(ro.fs, str(tmp_path)) == before


def test_delete_marker_is_reused_while_the_deleted_rows_stay_the_same(tmp_path):
    with _open(tmp_path) as db:
        # 40 rows: the two one-row segments added below stay under compaction.policy's
        # GROW_FRACTION of it, so compact() leaves the segment (and its marker) alone.
        cid, model = _collection(db, 40)
        db.compact()
        db.delete(cid, ids=["c3"])  # 2.5% dead: below the vacuum threshold, the segment stays
        model.delete(["c3"])
        db.add(cid, ["n1"], clustered(1, 4, seed=9))
        model.add(["n1"], clustered(1, 4, seed=9))
        db.compact()  # the flush moves the checkpoint past the delete: a marker is written
        markers = sorted(os.listdir(tmp_path / "markers"))
        assert len(markers) == 1
        db.add(cid, ["n2"], clustered(1, 4, seed=10))
        model.add(["n2"], clustered(1, 4, seed=10))
        db.compact()  # same dead rows: the write-once marker is referenced again, not rewritten
        assert sorted(os.listdir(tmp_path / "markers")) == markers
        assert db.manifests[-1].files() >= {f"markers/{markers[0]}"}
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_collection_deleted_while_its_segment_is_built_leaves_no_files(tmp_path):
    db = _open(tmp_path)
    cid, _ = _collection(db, 6)
    keep_cid, keep_model = _collection(db, 4, name="k", seed=2)
    db.compact(keep_cid)
    build = db.compactor._build
    deleter: list[threading.Thread] = []

    def build_then_delete(plan):
        build(plan)
        if plan.cs.id == cid:
            # Another client deletes the collection while the job is between build and install.
            t = threading.Thread(target=db.delete_collection, args=(cid,))
            t.start()
            deleter.append(t)
            assert _wait_for(lambda: cid not in db.collections)

    db.compactor._build = build_then_delete
    with db:
        db.compact(cid)
        deleter[0].join(20)
        assert not deleter[0].is_alive()
        assert cid not in db.collections
        # The orphan output went with the next manifests; the other collection's segment stays.
        referenced = {f.split("/")[1] for m in db.manifests for f in m.files() if f.startswith("segments/")}
        assert _segment_dirs(tmp_path) == sorted(referenced)
        assert len(referenced) == 1
        assert_matches(db, keep_cid, keep_model)


def _batches(db: Database, cid: str, model: Model, k: int) -> None:
    """``k`` one-record batches: one LSN each, so the log rolls over several files."""
    for i in range(k):
        vec = clustered(1, 4, seed=100 + i)
        db.add(cid, [f"b{i}"], vec, documents=["x" * 200])
        model.add([f"b{i}"], vec, ["x" * 200])


def test_retain_wal_keeps_every_log_file(tmp_path):
    with _open(tmp_path, retain_wal=True, wal_roll_bytes=2048) as db:
        cid, model = _collection(db, 5)
        _batches(db, cid, model, 30)
        files = _wal_files(tmp_path)
        assert len(files) > 2
        db.compact()
        db.compact()
        assert set(files) <= set(_wal_files(tmp_path))
    with _open(tmp_path, retain_wal=True) as db:
        assert_matches(db, cid, model)


def _write_hold(path, content: bytes) -> None:
    hold = os.path.join(str(path), REPLICATION_HOLD)
    os.makedirs(os.path.dirname(hold), exist_ok=True)
    with open(hold, "wb") as f:
        f.write(content)


@pytest.mark.parametrize("hold", [b"2\n", b"not a number", b""])
def test_replication_hold_keeps_the_log_it_has_not_shipped(tmp_path, hold):
    with _open(tmp_path, wal_roll_bytes=2048) as db:
        cid, model = _collection(db, 5)
        _batches(db, cid, model, 30)
        assert len(_wal_files(tmp_path)) > 2
        first = _wal_files(tmp_path)[0]
        _write_hold(tmp_path, hold)
        db.compact()
        db.compact()
        # LSN 2 (or 0 for an unreadable hold) lies in the first file: nothing may be released.
        assert _wal_files(tmp_path)[0] == first
        assert db.wal.first_lsn == 1


def test_replication_hold_past_the_checkpoint_lets_the_log_go(tmp_path):
    with _open(tmp_path, wal_roll_bytes=2048) as db:
        cid, model = _collection(db, 5)
        _batches(db, cid, model, 30)
        first = _wal_files(tmp_path)[0]
        _write_hold(tmp_path, f"{10**9} 0\n".encode())
        assert db.log_release_limit() == 10**9
        db.compact()
        db.compact()
        assert first not in _wal_files(tmp_path)
        assert db.wal.first_lsn > 1


# ---- the background thread ---------------------------------------------------------------------------

def test_background_thread_flushes_past_the_record_threshold(tmp_path):
    with _open(tmp_path, background_compaction=True, compact_tail_records=10) as db:
        cid, model = _collection(db, 12)
        assert _wait_for(lambda: len(db.collections[cid].segments()) == 1)
        assert_matches(db, cid, model)
    assert db.compactor._thread is None  # close stopped and joined it


def test_background_thread_writes_the_manifests_a_delete_requests(tmp_path):
    with _open(tmp_path, background_compaction=True) as db:
        cid, _ = _collection(db, 5)
        keep, model = _collection(db, 3, name="k")
        db.compact()
        gen = db.manifests[-1].generation
        db.delete_collection(cid)
        # Two manifests, so the retained one no longer references the dropped segment.
        assert _wait_for(lambda: db.manifests[-1].generation >= gen + 2)
        assert _wait_for(lambda: len(_segment_dirs(tmp_path)) == 1)
        assert_matches(db, keep, model)


def test_background_failure_is_recorded_and_writes_go_on():
    fs = SimFileSystem()
    log = RecordingLogger()
    opts = DatabaseOptions(background_compaction=True, compact_tail_records=5)
    db = Database.open("/db", opts, fs=fs, logger=log)
    fault = fs.inject("rename", 1, persistent=True)  # every segment install fails
    cid, model = _collection(db, 6)
    assert _wait_for(lambda: db.compactor.error is not None)
    assert isinstance(db.compactor.error, StorageIOError)
    assert fault.fired
    assert any(level == "error" and event == "compaction failed" for level, event, _ in log.events)
    db.add(cid, ["late"], clustered(1, 4, seed=5))  # the log is unaffected: writes still succeed
    model.add(["late"], clustered(1, 4, seed=5))
    assert_matches(db, cid, model)
    db.close()
    fs.clear_faults()
    with Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL) as again:
        assert_matches(again, cid, model)
        again.compact()
        assert_matches(again, cid, model)
        assert len(again.collections[cid].segments()) == 1


def test_failed_build_keeps_the_frozen_tail_for_the_next_pass():
    fs = SimFileSystem()
    db = Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL)
    cid, model = _collection(db, 6)
    fs.inject("rename", 1)
    with pytest.raises(StorageIOError):
        db.compact()
    assert db.collections[cid].segments() == []
    assert_matches(db, cid, model)  # the frozen tail still serves reads
    db.add(cid, ["after"], clustered(1, 4, seed=7))
    model.add(["after"], clustered(1, 4, seed=7))
    assert db.compactor.run_pass(force=False) is True  # the frozen tail is picked up unforced
    assert len(db.collections[cid].segments()) == 1
    assert_matches(db, cid, model)
    db.close()
    with Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL) as again:
        assert_matches(again, cid, model)


def test_failed_manifest_write_is_reported_and_the_next_pass_installs_one():
    fs = SimFileSystem()
    db = Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL)
    cid, model = _collection(db, 6)
    gen = db.manifests[-1].generation if db.manifests else 0
    create = fs.create

    def create_failing_manifests(path: str):
        if "MANIFEST-" in path:
            raise StorageIOError("open failed: Input/output error (injected)", path=path)
        return create(path)

    fs.create = create_failing_manifests
    with pytest.raises(StorageIOError, match="injected"):
        db.compact()
    assert [g for g, _ in M.list_manifests(fs, "/db")] == ([gen] if gen else [])
    assert_matches(db, cid, model)  # the installed segment serves reads; the log is untouched
    db.add(cid, ["after"], clustered(1, 4, seed=7))
    model.add(["after"], clustered(1, 4, seed=7))
    fs.create = create
    db.compact()
    assert db.manifests[-1].generation > gen
    db.close()
    with Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL) as again:
        assert_matches(again, cid, model)
        # The second compact() grew the first segment by the new row: one graph.
        assert len(again.collections[cid].segments()) == 1


def test_manifest_failure_then_reopen_drops_the_unreferenced_segment():
    fs = SimFileSystem()
    db = Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL)
    cid, model = _collection(db, 6)
    create = fs.create
    fs.create = lambda path: (_ for _ in ()).throw(StorageIOError("injected", path=path)) \
        if "MANIFEST-" in path else create(path)
    with pytest.raises(StorageIOError):
        db.compact()
    assert fs.listdir("/db/segments")  # the built segment is on disk, referenced by nothing
    db.close()
    fs.create = create
    with Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL) as again:
        assert fs.listdir("/db/segments") == []
        assert_matches(again, cid, model)


def test_unknown_manifests_are_ignored_next_to_numbered_ones(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _collection(db, 3)
        db.compact()
    (tmp_path / "MANIFEST-notes").write_text("x")
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)
    assert (tmp_path / "MANIFEST-notes").exists()


def test_merge_keeps_the_biggest_input_as_graph_seed(tmp_path):
    with _open(tmp_path, max_segments_per_collection=2) as db:
        cid, model = _collection(db, 30)
        for k in range(3):
            ids = [f"m{k}-{i}" for i in range(5)]
            vecs = clustered(5, 4, seed=20 + k)
            db.add(cid, ids, vecs)
            model.add(ids, vecs)
            db.compact()
        assert len(db.collections[cid].segments()) <= 2
        assert_matches(db, cid, model)
        q = clustered(1, 4, seed=99)[0]
        got = db.query(cid, q, 5)[0]
        want = model.knn(q, 5)
        assert np.allclose(got.distances, [d for _, d in want], atol=1e-5)


def test_a_checkpointed_active_log_file_past_the_roll_size_is_sealed_and_released(tmp_path):
    from sedimentdb.engine.compactor.compactor import ROLL_COVERED_BYTES

    with _open(tmp_path) as db:
        cid, model = _collection(db, 2)
        for i in range(10):  # about 1.3 MiB in the one active file (64 MiB roll size)
            # Random hex: the log compresses records, so only incompressible bytes add up.
            big = np.random.default_rng(i).bytes(ROLL_COVERED_BYTES // 8).hex()
            vec = clustered(1, 4, seed=60 + i)
            db.add(cid, [f"big{i}"], vec, documents=[big])
            model.add([f"big{i}"], vec, [big])
        assert len(_wal_files(tmp_path)) == 1
        assert db.wal.files()[-1].size >= ROLL_COVERED_BYTES
        db.compact()
        # Everything was checkpointed: the big file was sealed and released; a fresh one is active.
        files = db.wal.files()
        assert len(files) == 1 and files[0].first_lsn == db.last_lsn + 1
        assert files[0].size < ROLL_COVERED_BYTES
        assert_matches(db, cid, model)
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_a_small_checkpointed_active_log_file_is_kept(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _collection(db, 3)
        db.compact()
        files = db.wal.files()
        assert len(files) == 1 and files[0].first_lsn == 1  # under the roll size: not sealed
        assert files[0].last_lsn == db.last_lsn


def test_failed_garbage_collection_is_reported_and_finished_by_the_next_pass():
    fs = SimFileSystem()
    opts = DatabaseOptions(background_compaction=False, wal_roll_bytes=1024)
    db = Database.open("/db", opts, fs=fs, logger=NULL)
    cid, model = _collection(db, 6)
    db.compact()
    old = [p for _, p in M.list_manifests(fs, "/db")]
    _batches(db, cid, model, 10)  # several log files for the GC to release
    fault = fs.inject("unlink", 1, persistent=True)  # every unlink fails: old manifest, log files
    with pytest.raises(StorageIOError, match="unlink failed"):
        db.compact()
    assert fault.fired
    new_gen = db.manifests[-1].generation
    assert new_gen > int(os.path.basename(old[0])[len(M.PREFIX):])  # installed before the GC failed
    assert all(fs.exists(p) for p in old)  # but nothing older was removed
    assert db.wal.first_lsn == 1 and len(db.wal.files()) > 1
    assert_matches(db, cid, model)
    fs.clear_faults()
    db.compact()  # the next pass collects what the failed one left
    assert [g for g, _ in M.list_manifests(fs, "/db")] == [db.manifests[-1].generation]
    assert db.wal.first_lsn > 1  # and the log files below the checkpoint
    db.close()
    with Database.open("/db", opts, fs=fs, logger=NULL) as again:
        assert_matches(again, cid, model)


def test_failed_builds_leave_no_temp_directories_once_a_pass_succeeds():
    """Regression: the temp directory of a failed segment build stayed until the database was
    reopened, so a background loop retrying a persistent failure (every 5 s; ENOSPC is the
    likely one) piled up partial segments on the full disk."""
    fs = SimFileSystem()
    db = Database.open("/db", DatabaseOptions(background_compaction=False), fs=fs, logger=NULL)
    cid, model = _collection(db, 6)
    fs.inject("rename", 1, persistent=True)  # the rename of segments/<id>.tmp fails every time
    for _ in range(3):
        with pytest.raises(StorageIOError):
            db.compact()
    assert len([n for n in fs.listdir("/db/segments") if n.endswith(".tmp")]) == 3
    fs.clear_faults()
    db.compact()
    names = fs.listdir("/db/segments")
    assert not [n for n in names if n.endswith(".tmp")]
    assert len(names) == 1
    assert_matches(db, cid, model)
    db.close()


def test_background_loop_survives_an_unexpected_error(tmp_path):
    """Regression: the background loop caught only StorageError; anything else (an hnswlib
    RuntimeError, a MemoryError while building a graph) ended the thread silently, and with
    it every later compaction and log release, while `compactor.error` stayed None."""
    log = RecordingLogger()
    db = Database.open(str(tmp_path), DatabaseOptions(compact_tail_records=5), logger=log)
    build, failures = db.compactor._build, []

    def build_failing_once(plan):
        if not failures:
            failures.append(plan)
            raise RuntimeError("index build failed")
        build(plan)

    db.compactor._build = build_failing_once
    with db:
        cid, model = _collection(db, 6)
        assert _wait_for(lambda: db.compactor.error is not None)
        assert isinstance(db.compactor.error, RuntimeError)
        assert any(event == "compaction failed" for _, event, _ in log.events)
        db.compactor.notify()
        # The thread lives on: after its back-off the next pass installs the frozen tail.
        assert _wait_for(lambda: len(db.collections[cid].segments()) == 1, timeout=30)
        assert db.compactor._thread is not None and db.compactor._thread.is_alive()
        assert_matches(db, cid, model)
