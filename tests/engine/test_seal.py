"""Issue 16 item 4: a log cut short, swapped or deleted after a clean close is corruption, never a
shorter, different or empty database; after a real crash the torn-tail rule is unchanged."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import format as WF
from sedimentdb.engine.wal.frames import decode_file_header
from sedimentdb.engine.wal.reader import list_log_files, scan_frames
from sedimentdb.engine.wal.seal import read_seal
from sedimentdb.tools.ops.repair import apply_repair, plan_repair
from sedimentdb.tools.ops.verify import verify

OPTS = DatabaseOptions(background_compaction=False)
N = 300


def _build(path: str, n: int = N, seed: int = 0) -> str:
    """n single-row adds, each acknowledged (durability full), then a clean close; returns the collection id."""
    rng = np.random.default_rng(seed)
    db = Database.open(path, OPTS)
    try:
        c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c")
        for i in range(n):
            db.add(c.id, [f"r{i}"], rng.standard_normal((1, 4)).astype(np.float32))
        return c.id
    finally:
        db.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[str, str]:
    path = str(tmp_path_factory.mktemp("seal") / "db")
    return path, _build(path)


@pytest.fixture
def db(template, tmp_path) -> tuple[str, str]:
    src, cid = template
    dest = str(tmp_path / "db")
    shutil.copytree(src, dest)
    return dest, cid


def _log(path: str) -> str:
    [log] = list_log_files(OsFileSystem(), os.path.join(path, "wal"))
    return log


def _record_offsets(log: str) -> list[tuple[int, int]]:
    data = open(log, "rb").read()
    scan = scan_frames(data, decode_file_header(data))
    return [(r.lsn, r.offset) for r in scan.records]


def _tree(path: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(path):
        for f in files:
            if f != "LOCK":
                out[os.path.relpath(os.path.join(root, f), path)] = open(os.path.join(root, f), "rb").read()
    return out


def test_clean_close_seals_the_last_synced_lsn(db):
    path, _cid = db
    seal = read_seal(OsFileSystem(), os.path.join(path, WF.SEAL_FILE))
    assert seal is not None and seal.reason == WF.SEAL_CLOSED
    assert seal.lsn == _record_offsets(_log(path))[-1][0]


def test_log_cut_mid_record_after_a_clean_close_is_corruption(db):
    path, _cid = db
    log = _log(path)
    os.truncate(log, int(os.path.getsize(log) * 0.4))  # the reproduction: cut to 40%
    before = _tree(path)
    with pytest.raises(CorruptionError, match="durable at the last clean close") as info:
        Database.open(path, OPTS)
    assert info.value.path == log and info.value.offset is not None and info.value.lsn is not None
    assert _tree(path) == before  # the failed open cut nothing and set nothing aside
    errors = verify(path).errors
    assert errors and errors[0].area == "log" and errors[0].file == log and errors[0].lsn == info.value.lsn


def test_log_cut_at_a_record_boundary_after_a_clean_close_is_corruption(db):
    path, _cid = db
    log = _log(path)
    lsn, offset = _record_offsets(log)[100]
    os.truncate(log, offset)  # a clean cut: the log alone looks like a shorter, valid log
    with pytest.raises(CorruptionError, match=f"ends at LSN {lsn - 1}") as info:
        Database.open(path, OPTS)
    assert (info.value.path, info.value.offset, info.value.lsn) == (log, offset, lsn)
    report = verify(path)
    assert not report.clean
    assert any(p.lsn == lsn and "missing" in p.message for p in report.errors)


def test_log_swapped_for_another_databases_is_corruption(db, tmp_path):
    path, _cid = db
    other = str(tmp_path / "other")
    _build(other, n=N, seed=1)
    log = _log(path)
    os.replace(_log(other), log)
    with pytest.raises(CorruptionError, match="belongs to database") as info:
        Database.open(path, OPTS)
    assert info.value.path == log and info.value.offset == 16
    assert not verify(path).clean


def test_deleted_log_is_corruption_and_the_failed_open_writes_nothing(db):
    path, _cid = db
    os.unlink(_log(path))
    with pytest.raises(CorruptionError, match="the log is missing"):
        Database.open(path, OPTS)
    assert os.listdir(os.path.join(path, "wal")) == []
    assert any("the log is missing" in p.message for p in verify(path).errors)


def test_torn_tail_after_a_real_crash_still_opens(tmp_path):
    """A crash leaves the seal of the last open: records logged since then may be torn."""
    path, image = str(tmp_path / "db"), str(tmp_path / "image")
    db = Database.open(path, OPTS)
    c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c")
    for i in range(20):
        db.add(c.id, [f"r{i}"], np.ones((1, 4), dtype=np.float32) * i)
    shutil.copytree(path, image)  # what a kill -9 leaves (the page cache survives)
    db.close()
    log = _log(image)
    os.truncate(log, os.path.getsize(log) - 7)  # the newest record torn
    reopened = Database.open(image, OPTS)
    try:
        assert reopened.count(c.id) == 19
    finally:
        reopened.close()


def test_damaged_seal_is_corruption_naming_it(db):
    path, _cid = db
    spath = os.path.join(path, WF.SEAL_FILE)
    data = bytearray(open(spath, "rb").read())
    data[33] ^= 1
    open(spath, "wb").write(bytes(data))
    with pytest.raises(CorruptionError, match="seal file checksum") as info:
        Database.open(path, OPTS)
    assert info.value.path == spath


def test_repair_gets_past_a_cut_log_saying_what_is_lost(db):
    path, cid = db
    log = _log(path)
    lsn, offset = _record_offsets(log)[100]
    last = _record_offsets(log)[-1][0]
    os.truncate(log, offset + 10)
    with plan_repair(path) as plan:
        kinds = [a.kind for a in plan.actions]
        assert "lower-seal" in kinds, kinds
        lower = next(a for a in plan.actions if a.kind == "lower-seal")
        assert f"LSNs {lsn}..{last}" in lower.description and "LOST" in lower.description
        apply_repair(plan)
    assert verify(path, index=False).clean
    reopened = Database.open(path, OPTS)
    try:
        assert reopened.last_lsn == lsn - 1
        assert reopened.count(cid) == lsn - 1 - 3  # LSNs 1-3: the tenant, the database, the collection
    finally:
        reopened.close()


def test_format_md_documents_the_seal_layout():
    import re

    import sedimentdb.engine.wal as wal_pkg

    text = open(os.path.join(os.path.dirname(wal_pkg.__file__), "FORMAT.md"), encoding="utf-8").read()
    section = text[text.index("## 10. The seal"):]
    assert f"One file, {WF.SEAL_SIZE} bytes" in section
    rows = re.findall(r"^\| (\d+) +\| (\d+) +\|", section, re.M)
    offsets = [int(o) for o, _ in rows]
    sizes = [int(n) for _, n in rows]
    assert offsets == [sum(sizes[:i]) for i in range(len(sizes))] and sum(sizes) == WF.SEAL_SIZE
    assert WF.SEAL.format == "<8sHHI16sQQ" and sizes == [8, 2, 2, 4, 16, 8, 8, 4]
    assert WF.SEAL_MAGIC == b"SDBSEAL\x01" and "`SDBSEAL\\x01`" in section


@pytest.mark.parametrize("damage", ["deleted", "swapped"])
def test_repair_gets_past_a_missing_or_foreign_log(db, tmp_path, damage):
    path, _cid = db
    log = _log(path)
    if damage == "deleted":
        os.unlink(log)
    else:
        other = str(tmp_path / "other")
        _build(other, n=5, seed=1)
        os.replace(_log(other), log)
    with plan_repair(path) as plan:
        kinds = [a.kind for a in plan.actions]
        assert kinds[-1] == "lower-seal" and "LOST" in plan.actions[-1].description, kinds
        assert (damage == "swapped") == ("set-aside-foreign-log" in kinds)
        apply_repair(plan)
    assert verify(path, index=False).clean
    reopened = Database.open(path, OPTS)
    try:
        assert reopened.list_collections(DEFAULT_TENANT, DEFAULT_DATABASE) == []  # nothing of the other database
    finally:
        reopened.close()
