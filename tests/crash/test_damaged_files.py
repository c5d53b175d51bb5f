"""The damaged-file suite: every file of a cleanly closed database, damaged every way, on two shapes.

Shapes: ``log-only`` (records only in the log, never compacted: the log and the seal are all
there is) and ``compacted`` (a graph segment, a flat segment, a delete marker, a manifest, and
a log tail after the checkpoint). One named test per failure mode runs every file of both
shapes through it; each trial opens a copy of the damaged directory and reads everything.

A trial passes when the open (or a read) raises a typed ``StorageError`` that names a file, or
when the database opens with exactly the state it had (all ids, vectors, documents, metadata)
and exact queries agree with brute force (damage that changes nothing, e.g. garbage after the
last synced record, which is a torn tail). Anything else — another exception, a different
state, a wrong answer, a hang (pytest-timeout) — is a finding. The trial counts per shape go
to the "sedimentdb crash/fault figures" section.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal import format as WF
from sedimentdb.engine.wal.frames import decode_file_header
from sedimentdb.engine.wal.reader import scan_frames

from .workload import ALL, D, T, check_queries, observe

OPTS = DatabaseOptions(background_compaction=False)
SHAPES = ("log-only", "compacted")
FLIP_POINTS = 16  # bit flips spread over each file (plus the first and last byte)


def _write(db: Database, seed: int, compact: bool) -> None:
    rng = np.random.default_rng(seed)
    c = db.create_collection(T, D, "docs", metadata={"hnsw:space": "l2"})
    small = db.create_collection(T, D, "small", metadata={"hnsw:space": "cosine"})
    n = 1100 if compact else 60  # a compacted graph segment needs FLAT_BELOW (1024) rows or more
    for start in range(0, n, 220 if compact else 12):
        m = min(220 if compact else 12, n - start)
        db.add(c.id, [f"d{i}" for i in range(start, start + m)], rng.standard_normal((m, 6)).astype(np.float32),
               [f"document {i}" for i in range(start, start + m)],
               [{"i": i, "even": i % 2 == 0} for i in range(start, start + m)])
    db.add(small.id, [f"s{i}" for i in range(5)], rng.standard_normal((5, 6)).astype(np.float32),
           uris=[f"file:///s{i}" for i in range(5)])
    if compact:
        db.compact()
    db.delete(c.id, ["d1", "d2"])
    db.update(c.id, ["d3"], documents=["updated"])
    db.upsert(c.id, ["d4", "new"], rng.standard_normal((2, 6)).astype(np.float32))
    db.delete(small.id, ["s0"])


def _build(path: str, shape: str, seed: int) -> None:
    db = Database.open(path, OPTS)
    try:
        _write(db, seed, compact=shape == "compacted")
    finally:
        db.close()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, tuple[str, str, dict]]:
    """shape -> (pristine directory, another database of the same shape, the pristine state)."""
    out = {}
    for shape in SHAPES:
        base = tmp_path_factory.mktemp(shape)
        pristine, other = str(base / "pristine"), str(base / "other")
        _build(pristine, shape, 1)
        _build(other, shape, 2)
        db = Database.open(pristine, OPTS)
        try:
            state = observe(db)
        finally:
            db.close()
        assert not shape == "log-only" or not os.path.exists(os.path.join(pristine, "segments")) or \
            not os.listdir(os.path.join(pristine, "segments"))
        out[shape] = (pristine, other, state)
    return out


def _files(root: str) -> list[str]:
    """Every file of a data directory but the lock, relative to it."""
    out = []
    for dirpath, _dirs, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names if n != "LOCK"]
    return sorted(out)


Damage = Callable[[str, str], None]  # (directory, relative file) -> damage it in place


def _flip_at(offset_of: Callable[[int], int]) -> Damage:
    def damage(root: str, rel: str) -> None:
        p = os.path.join(root, rel)
        data = bytearray(open(p, "rb").read())
        if data:
            data[offset_of(len(data)) % len(data)] ^= 0x10
            open(p, "wb").write(bytes(data))
    return damage


def _truncate_to(size_of: Callable[[int], int]) -> Damage:
    def damage(root: str, rel: str) -> None:
        p = os.path.join(root, rel)
        os.truncate(p, max(0, size_of(os.path.getsize(p))))
    return damage


def _zero(where: str) -> Damage:
    def damage(root: str, rel: str) -> None:
        p = os.path.join(root, rel)
        data = bytearray(open(p, "rb").read())
        n = min(512, len(data))
        start = {"start": 0, "middle": (len(data) - n) // 2, "end": len(data) - n}[where]
        data[start:start + n] = bytes(n)
        open(p, "wb").write(bytes(data))
    return damage


def _append_garbage(root: str, rel: str) -> None:
    with open(os.path.join(root, rel), "ab") as f:
        f.write(np.random.default_rng(7).bytes(100))


def _delete(root: str, rel: str) -> None:
    os.unlink(os.path.join(root, rel))


def _variants(mode: str) -> Iterator[tuple[str, Damage]]:
    if mode == "bit_flip":
        yield "first byte", _flip_at(lambda n: 0)
        yield "last byte", _flip_at(lambda n: n - 1)
        for k in range(1, FLIP_POINTS + 1):
            yield f"{k}/{FLIP_POINTS + 1}", _flip_at(lambda n, k=k: n * k // (FLIP_POINTS + 1))
    elif mode == "truncate":
        for name, f in (("empty", lambda n: 0), ("a third", lambda n: n // 3), ("half", lambda n: n // 2),
                        ("all but one byte", lambda n: n - 1), ("all but 64 bytes", lambda n: n - 64)):
            yield name, _truncate_to(f)
    elif mode == "zero_block":
        for where in ("start", "middle", "end"):
            yield where, _zero(where)
    elif mode == "append_garbage":
        yield "100 bytes", _append_garbage
    elif mode == "delete":
        yield "file", _delete


def _record_variants(root: str, rel: str) -> Iterator[tuple[str, Damage]]:
    """For a log file: a flip in every record's frame header and payload, a cut at every record's start."""
    data = open(os.path.join(root, rel), "rb").read()
    for r in scan_frames(data, decode_file_header(data)).records:
        yield f"LSN {r.lsn} frame header", _flip_at(lambda n, o=r.offset + 12: o)
        yield f"LSN {r.lsn} payload", _flip_at(lambda n, o=r.offset + WF.FRAME_HEADER_SIZE + 5: o)
        yield f"cut before LSN {r.lsn}", _truncate_to(lambda n, o=r.offset: o)


def _counterpart(other: str, rel: str) -> str | None:
    """The file of the other database that plays ``rel``'s part (segment ids differ: match by name)."""
    if os.path.exists(os.path.join(other, rel)):
        return os.path.join(other, rel)
    parts = rel.split(os.sep)
    if parts[0] in ("segments", "markers"):
        for cand in _files(other):
            if cand.split(os.sep)[0] == parts[0] and os.path.basename(cand) == parts[-1]:
                return os.path.join(other, cand)
    return None


