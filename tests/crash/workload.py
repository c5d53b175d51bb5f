"""Canonical workloads, a model of the whole database, and the crash-state oracle.

A *workload* is a list of :class:`Op` s; each op runs against a ``Database`` and applies
the same change to a :class:`DbModel`. :func:`record` runs a workload on a
:class:`~tests.crash.simfs.SimFileSystem`, snapshotting the file system at every
persistence point together with how many ops had been acknowledged and whether one was
in flight. :func:`check_point` opens a crash image of a snapshot and checks the oracle:
the state equals the model after a prefix of the ops that contains every acknowledged one,
queries agree with brute force, and the open left no orphan files.
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.distance import pair_distances
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.options import DatabaseOptions

from .simfs import CrashInfo, SimFileSystem, Snapshot, crash_image

T, D = DEFAULT_TENANT, DEFAULT_DATABASE
ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True)
DB_PATH = "/db"


class NullLogger:
    """A structlog-compatible logger that drops everything (keeps test output and time small)."""

    def _drop(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = error = exception = critical = _drop

    def bind(self, **kwargs: Any) -> NullLogger:
        """Binding returns the same silent logger."""
        return self


NULL = NullLogger()


def open_db(fs: SimFileSystem, options: DatabaseOptions) -> Database:
    """Open the database of a simulated file system, silently."""
    return Database.open(DB_PATH, options, fs=fs, logger=NULL)


def cid_of(name: str) -> str:
    """A stable collection id for a collection name (so crash images and model agree)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sediment-crash/" + name))


# ---- the model --------------------------------------------------------------------------------

def _strip_none(meta: dict | None) -> dict | None:
    if not meta:
        return None
    kept = {k: v for k, v in meta.items() if v is not None}
    return kept or None


def _merge(old: dict | None, new: dict | None) -> dict | None:
    if new is None:
        return old
    merged = dict(old or {})
    for k, v in new.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged or None


@dataclass
class CollModel:
    """One collection: name, metadata, space and its records in insertion order."""

    name: str
    metadata: dict | None
    space: str = "l2"
    rows: dict[str, tuple[bytes, Any, Any]] = field(default_factory=dict)


class DbModel:
    """What the default database must contain, written independently of the engine."""

    def __init__(self) -> None:
        self.colls: dict[str, CollModel] = {}

    def create(self, name: str, metadata: dict | None = None) -> None:
        """Create collection ``name``."""
        space = (metadata or {}).get("hnsw:space", "l2")
        self.colls[cid_of(name)] = CollModel(name, metadata or None, space)

    def write(self, op: str, cid: str, ids: list[str], vecs: np.ndarray | None, docs: list | None,
              metas: list | None) -> None:
        """Chroma's add (existing ids ignored), update (missing ignored, metadata merges), upsert."""
        if cid not in self.colls:  # its creation failed (fault-injection runs)
            return
        rows = self.colls[cid].rows
        for i, id_ in enumerate(ids):
            doc = docs[i] if docs is not None else None
            meta = metas[i] if metas is not None else None
            if id_ not in rows:
                if op != "update":
                    assert vecs is not None
                    rows[id_] = (vecs[i].astype(np.float32).tobytes(), doc, _strip_none(meta))
                continue
            if op == "add":
                continue
            v, d, m = rows[id_]
            if vecs is not None:
                v = vecs[i].astype(np.float32).tobytes()
            if doc is not None:
                d = doc
            if metas is not None:
                m = _merge(m, meta)
            rows[id_] = (v, d, m)

    def fork(self, source: str, name: str) -> None:
        """Fork ``source`` into ``name``: a copy of its metadata and records, in their order."""
        src = self.colls[source]
        self.colls[cid_of(name)] = CollModel(name, src.metadata, src.space, dict(src.rows))

    def delete(self, cid: str, ids: list[str]) -> None:
        """Delete ``ids`` (missing ignored)."""
        if cid not in self.colls:
            return
        for id_ in ids:
            self.colls[cid].rows.pop(id_, None)

    def canon(self) -> dict:
        """The comparable form: cid -> (name, metadata, [(id, vector bytes, doc, meta)...])."""
        return {cid: (c.name, c.metadata, [(i, *r) for i, r in c.rows.items()])
                for cid, c in sorted(self.colls.items())}


