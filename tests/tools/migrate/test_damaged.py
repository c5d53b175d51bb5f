"""A damaged, busy or half-migrated source: a clear error naming the file, or --skip-damaged lists what it left out."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sedimentdb.tools.chroma import DamagedSourceError, read_chroma
from sedimentdb.tools.cli import cli
from sedimentdb.tools.ops import migrate as migrate_op

from .helpers import VERSIONS, expected, extract, tree_state

VERSION = VERSIONS[-1]
PERSISTED = "log-tail"  # the fixture collection whose HNSW index is on disk (and whose newest records are in the log)


def _run(*args: str):
    return CliRunner().invoke(cli, ["migrate-from-chroma", *args], catch_exceptions=False)


@pytest.fixture
def src(tmp_path) -> str:
    return extract(VERSION, str(tmp_path))


def _segment_dir(src: str, name: str = PERSISTED) -> str:
    conn = sqlite3.connect(f"file:{os.path.join(src, 'chroma.sqlite3')}?mode=ro", uri=True)
    (sid,) = conn.execute("SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection "
                          "WHERE c.name = ? AND s.scope = 'VECTOR'", (name,)).fetchone()
    conn.close()
    return os.path.join(src, sid)


def _count(name: str) -> int:
    return sum(c["count"] for c in expected(VERSION)["collections"] if c["name"] == name)


def _refused(src: str, dest: str, *needles: str, code: int = 4) -> str:
    before = tree_state(src)
    res = _run(src, dest)
    assert res.exit_code == code, res.output
    for needle in needles:
        assert needle in res.output, res.output
    assert not os.path.exists(dest)
    assert tree_state(src) == before
    return res.output


def test_corrupt_sqlite_page(src, tmp_path):
    path = os.path.join(src, "chroma.sqlite3")
    conn = sqlite3.connect(path)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'embedding_metadata'").fetchone()
    (page,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page + 8)
        f.write(b"\xa5" * 64)
    out = _refused(src, str(tmp_path / "dest"), "chroma.sqlite3", "corrupt")
    assert "offset" in out


def test_truncated_hnsw_file(src, tmp_path):
    data = os.path.join(_segment_dir(src), "data_level0.bin")
    os.truncate(data, 1000)
    _refused(src, str(tmp_path / "dest"), "data_level0.bin", "truncated", "offset 1000")


def test_missing_hnsw_file(src, tmp_path):
    os.remove(os.path.join(_segment_dir(src), "length.bin"))
    _refused(src, str(tmp_path / "dest"), "length.bin", "missing")


def test_missing_hnsw_directory(src, tmp_path):
    import shutil

    shutil.rmtree(_segment_dir(src))
    _refused(src, str(tmp_path / "dest"), _segment_dir(src), "index is missing")


def test_truncated_id_map(src, tmp_path):
    pkl = os.path.join(_segment_dir(src), "index_metadata.pickle")
    os.truncate(pkl, 40)
    _refused(src, str(tmp_path / "dest"), "index_metadata.pickle", "id map cannot be read")


def test_id_map_pickle_cannot_run_code(src, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(os.path.join(_segment_dir(src), "index_metadata.pickle"), "wb") as f:
        pickle.dump(Evil(), f)
    _refused(src, str(tmp_path / "dest"), "index_metadata.pickle", "refusing to load global")
    assert not marker.exists()


def _drop_from_sqlite(src: str, record_id: str) -> None:
    conn = sqlite3.connect(os.path.join(src, "chroma.sqlite3"))
    (oid,) = conn.execute("SELECT id FROM embeddings WHERE embedding_id = ?", (record_id,)).fetchone()
    for table in ("embedding_metadata", "embedding_metadata_array", "embedding_fulltext_search"):
        conn.execute(f"DELETE FROM {table} WHERE {'rowid' if 'fulltext' in table else 'id'} = ?", (oid,))
    conn.execute("DELETE FROM embeddings WHERE id = ?", (oid,))
    conn.commit()
    conn.close()


def test_record_in_index_but_not_in_sqlite(src, tmp_path):
    _drop_from_sqlite(src, "L7")
    _refused(src, str(tmp_path / "dest"), "in the HNSW index but not in SQLite", "'L7'", "index_metadata.pickle",
             "--skip-damaged")


def test_skip_damaged_imports_the_rest_and_lists_what_it_left_out(src, tmp_path):
    _drop_from_sqlite(src, "L7")
    os.remove(os.path.join(_segment_dir(src, "acme-docs"), "header.bin"))  # no pickle there: not read, not damage
    dest = str(tmp_path / "dest")
    res = _run(src, dest, "--skip-damaged", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["verified"]
    left = summary["skipped"]
    assert len(left) == 1 and left[0]["collection"] == PERSISTED and left[0]["ids"] == ["L7"]
    counts = {c["name"]: c["records"] for c in summary["collections"] if c["database"] == "default_database"}
    assert counts[PERSISTED] == _count(PERSISTED) - 1
    text = _run(src, str(tmp_path / "again"), "--skip-damaged")
    assert "LEFT OUT from log-tail" in text.output and "L7" in text.output


def test_skip_damaged_leaves_out_a_collection_whose_index_is_unreadable(src, tmp_path):
    os.truncate(os.path.join(_segment_dir(src), "data_level0.bin"), 10)
    summary = json.loads(_run(src, str(tmp_path / "dest"), "--skip-damaged", "--json").stdout)
    assert summary["verified"]
    assert [s["collection"] for s in summary["skipped"]] == [PERSISTED]
    assert "data_level0.bin" in summary["skipped"][0]["file"]
    assert PERSISTED not in {c["name"] for c in summary["collections"]}
    assert summary["records"] == sum(c["count"] for c in expected(VERSION)["collections"]) - _count(PERSISTED)


def test_hot_journal_means_busy(src, tmp_path):
    with open(os.path.join(src, "chroma.sqlite3-journal"), "wb") as f:
        f.write(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\0" * 504)
    _refused(src, str(tmp_path / "dest"), "refusing", "chroma.sqlite3-journal", code=3)


def test_writer_holding_the_write_lock_means_busy(src, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)",
         os.path.join(src, "chroma.sqlite3")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = _refused(src, str(tmp_path / "dest"), "refusing", "write lock", code=3)
        assert "chroma.sqlite3" in out
    finally:
        holder.kill()
        holder.wait()
    assert _run(src, str(tmp_path / "dest")).exit_code == 0  # the writer gone, it migrates


def test_uncheckpointed_wal_means_busy(src, tmp_path):
    path = os.path.join(src, "chroma.sqlite3")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("INSERT INTO maintenance_log (timestamp, operation) VALUES (0, 'test')")
    conn.commit()
    import shutil  # keep the -wal: copy the files while the connection is open

    frozen = str(tmp_path / "frozen")
    shutil.copytree(src, frozen)
    conn.close()
    _refused(frozen, str(tmp_path / "dest"), "chroma.sqlite3-wal", "not yet checkpointed", code=3)
    # A WAL-mode file whose log was checkpointed is fine (read with immutable=1, nothing created).
    before = tree_state(src)
    assert read_chroma(src).collections
    assert tree_state(src) == before


def test_interrupted_migration_leaves_no_database(src, tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    calls = []

    def failing_ingest(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt  # as if the user pressed ^C mid-import
        return real_ingest(self, *args, **kwargs)

    real_ingest = migrate_op.Database.bulk_ingest
    monkeypatch.setattr(migrate_op.Database, "bulk_ingest", failing_ingest)
    with pytest.raises(KeyboardInterrupt):
        migrate_op.migrate_from_chroma(src, str(dest))
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest")] == []


def test_leftover_of_a_killed_run_is_removed(src, tmp_path):
    stale = tmp_path / ".dest.migrating-999999999"
    (stale / "wal").mkdir(parents=True)
    assert _run(src, str(tmp_path / "dest")).exit_code == 0
    assert not stale.exists() and (tmp_path / "dest" / "wal").is_dir()


def test_failed_verification_creates_no_database(src, tmp_path, monkeypatch):
    real = migrate_op.Database.bulk_ingest
    names = {c.id: c.name for c in read_chroma(src).collections}

    def wrong(db, cid, ids, embeddings, *rest):  # one bit of one stored vector flipped on the way
        if names[cid] == PERSISTED:
            embeddings = embeddings.copy()
            embeddings.view("u4")[0, 0] ^= 1
        return real(db, cid, ids, embeddings, *rest)

    monkeypatch.setattr(migrate_op.Database, "bulk_ingest", wrong)
    res = _run(src, str(tmp_path / "dest"))
    assert res.exit_code == 1 and "does not match the source" in res.output
    assert f"{PERSISTED}: record digest differs from the source's" in res.output
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest")] == []


def test_reader_error_names_the_file(src):
    os.remove(os.path.join(_segment_dir(src), "header.bin"))
    with pytest.raises(DamagedSourceError) as err:
        read_chroma(src)
    assert err.value.path.endswith("header.bin")