def _trial(path: str, expected: dict) -> str:
    """Open and read a damaged copy: "refused" (typed error naming a file) or "intact"; else fail."""
    try:
        db = Database.open(path, OPTS)
    except StorageError as exc:
        assert exc.path, f"typed error without a file: {exc!r}"
        return "refused"
    try:
        try:
            got = observe(db)
            for info in db.list_collections(T, D):
                db.get(info.id, include=ALL, where={"i": {"$gte": 0}})
        except StorageError as exc:
            assert exc.path, f"typed error without a file: {exc!r}"
            return "refused"
        assert got == expected, "opened with a different state (silent loss or change)"
        check_queries(db, got)
        return "intact"
    finally:
        db.close()


def _run(mode: str, shapes: dict, tmp_path, figures: dict) -> None:
    failures = []
    for shape in SHAPES:
        pristine, other, expected = shapes[shape]
        trials = refused = 0
        for rel in _files(pristine):
            if mode == "log_records":
                damages = list(_record_variants(pristine, rel)) if rel.endswith(".log") else []
            elif mode == "swap_foreign":
                src = _counterpart(other, rel)
                damages = [] if src is None else [("from another database", lambda r, f, s=src: shutil.copyfile(
                    s, os.path.join(r, f)))]
            else:
                damages = list(_variants(mode))
            for name, damage in damages:
                work = str(tmp_path / f"t{trials}")
                shutil.copytree(pristine, work)
                damage(work, rel)
                trials += 1
                try:
                    refused += _trial(work, expected) == "refused"
                except Exception as exc:  # noqa: BLE001 - every escaping exception is a finding
                    failures.append(f"{shape} {rel} {mode} ({name}): {type(exc).__name__}: {exc}")
                shutil.rmtree(work, ignore_errors=True)
        figures[f"damaged-file trials/{shape}"] = figures.get(f"damaged-file trials/{shape}", 0) + trials
        figures[f"damaged-file refusals/{shape}"] = figures.get(f"damaged-file refusals/{shape}", 0) + refused
        assert trials > 0
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} findings)"


# One named case per failure mode (see _variants and _record_variants for what each does).
MODES = ["bit_flip", "log_records", "truncate", "zero_block", "append_garbage", "delete", "swap_foreign"]


@pytest.mark.parametrize("mode", MODES)
def test_damaged_file_is_refused_or_changes_nothing(mode, shapes, tmp_path, figures):
    _run(mode, shapes, tmp_path, figures)