def observe(db: Database) -> dict:
    """The same comparable form, read from a database."""
    out = {}
    for info in db.list_collections(T, D):
        r = db.get(info.id, include=ALL)
        recs = [(i, r.embeddings[k].astype(np.float32).tobytes(), r.documents[k], r.metadatas[k])
                for k, i in enumerate(r.ids)] if r.ids else []
        out[info.id] = (info.name, info.metadata, recs)
    return dict(sorted(out.items()))


def check_queries(db: Database, canon: dict, probes: int = 3) -> None:
    """Exact nearest neighbours of a few stored vectors agree with brute force."""
    for cid, (_name, meta, recs) in canon.items():
        if not recs:
            continue
        space = (meta or {}).get("hnsw:space", "l2")
        ids = [r[0] for r in recs]
        mat = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in recs])
        k = min(5, len(recs))
        for j in range(0, len(recs), max(1, len(recs) // probes))[:probes]:
            q = mat[j] + np.float32(0.01)
            got = db.query(cid, q.reshape(1, -1), k)[0]
            want = np.sort(pair_distances(space, q, mat))[:k]
            assert np.allclose(got.distances, want, rtol=1e-4, atol=1e-4), (cid, got.distances, want)
            true = pair_distances(space, q, mat[[ids.index(i) for i in got.ids]])
            assert np.allclose(got.distances, true, rtol=1e-4, atol=1e-4), "a result's distance is wrong"


ALLOWED = [re.compile(p) for p in (
    r"^LOCK$", r"^SEAL$", r"^wal/\d{20}\.log$", r"^wal/\d{20}\.log\.broken-\d+$", r"^MANIFEST-\d{20}$",
)]


def orphans(fs: SimFileSystem, db: Database) -> list[str]:
    """Files that no retained manifest references (segments, markers) and any temp file."""
    keep: set[str] = set()
    for m in db.manifests:
        keep |= m.files()
    bad = []
    for path in fs.walk(DB_PATH):
        rel = os.path.relpath(path, DB_PATH)
        if ".tmp" in rel:
            bad.append(rel)
        elif rel.startswith("segments/"):
            if "/".join(rel.split("/")[:2]) not in keep:
                bad.append(rel)
        elif rel.startswith("markers/"):
            if rel not in keep:
                bad.append(rel)
        elif not any(p.match(rel) for p in ALLOWED):
            bad.append(rel)
    return bad


# ---- workloads ----------------------------------------------------------------------------------

@dataclass
class Op:
    """One step: ``run(db, fs)`` performs it (returns a new db on reopen), ``apply(model)`` models it."""

    name: str
    run: Callable[[Database, SimFileSystem], Database | None]
    apply: Callable[[DbModel], None] = lambda m: None


@dataclass
class Workload:
    """A named list of ops and the options it runs with."""

    name: str
    options: DatabaseOptions
    ops: list[Op]


class Builder:
    """Builds a workload's ops with deterministic data."""

    def __init__(self, name: str, options: DatabaseOptions, dim: int = 4, seed: int = 0) -> None:
        self.w = Workload(name, options, [])
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        self.n = 0

    def vecs(self, n: int) -> np.ndarray:
        """``n`` fresh random vectors."""
        return self.rng.normal(size=(n, self.dim)).astype(np.float32)

    def create(self, name: str, metadata: dict | None = None) -> Builder:
        """Create a collection."""
        cid = cid_of(name)
        self.w.ops.append(Op(f"create {name}", lambda db, fs: db.create_collection(
            T, D, name, id=cid, metadata=metadata) and None, lambda m: m.create(name, metadata)))
        return self

    def write(self, op: str, name: str, ids: list[str], with_vecs: bool = True, docs: bool = True,
              metas: list | None = None) -> Builder:
        """An add/update/upsert batch."""
        cid = cid_of(name)
        vecs = self.vecs(len(ids)) if with_vecs else None
        dl = [f"doc {op} {i}" for i in ids] if docs else None
        ml = metas if metas is not None else [{"g": int(self.rng.integers(0, 4)), "op": op} for _ in ids]

        def run(db: Database, fs: SimFileSystem) -> None:
            getattr(db, op)(cid, ids, vecs, documents=dl, metadatas=ml)

        self.w.ops.append(Op(f"{op} {name} x{len(ids)}", run, lambda m: m.write(op, cid, ids, vecs, dl, ml)))
        return self

    def add(self, name: str, n: int) -> Builder:
        """Add ``n`` new records."""
        ids = [f"r{self.n + i}" for i in range(n)]
        self.n += n
        return self.write("add", name, ids)

    def delete_ids(self, name: str, ids: list[str]) -> Builder:
        """Delete by ids."""
        cid = cid_of(name)
        self.w.ops.append(Op(f"delete {name} ids", lambda db, fs: db.delete(cid, ids=ids) and None,
                             lambda m: m.delete(cid, ids)))
        return self

    def delete_where(self, name: str, g: int) -> Builder:
        """Delete by ``where={"g": g}``."""
        cid = cid_of(name)

        def apply(m: DbModel) -> None:
            if cid not in m.colls:
                return
            rows = m.colls[cid].rows
            m.delete(cid, [i for i, (_, _, meta) in rows.items() if meta and meta.get("g") == g])

        self.w.ops.append(Op(f"delete {name} where g={g}",
                             lambda db, fs: db.delete(cid, where={"g": g}) and None, apply))
        return self

    def modify(self, name: str, new_name: str, metadata: dict) -> Builder:
        """Rename a collection and replace its metadata (the model keys stay by id)."""
        cid = cid_of(name)

        def apply(m: DbModel) -> None:
            if cid not in m.colls:
                return
            m.colls[cid].name = new_name
            m.colls[cid].metadata = metadata

        self.w.ops.append(Op(f"modify {name}", lambda db, fs: db.modify_collection(
            cid, name=new_name, metadata=metadata) and None, apply))
        return self

    def delete_collection(self, name: str) -> Builder:
        """Delete a collection."""
        cid = cid_of(name)
        self.w.ops.append(Op(f"delete collection {name}", lambda db, fs: db.delete_collection(cid),
                             lambda m: m.colls.pop(cid, None)))
        return self

    def compact(self) -> Builder:
        """``db.compact()``: no logical change."""
        self.w.ops.append(Op("compact", lambda db, fs: db.compact()))
        return self

    def reopen(self) -> Builder:
        """Close and reopen the database on the same file system."""
        opts = self.w.options

        def run(db: Database, fs: SimFileSystem) -> Database:
            db.close()
            return open_db(fs, opts)

        self.w.ops.append(Op("reopen", run))
        return self


def _opts(**kw: Any) -> DatabaseOptions:
    return DatabaseOptions(**{"background_compaction": False, **kw})


def canonical_workloads(scale: int = 1) -> list[Workload]:
    """The canonical workloads of issue 5 (``scale`` multiplies batch sizes)."""
    s = scale
    out = []

    b = Builder("records", _opts(), seed=1)
    b.create("a").add("a", 12 * s).add("a", 12 * s)
    b.write("update", "a", ["r1", "r5", "nope"], metas=[{"g": None, "u": 1}, {"x": "y"}, {"g": 9}])
    b.write("upsert", "a", ["r2", f"new{s}"])
    b.delete_ids("a", ["r3", "r4", "missing"]).delete_where("a", 1)
    b.modify("a", "a2", {"hnsw:space": "l2", "v": 2})
    b.create("b", {"hnsw:space": "cosine"}).add("b", 8 * s).delete_collection("b")
    out.append(b.w)

    b = Builder("compaction", _opts(), seed=2)
    b.create("c").add("c", 20 * s).compact()
    b.delete_ids("c", ["r0", "r1", "r2"]).write("update", "c", ["r5", "r6"]).compact()
    b.add("c", 10 * s).delete_where("c", 2).compact().delete_collection("c")
    out.append(b.w)

    b = Builder("merge", _opts(max_segments_per_collection=2), seed=3)
    b.create("m")
    for _ in range(4):
        b.add("m", 6 * s).compact()
    b.delete_ids("m", [f"r{i}" for i in range(0, 24 * s, 2)]).compact()
    out.append(b.w)

    # Jobs split their output and rewrite at most a cap of rows: several outputs per flush,
    # vacuums one segment at a time.
    b = Builder("split", _opts(max_segment_records=8), seed=6)
    b.create("s").add("s", 20 * s).compact()
    b.delete_ids("s", [f"r{i}" for i in range(0, 20 * s, 3)]).write("update", "s", ["r1", "r4"]).compact()
    b.add("s", 6 * s).compact()
    out.append(b.w)

    b = Builder("roll", _opts(wal_roll_bytes=1024), seed=4)
    b.create("r")
    for _ in range(5):
        b.add("r", 4 * s)
    b.compact().add("r", 4 * s).write("upsert", "r", ["r0", "r1"]).compact()
    out.append(b.w)

    b = Builder("reopen", _opts(), seed=5)
    b.create("o").add("o", 10 * s).reopen().add("o", 5 * s).compact().reopen()
    b.delete_ids("o", ["r0"]).reopen()
    out.append(b.w)
    return out


# ---- recording and checking -----------------------------------------------------------------------

@dataclass
class Point:
    """A persistence point: the file system just before the operation, and the ack state."""

    snap: Snapshot
    acked: int
    inflight: bool
    kind: str
    path: str


@dataclass
class Recording:
    """A workload run: its persistence points and the model state after each prefix of ops."""

    workload: Workload
    points: list[Point]
    states: list[dict]
    fs: SimFileSystem


def record(w: Workload, after_each_op: bool = False) -> Recording:
    """Run ``w`` on a fresh simulated file system, snapshotting at every persistence point.

    With ``after_each_op`` a snapshot is also taken right after each acknowledgement (useful
    when durability is not ``full`` and few persistence points exist).
    """
    fs = SimFileSystem()
    points: list[Point] = []
    ack = {"n": 0, "inflight": False}
    fs.on_persist = lambda kind, path: points.append(
        Point(fs.snapshot(), ack["n"], ack["inflight"], kind, path))
    model = DbModel()
    states = [model.canon()]
    db = open_db(fs, w.options)
    for op in w.ops:
        ack["inflight"] = True
        db = op.run(db, fs) or db
        op.apply(model)
        states.append(copy.deepcopy(model.canon()))
        ack["n"] += 1
        ack["inflight"] = False
        if after_each_op:
            points.append(Point(fs.snapshot(), ack["n"], False, "after-op", op.name))
    assert observe(db) == states[-1], f"workload {w.name}: live state differs from the model"
    db.close()
    fs.on_persist = None
    points.append(Point(fs.snapshot("end"), ack["n"], False, "end", ""))
    return Recording(w, points, states, fs)


@dataclass
class Outcome:
    """What opening one crash image gave."""

    ok: bool
    refused: bool = False
    info: CrashInfo | None = None
    detail: str = ""


def check_point(rec: Recording, point: Point, mode: str, seed: int, reopen_twice: bool = False) -> Outcome:
    """Open a crash image of ``point`` and check the oracle; raise AssertionError on a violation.

    A CorruptionError is returned as ``refused`` (the caller decides whether that crash image
    made it legitimate) instead of raised.
    """
    from sedimentdb.engine.storage_errors import CorruptionError

    cfs, info = crash_image(point.snap, mode, seed)
    opts = rec.workload.options
    try:
        db = open_db(cfs, opts)
    except CorruptionError as exc:
        return Outcome(False, True, info, str(exc))
    where = f"{rec.workload.name}: crash before {point.kind} {point.path} (acked {point.acked}, mode {mode})"
    try:
        got = observe(db)
        allowed = [rec.states[point.acked]]
        if point.inflight:
            allowed.append(rec.states[point.acked + 1])
        assert got in allowed, f"{where}: recovered state is not an allowed prefix"
        check_queries(db, got)
        bad = orphans(cfs, db)
        assert not bad, f"{where}: orphan files after open: {bad}"
        if reopen_twice:
            db.close()
            db = open_db(cfs, opts)
            assert observe(db) == got, f"{where}: a second open changed the state"
    finally:
        db.close()
    return Outcome(True, False, info)
