"""What stays on disk after compaction: one manifest generation by default, the log below its
checkpoints released, dead rows vacuumed, and the fallback generation only when asked for."""

from __future__ import annotations

import os

import pytest

from sedimentdb.engine.compactor.compactor import ROLL_COVERED_BYTES
from sedimentdb.engine.compactor.manifest import list_manifests, write_manifest
from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import CorruptionError

from .helpers import Model, clustered
from .test_database import assert_matches

T, D = DEFAULT_TENANT, DEFAULT_DATABASE


def _open(path, **kw) -> Database:
    return Database.open(str(path), DatabaseOptions(**{"background_compaction": False, **kw}))


def _load_and_rewrite(db: Database, n: int = 4000) -> tuple[str, Model]:
    """Load ``n`` records, compact, then update and delete 15% each and compact again."""
    vecs = clustered(n, 8, seed=3)
    model = Model("l2")
    cid = db.create_collection(T, D, "c").id
    ids = [f"r{i}" for i in range(n)]
    db.add(cid, ids, vecs)
    model.add(ids, vecs)
    db.compact()
    changed = ids[: n * 15 // 100]
    db.update(cid, changed, embeddings=vecs[: len(changed)] * 2)
    model.update(changed, vecs[: len(changed)] * 2)
    gone = ids[-n * 15 // 100:]
    db.delete(cid, ids=gone)
    model.delete(gone)
    db.compact()
    return cid, model


def _segment_dirs(path) -> set[str]:
    return set(os.listdir(os.path.join(path, "segments")))


def test_default_keeps_one_generation_and_releases_its_log(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _load_and_rewrite(db)
        referenced = {f.split("/")[1] for f in db.manifests[-1].files() if f.startswith("segments/")}
        assert len(db.manifests) == 1
        assert _segment_dirs(tmp_path) == referenced
        covered = db.manifests[-1].replay_from() - 1
        # Only the active file may be wholly covered, and only while it is under a roll's worth.
        files = db.wal.files()
        assert all(f.last_lsn > covered for f in files[:-1])
        assert files[-1].last_lsn > covered or files[-1].size < ROLL_COVERED_BYTES
        assert_matches(db, cid, model)
    assert len(list_manifests(OsFileSystem(), str(tmp_path))) == 1
    with _open(tmp_path) as db:
        assert_matches(db, cid, model)


def test_dead_rows_past_the_vacuum_threshold_are_rewritten(tmp_path):
    with _open(tmp_path) as db:
        cid, model = _load_and_rewrite(db)
        cs = db.collections[cid]
        for part in cs.segments():
            dead = part.count - int(part.alive().sum())
            assert dead <= db.options.vacuum_deleted_fraction * part.count


def test_keep_manifests_two_retains_the_previous_generation(tmp_path):
    with _open(tmp_path, keep_manifests=2) as db:
        cid, model = _load_and_rewrite(db)
        assert len(db.manifests) == 2
        older = {f.split("/")[1] for f in db.manifests[0].files() if f.startswith("segments/")}
        assert older <= _segment_dirs(tmp_path)
        assert db.wal.files()[0].first_lsn <= db.manifests[0].replay_from()
    with _open(tmp_path, keep_manifests=2) as db:
        assert_matches(db, cid, model)


def test_damaged_sole_manifest_refuses_to_open(tmp_path):
    with _open(tmp_path) as db:
        _load_and_rewrite(db, n=1500)
    (_gen, path), = list_manifests(OsFileSystem(), str(tmp_path))
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(CorruptionError, match="no manifest validates"):
        _open(tmp_path)


class _LyingReads(OsFileSystem):
    """Reads of manifests come back with one byte changed (a disk that lost the write)."""

    def read_bytes(self, path: str) -> bytes:
        data = super().read_bytes(path)
        if os.path.basename(path).startswith("MANIFEST-"):
            return data[:-1] + bytes([data[-1] ^ 1])
        return data


def test_manifest_that_reads_back_different_bytes_is_refused(tmp_path):
    with _open(tmp_path) as db:
        _load_and_rewrite(db, n=1500)
        manifest = db.manifests[-1]
    manifest.generation += 1
    with pytest.raises(CorruptionError, match="reads back different bytes") as exc:
        write_manifest(_LyingReads(), str(tmp_path), manifest)
    assert exc.value.path.endswith(f"MANIFEST-{manifest.generation:020d}")


def test_keep_manifests_must_be_positive():
    with pytest.raises(ValueError, match="keep_manifests must be at least 1"):
        DatabaseOptions(keep_manifests=0)


def test_an_empty_collection_does_not_pin_the_log_from_lsn_1(tmp_path):
    # A collection that never flushed used to enter manifests with checkpoint 0: the next
    # open replayed from LSN 1, which a released (or restored) log no longer holds.
    with _open(tmp_path, wal_roll_bytes=64 * 1024) as db:
        cid, model = _load_and_rewrite(db, n=1500)
        created = db.last_lsn + 1
        empty = db.create_collection(T, D, "empty").id
        db.add(cid, ["late"], clustered(1, 8, seed=9))
        model.add(["late"], clustered(1, 8, seed=9))
        db.compact()
        entry = db.manifests[-1].collections[empty]
        assert entry["checkpoint_lsn"] >= created
        assert db.manifests[-1].replay_from() > created
    with _open(tmp_path) as db:
        assert db.count(empty) == 0
        assert_matches(db, cid, model)
