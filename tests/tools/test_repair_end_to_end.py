"""Repair never dead-ends (issue 16 item 5): for every kind of damage verify reports, on a database
whose log was released by compaction and on one that keeps its whole log, ``repair`` reaches a
directory that verify calls clean and that opens, and every record a segment held is still there.
A failed open changes nothing in the damaged directory.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.segments import Segment, SegmentDescriptor
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.tools.ops.repair import apply_repair, plan_repair
from sedimentdb.tools.ops.verify import verify

from .helpers import flip_byte, snapshot, tree_digest

DIM = 8


def _build_released(path: str, release: bool = True) -> None:
    """Three compactions with a small roll size: the older log files are released (unless not
    ``release``: then the whole log is kept, in several files), and the newest file holds the
    only copy of five records written after the last checkpoint."""
    rng = np.random.default_rng(1)
    opts = DatabaseOptions(background_compaction=False, retain_wal=not release, durability="off",
                           wal_roll_bytes=1 << 14)
    db = Database.open(path, opts)
    try:
        c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "docs")
        for batch, n in enumerate((1200, 300, 300)):  # the first segment is big enough for a graph
            db.add(c.id, [f"b{batch}-{i}" for i in range(n)], rng.normal(size=(n, DIM)).astype(np.float32))
            db.compact()
        for k in range(5):
            db.add(c.id, [f"tail{k}"], rng.normal(size=(1, DIM)).astype(np.float32))
    finally:
        db.close()
    wal = os.path.join(path, "wal")
    names = sorted(os.listdir(wal))
    for name in names[:-1] if release else ():  # what the next checkpoint's release would do: keep only the newest
        os.unlink(os.path.join(wal, name))


@pytest.fixture(scope="module")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("released") / "db")
    _build_released(path)
    return path


@pytest.fixture(scope="module")
def rolled_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("rolled") / "db")
    _build_released(path, release=False)
    assert len(os.listdir(os.path.join(path, "wal"))) >= 2
    return path


@pytest.fixture(params=["released", "rolled", "whole"])
def shaped_db(request, released_template: str, rolled_template: str, template_db: str,
              tmp_path) -> tuple[str, str]:
    dest = str(tmp_path / "db")
    source = {"released": released_template, "rolled": rolled_template, "whole": template_db}[request.param]
    shutil.copytree(source, dest)
    return request.param, dest


def _newest_log(path: str) -> str:
    wal = os.path.join(path, "wal")
    return os.path.join(wal, sorted(n for n in os.listdir(wal) if n.endswith(".log"))[-1])


def _garbage_header(path: str) -> None:
    log = _newest_log(path)
    data = open(log, "rb").read()
    open(log, "wb").write(bytes(64) + data[64:])


def _garbage_whole_file(path: str) -> None:
    log = _newest_log(path)
    size = os.path.getsize(log)
    open(log, "wb").write(np.random.default_rng(3).bytes(size))


def _newest_emptied(path: str) -> None:
    """The newest log file cut to nothing (what a crash leaves of a roll's new file, or a file
    whose records a manifest already covers lost to the disk)."""
    os.truncate(_newest_log(path), 0)


def _flip_record(path: str) -> None:
    flip_byte(_newest_log(path), 64 + 40)


def _garbage_between_records(path: str) -> None:
    log = _newest_log(path)
    data = open(log, "rb").read()
    open(log, "wb").write(data[:64] + b"\xde\xad\xbe\xef" * 4 + data[64:])


def _torn_tail(path: str) -> None:
    log = _newest_log(path)
    os.truncate(log, os.path.getsize(log) - 12)


def _foreign_log(path: str) -> None:
    """Another database's log file under the name of this one's newest."""
    other = os.path.join(os.path.dirname(path), "other")
    db = Database.open(other, DatabaseOptions(background_compaction=False, durability="off"))
    db.close()
    wal = os.path.join(other, "wal")
    shutil.copyfile(os.path.join(wal, sorted(os.listdir(wal))[0]), _newest_log(path))


def _file_before_newest_deleted(path: str) -> None:
    """A gap before the newest log file (in a one-file log: the whole log gone)."""
    wal = os.path.join(path, "wal")
    names = sorted(os.listdir(wal))
    os.unlink(os.path.join(wal, names[-2] if len(names) > 1 else names[0]))


def _torn_new_header(path: str) -> None:
    """A roll's new file whose header a crash cut short."""
    from sedimentdb.engine.fileio import OsFileSystem
    from sedimentdb.engine.wal import scan
    newest = _newest_log(path)
    end = max(r.lsn for r in scan(os.path.join(path, "wal"), fs=OsFileSystem()))
    open(os.path.join(path, "wal", f"{end + 1:020d}.log"), "wb").write(open(newest, "rb").read()[:20])


