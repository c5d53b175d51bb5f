"""Reopen (issue 20): the batched replay gives the state the live writes gave, the log is read
once at open, a closing database stops a job between indexer steps, and tails are sized once."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sedimentdb.engine.compactor.compactor import Compactor, JobInterrupted
from sedimentdb.engine.database import DEFAULT_DATABASE as D
from sedimentdb.engine.database import DEFAULT_TENANT as T
from sedimentdb.engine.database import Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.growable import GrowableArray
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.parts import TailPart

ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True)
DIM = 8


def opts(**kw) -> DatabaseOptions:
    return DatabaseOptions(**{"background_compaction": False, "durability": "off", **kw})


def state(db: Database, cid: str) -> tuple:
    """Everything a reader sees: records in insertion order and a query's answer."""
    r = db.get(cid, include=ALL)
    rows = [(i, r.embeddings[k].tobytes(), r.documents[k], r.metadatas[k], r.uris[k]) for k, i in enumerate(r.ids)]
    q = db.query(cid, np.ones((1, DIM), dtype=np.float32), 10)[0]
    return rows, q.ids, db.count(cid)


def loaded(path: str, rows: int, seed: int, **kw) -> tuple[str, tuple]:
    """A database at ``path`` holding ``rows`` records added 100 at a time, closed: (collection
    id, its state before closing)."""
    rng = np.random.default_rng(seed)
    with Database.open(path, opts(**kw)) as db:
        cid = db.create_collection(T, D, "c").id
        for s in range(0, rows, 100):
            db.add(cid, [f"r{i}" for i in range(s, s + 100)], rng.normal(size=(100, DIM)).astype(np.float32))
        return cid, state(db, cid)


def mutate(db: Database, cid: str, rng: np.random.Generator) -> None:
    """Updates and upserts of segment rows and of tail rows, metadata merges that delete keys,
    metadata-only updates, an id twice in one record, and deletes."""
    vec = lambda n: rng.normal(size=(n, DIM)).astype(np.float32)  # noqa: E731
    ids = [f"r{i}" for i in range(300)]
    db.update(cid, ids[:100], vec(100), metadatas=[{"k": None, "u": i} for i in range(100)])
    db.upsert(cid, ids[50:150] + [f"n{i}" for i in range(50)], vec(150),
              documents=[f"up {i}" for i in range(150)], metadatas=[{"v": i, "w": None} for i in range(150)])
    db.update(cid, ids[:30], None, metadatas=[{"only": True}] * 30)  # no vectors: carried over
    db.update(cid, ids[200:230], None, documents=[f"doc {i}" for i in range(30)], uris=[f"u{i}" for i in range(30)])
    db.update(cid, ["r5", "r6", "r5"], vec(3), metadatas=[{"t": 1}, {"t": 2}, {"t": 3}])
    db.upsert(cid, ["n1", "n1", "fresh"], vec(3), metadatas=[{"x": 1}, {"x": 2}, None])
    db.delete(cid, ids[250:270])


@pytest.mark.parametrize("compact_first", [False, True])
def test_replay_gives_the_state_the_live_writes_gave(tmp_path, compact_first):
    rng = np.random.default_rng(3)
    path = str(tmp_path / "db")
    with Database.open(path, opts()) as db:
        cid = db.create_collection(T, D, "c").id
        db.add(cid, [f"r{i}" for i in range(300)], rng.normal(size=(300, DIM)).astype(np.float32),
               documents=[f"d{i}" for i in range(300)],
               metadatas=[{"k": i, "c": f"c{i % 3}"} if i % 7 else None for i in range(300)])
        if compact_first:
            db.compact()
        mutate(db, cid, rng)
        live = state(db, cid)
    with Database.open(path, opts()) as again:
        assert state(again, cid) == live


def test_replayed_metadata_is_not_shared_with_the_caller(tmp_path):
    with Database.open(str(tmp_path / "db"), opts()) as db:
        cid = db.create_collection(T, D, "c").id
        meta = {"a": 1}
        db.add(cid, ["x"], np.ones((1, DIM), dtype=np.float32), metadatas=[meta])
        meta["a"] = 2
        assert db.get(cid, ids=["x"], include=ALL).metadatas == [{"a": 1}]


class CountingFs(OsFileSystem):
    """Counts whole-file reads of log files."""

    def __init__(self) -> None:
        super().__init__()
        self.log_reads: dict[str, int] = {}

    def read_bytes(self, path: str) -> bytes:
        if os.path.basename(os.path.dirname(path)) == "wal" and path.endswith(".log"):
            self.log_reads[path] = self.log_reads.get(path, 0) + 1
        return super().read_bytes(path)


def test_open_reads_each_log_file_once(tmp_path):
    path = str(tmp_path / "db")
    cid, want = loaded(path, 2000, 0, wal_roll_bytes=16 * 1024)
    fs = CountingFs()
    with Database.open(path, opts(), fs=fs) as again:
        assert state(again, cid) == want
    assert len(fs.log_reads) >= 2, "the test needs several log files"
    assert set(fs.log_reads.values()) == {1}, fs.log_reads


def test_replay_sizes_the_tail_once(tmp_path):
    path = str(tmp_path / "db")
    cid, _ = loaded(path, 5000, 1)
    with Database.open(path, opts()) as again:
        tail = again.collections[cid].active
        assert isinstance(tail, TailPart) and tail.count == 5000
        capacity = len(tail.vectors().base if tail.vectors().base is not None else tail.vectors())
        assert capacity >= 5000
        assert all(cs.replay_bytes == 0 for cs in again.collections.values()), "the hint outlives the replay"
        # Writes after the replay still append where they should.
        again.add(cid, ["late"], np.ones((1, DIM), dtype=np.float32))
        assert again.get(cid, ids=["late"], include=ALL).embeddings[0].tolist() == [1.0] * DIM


def test_reserve_makes_room_without_moving_rows():
    g = GrowableArray(np.float32, 3, capacity=2)
    g.append(np.ones((2, 3), dtype=np.float32))
    g.reserve(1000)
    buffer = g.view().base
    for _ in range(10):
        g.append(np.full((99, 3), 2, dtype=np.float32))
    assert g.view().base is buffer, "appends within the reserved room copied the rows"
    assert len(g) == 992 and g.view()[:2].tolist() == [[1.0] * 3] * 2 and float(g.view()[-1, 0]) == 2.0
    g.reserve(10)  # smaller than what is held: nothing changes
    assert len(g) == 992 and g.view().base is buffer


class FakeIndexer:
    def __init__(self) -> None:
        self.steps = 0
        self.on_step = lambda: None

    def step(self) -> bool:
        self.steps += 1
        self.on_step()
        return True


class FakeDb:
    def __init__(self) -> None:
        self.indexer = FakeIndexer()


def test_a_closing_job_takes_no_more_indexer_steps():
    compactor = Compactor(FakeDb(), None)
    indexer = compactor.db.indexer
    compactor.check()
    assert indexer.steps > 1  # a running job takes the indexer's steps
    indexer.steps = 0
    indexer.on_step = compactor._stop.set  # close() is called during the first step
    with pytest.raises(JobInterrupted):
        compactor.check()
    assert indexer.steps == 1, "the job went on taking steps after close() asked it to stop"


def test_a_refused_reservation_falls_back_to_growing(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    cid, want = loaded(path, 1000, 2)

    def refuse(self, rows, dim):
        raise MemoryError("no address space")

    monkeypatch.setattr(TailPart, "reserve", refuse)
    with Database.open(path, opts()) as again:
        assert state(again, cid) == want
