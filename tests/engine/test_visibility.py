"""A write becomes visible to readers only once its log record is durable (finding F-9).

The log's fdatasync is held at a gate, so a write is caught between "logged" and "durable":
readers must not see it there, must not be blocked by it, and concurrent writers must still
validate against it (the dimension it sets, the ids it adds or deletes).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import InvalidArgumentError, StorageIOError, WriterFailedError
from sedimentdb.engine.wal.records import DeleteRecords, WriteBatch, WriteOp

WAIT = 10.0  # seconds; a timeout here is a hang, reported as a failure


class GatedFile:
    """A log file whose fdatasync waits at the file system's gate while it is closed."""

    def __init__(self, fs: GatedFileSystem, inner: Any, path: str) -> None:
        self._fs, self._inner, self.path = fs, inner, path

    def write(self, data: bytes) -> None:
        self._inner.write(data)

    def sync(self) -> None:
        if self._fs.gated and "/wal/" in self.path:
            self._fs.syncing.set()
            assert self._fs.gate.wait(WAIT), "the gate was never opened"
            if self._fs.fail_next_sync:
                self._fs.fail_next_sync = False
                raise StorageIOError("fdatasync failed: Input/output error (injected)", path=self.path)
        self._inner.sync()

    def tell(self) -> int:
        return int(self._inner.tell())

    def close(self) -> None:
        self._inner.close()


class GatedFileSystem(OsFileSystem):
    """The real file system, with the log's fdatasync held until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gated = False
        self.fail_next_sync = False
        self.gate = threading.Event()
        self.syncing = threading.Event()

    def create(self, path: str) -> Any:
        return GatedFile(self, super().create(path), path)

    def open_append(self, path: str) -> Any:
        return GatedFile(self, super().open_append(path), path)

    def hold(self) -> None:
        """Hold the next log fdatasyncs at the gate."""
        self.gate.clear()
        self.syncing.clear()
        self.gated = True

    def release(self) -> None:
        self.gated = False
        self.gate.set()


def _db(tmp_path: Any, fs: GatedFileSystem) -> tuple[Database, str]:
    db = Database.open(str(tmp_path / "db"), DatabaseOptions(background_compaction=False), fs=fs)
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    return db, cid


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except Exception as exc:  # handed to the test, which asserts on it
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _vecs(n: int, dim: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim), dtype=np.float32)


def test_a_write_is_invisible_until_durable_and_readers_are_not_blocked(tmp_path):
    fs = GatedFileSystem()
    db, cid = _db(tmp_path, fs)
    fs.hold()
    t, out = _in_thread(lambda: db.add(cid, ["a", "b"], _vecs(2)))
    assert fs.syncing.wait(WAIT)
    # The writer is inside fdatasync: its record is in the log file, not yet durable.
    assert db.count(cid) == 0
    assert db.get(cid, ids=["a", "b"]).ids == []
    assert db.query(cid, _vecs(1), 2)[0].ids == []
    assert t.is_alive()
    fs.release()
    t.join(WAIT)
    assert "error" not in out
    # Once add returns, its writer and every reader see it.
    assert db.count(cid) == 2
    assert db.last_lsn == out["value"]
    db.close()


def test_a_write_whose_sync_fails_is_never_seen_and_earlier_durable_ones_are(tmp_path):
    fs = GatedFileSystem()
    db, cid = _db(tmp_path, fs)
    db.add(cid, ["kept"], _vecs(1))
    fs.hold()
    fs.fail_next_sync = True
    t, out = _in_thread(lambda: db.add(cid, ["lost"], _vecs(1, seed=1)))
    assert fs.syncing.wait(WAIT)
    assert db.get(cid).ids == ["kept"]
    fs.release()
    t.join(WAIT)
    assert isinstance(out.get("error"), WriterFailedError)
    assert db.get(cid).ids == ["kept"]
    with pytest.raises(WriterFailedError):
        db.add(cid, ["after"], _vecs(1, seed=2))
    db.close()


def test_a_concurrent_writer_validates_against_a_queued_write(tmp_path):
    fs = GatedFileSystem()
    db, cid = _db(tmp_path, fs)
    fs.hold()
    # The first add into the empty collection sets its dimension, 3, but is not applied yet.
    t, out = _in_thread(lambda: db.add(cid, ["a", "b"], _vecs(2)))
    assert fs.syncing.wait(WAIT)
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 5"):
        db.add(cid, ["c"], _vecs(1, dim=5))
    fs.release()
    t.join(WAIT)
    assert "error" not in out
    db.close()


def test_an_upsert_without_embeddings_sees_queued_adds_and_deletes(tmp_path):
    fs = GatedFileSystem()
    db, cid = _db(tmp_path, fs)
    db.add(cid, ["old"], _vecs(1))
    fs.hold()
    t1, out1 = _in_thread(lambda: db.add(cid, ["new"], _vecs(1, seed=1)))
    assert fs.syncing.wait(WAIT)
    t2, out2 = _in_thread(lambda: db.delete(cid, ids=["old"]))
    # Both records are queued: "new" will exist, "old" will not.
    for _ in range(1000):
        if len(db._unapplied) == 2:
            break
        threading.Event().wait(0.005)
    assert len(db._unapplied) == 2
    with pytest.raises(InvalidArgumentError, match="needs an embedding"):
        db.upsert(cid, ["old"], documents=["x"])
    t3, out3 = _in_thread(lambda: db.upsert(cid, ["new"], documents=["updated"]))
    fs.release()
    for t in (t1, t2, t3):
        t.join(WAIT)
    assert not any("error" in o for o in (out1, out2, out3))
    got = db.get(cid)
    assert got.ids == ["new"]
    assert got.documents == ["updated"]
    db.close()
    again = Database.open(str(tmp_path / "db"), DatabaseOptions(background_compaction=False))
    assert again.get(cid).documents == ["updated"]
    again.close()


def test_queued_records_that_set_nothing_are_passed_over(tmp_path):
    # White-box: what concurrent writers' checks read from the queue, record kind by kind.
    db = Database.open(str(tmp_path / "db"), DatabaseOptions(background_compaction=False))
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    cs = db.collections[cid]
    update = WriteBatch(WriteOp.UPDATE, cid, ["x"], _vecs(1, dim=7), None, None, None)
    no_vectors = WriteBatch(WriteOp.UPSERT, cid, ["y"], None, ["doc"], None, None)
    delete = DeleteRecords(cid, ["z"])
    add = WriteBatch(WriteOp.ADD, cid, ["x", "z"], _vecs(2, dim=4), None, None, None)
    db._unapplied[:] = [(100, update), (101, no_vectors), (102, delete)]
    assert db._dimension(cs) is None  # an update of nothing and a delete set no dimension
    assert db._exists(cs, ["x", "y", "z"]) == {"x": False, "y": False, "z": False}
    db._unapplied.append((103, add))
    assert db._dimension(cs) == 4
    assert db._exists(cs, ["x", "y", "z"]) == {"x": True, "y": False, "z": True}
    db._unapplied.append((104, DeleteRecords(cid, ["x"])))
    assert db._exists(cs, ["x", "z"]) == {"x": False, "z": True}
    db._unapplied.clear()
    db.close()