def _log_deleted(path: str) -> None:
    wal = os.path.join(path, "wal")
    for name in os.listdir(wal):
        os.unlink(os.path.join(wal, name))


def _manifest_flipped(path: str) -> None:
    newest = sorted(n for n in os.listdir(path) if n.startswith("MANIFEST-"))[-1]
    flip_byte(os.path.join(path, newest), 50)


def _graph_flipped(path: str) -> None:
    flip_byte(os.path.join(segment_dir_any(path), "graph.hnsw"), 5000)


def _vectors_flipped(path: str) -> None:
    """A flipped byte in the raw vectors of the newest manifest's last segment (data, not derived)."""
    flip_byte(os.path.join(_last_segment_dir(path), "vectors.f32"), 70)


def _last_segment_dir(path: str) -> str:
    from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
    from sedimentdb.engine.fileio import OsFileSystem
    fs = OsFileSystem()
    m = read_manifest(fs, list_manifests(fs, path)[-1][1])
    segs = [s["descriptor"]["segment_id"] for e in m.collections.values() for s in e["segments"]]
    return os.path.join(path, "segments", segs[-1])


def segment_dir_any(path: str) -> str:
    from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
    from sedimentdb.engine.fileio import OsFileSystem
    fs = OsFileSystem()
    m = read_manifest(fs, list_manifests(fs, path)[-1][1])
    for entry in m.collections.values():
        for seg in entry["segments"]:
            if "graph.hnsw" in seg["descriptor"]["files"]:
                return os.path.join(path, "segments", seg["descriptor"]["segment_id"])
    raise AssertionError("no segment with a graph")


DAMAGE = {
    "garbage-header": _garbage_header,
    "garbage-file": _garbage_whole_file,
    "newest-emptied": _newest_emptied,
    "flipped-record": _flip_record,
    "garbage-between-records": _garbage_between_records,
    "torn-tail": _torn_tail,
    "log-deleted": _log_deleted,
    "foreign-log": _foreign_log,
    "file-before-newest-deleted": _file_before_newest_deleted,
    "torn-new-header": _torn_new_header,
    "manifest-flipped": _manifest_flipped,
    "graph-flipped": _graph_flipped,
    "vectors-flipped": _vectors_flipped,
}


BY_DESIGN = {("released", "manifest-flipped"): "restore the directory from a backup or a replica"}


def _segment_records(path: str, skip: frozenset[str] = frozenset()) -> set[tuple]:
    """Every (collection, id, vector bytes) the segments of the newest manifest hold, live or not
    (except the segments ``skip`` names)."""
    from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
    from sedimentdb.engine.fileio import OsFileSystem
    from sedimentdb.engine.segments import Segment, SegmentDescriptor
    fs = OsFileSystem()
    out = set()
    m = read_manifest(fs, list_manifests(fs, path)[-1][1])
    deleted = {"id1", "id2"}  # the whole-log template deletes these after its checkpoint
    for cid, entry in m.collections.items():
        for seg in entry["segments"]:
            if seg["descriptor"]["segment_id"] in skip:
                continue
            s = Segment.open(fs, os.path.join(path, "segments"), SegmentDescriptor.from_dict(seg["descriptor"]))
            out |= {(cid, s.ids[r], s.vectors[r].tobytes()) for r in range(s.count) if s.ids[r] not in deleted}
    return out


def _live(path: str) -> set[tuple]:
    return {(cid, r[0], r[1]) for cid, rows in snapshot(path).items() for r in rows}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_repair_then_verify_is_clean_and_keeps_every_segment_record(shaped_db, kind):
    shape, path = shaped_db
    held = _segment_records(path)
    DAMAGE[kind](path)
    report = verify(path)
    if report.clean and kind not in ("torn-tail", "torn-new-header"):
        pytest.fail(f"verify did not see {kind} damage on the {shape} database")
    with plan_repair(path) as plan:
        if (shape, kind) in BY_DESIGN:
            # The only manifest holds the catalog and the log that built it is released: nothing
            # can rebuild it. Repair says so, and changes nothing (the operator restores).
            assert plan.unfixable and BY_DESIGN[shape, kind] in plan.unfixable[0]
            return
        assert not plan.unfixable, plan.unfixable
        dropped = frozenset(a.details["segment_id"] for a in plan.actions if a.kind == "drop-segment")
        if dropped:  # the log cannot rebuild it: the other segments keep everything, it is named LOST
            held = _segment_records(path, skip=dropped)
            assert kind == "vectors-flipped" and shape == "released", (shape, kind)
        if plan.actions:
            apply_repair(plan)
    after = verify(path)
    assert after.clean, [p.text() for p in after.errors]
    assert held <= _live(path), f"{len(held - _live(path))} segment record(s) lost after repairing {kind}"
    with plan_repair(path) as again:  # no second round: the first one finished the job
        assert not again.actions and not again.unfixable


@pytest.fixture
def released_db(released_template: str, tmp_path) -> str:
    dest = str(tmp_path / "released")
    shutil.copytree(released_template, dest)
    return dest


def test_garbage_in_the_only_log_file_after_release_keeps_what_the_log_still_reads(released_db):
    path = released_db
    before = _live(path)
    _garbage_header(path)
    with plan_repair(path) as plan:
        kinds = [a.kind for a in plan.actions]
        text = " ".join(a.description for a in plan.actions)
        apply_repair(plan)
    assert kinds == ["set-aside-log", "restart-log"]
    assert "LSNs" in text and "are kept" in text and "could not be read" in text
    assert _live(path) == before  # the frames after the bad header still read: nothing is lost


@pytest.mark.parametrize("kind", ["log-deleted", "newest-emptied"])
def test_a_failed_open_writes_nothing_into_the_damaged_directory(shaped_db, kind):
    """Before: a fresh log file was created (log gone), or the emptied newest file was set aside
    and removed as a torn roll, and only then was the open refused."""
    _shape, path = shaped_db
    DAMAGE[kind](path)
    before = tree_digest(path)
    with pytest.raises(CorruptionError) as err:
        Database.open(path, DatabaseOptions(background_compaction=False))
    assert err.value.path and err.value.lsn is not None  # a typed error naming where
    assert tree_digest(path) == before


def test_damaged_segment_data_after_release_is_dropped_naming_what_is_lost(released_db):
    """Issue 16 item 5 (a): the log cannot rebuild the segment, so repair publishes a manifest
    without it, keeps every other segment and the log, and names the segment, its rows and ids."""
    path = released_db
    seg_id = os.path.basename(_last_segment_dir(path))
    fs = OsFileSystem()
    m = read_manifest(fs, list_manifests(fs, path)[-1][1])
    desc = next(SegmentDescriptor.from_dict(s["descriptor"]) for e in m.collections.values()
                for s in e["segments"] if s["descriptor"]["segment_id"] == seg_id)
    lost_ids = set(Segment.open(fs, os.path.join(path, "segments"), desc).ids)
    before = _live(path)
    _vectors_flipped(path)
    with plan_repair(path) as plan:
        assert not plan.unfixable
        drop = [a for a in plan.actions if a.kind == "drop-segment"]
        assert len(drop) == 1 and seg_id in drop[0].description and "LOST" in drop[0].description
        assert f"{desc.count} row(s)" in drop[0].description
        assert set(drop[0].details["lost_ids"]) == lost_ids
        aside = plan.aside
        apply_repair(plan)
    assert verify(path).clean
    after = _live(path)
    assert {r for r in before if r[1] not in lost_ids} == after  # everything else kept, tail included
    assert os.path.isdir(os.path.join(aside, "segments", seg_id))  # set aside, not deleted
    db = Database.open(path, DatabaseOptions(background_compaction=False))
    db.close()
