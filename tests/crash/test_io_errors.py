"""I/O-error loops (SQLite's style): fail the k-th write, fdatasync, directory fsync or rename.

For every canonical workload, every kind and every k up to the number of such operations
the workload performs, in three flavours (once, persistent, ENOSPC — the last one writes
half the bytes before failing), the workload runs with the fault injected and must:

* surface a clear engine error (``StorageIOError`` or ``WriterFailedError``), never another
  exception;
* refuse every later write with ``WriterFailedError`` once the log has failed (fail-stop);
* never call fdatasync again on a file whose fdatasync failed (fsyncgate);
* never acknowledge a write that is not durable: with the fault removed, both the state
  the process left and a power-loss image of it reopen to the model of the acknowledged
  ops (each failed op may or may not have landed, all-or-nothing), with no orphan files.

``SEDIMENT_IOERR_STRIDE`` (default 1) tests every stride-th k (the soak uses 1 with a larger
``SEDIMENT_CRASH_SCALE``).
"""

from __future__ import annotations

import copy
import itertools

import pytest

from sedimentdb.engine.storage_errors import (
    NotFoundError,
    StorageError,
    StorageIOError,
    WriterFailedError,
)

from .conftest import env_int
from .simfs import Fault, SimFileSystem, crash_image
from .workload import DbModel, Workload, canonical_workloads, cid_of, observe, open_db, orphans

SCALE = env_int("SEDIMENT_CRASH_SCALE", 1)
STRIDE = env_int("SEDIMENT_IOERR_STRIDE", 1)
WORKLOADS = {w.name: w for w in canonical_workloads(SCALE)}
KINDS = ("write", "sync", "fsync_dir", "rename")
FLAVOURS = ("once", "persistent", "enospc")


def _baseline_counts(w: Workload) -> dict[str, int]:
    fs = SimFileSystem()
    db = open_db(fs, w.options)
    for op in w.ops:
        db = op.run(db, fs) or db
    db.close()
    return dict(fs.counts)


def _allowed_states(w: Workload, outcome: list[str]) -> list[dict]:
    """Model states for: ok ops applied, 'maybe' ops applied or not, 'no' ops not applied."""
    maybe = [i for i, o in enumerate(outcome) if o == "maybe"]
    states = []
    for bits in itertools.product((False, True), repeat=min(len(maybe), 8)):
        chosen = {i for i, b in zip(maybe, bits, strict=False) if b}
        model = DbModel()
        for i, op in enumerate(w.ops[: len(outcome)]):
            if outcome[i] == "ok" or i in chosen:
                op.apply(model)
        states.append(copy.deepcopy(model.canon()))
    return states


def run_with_fault(w: Workload, kind: str, k: int, flavour: str) -> dict:
    """Run ``w`` with the fault; check the rules; return what happened (for the figures)."""
    fs = SimFileSystem()
    fs.inject(kind, k, persistent=flavour == "persistent", enospc=flavour == "enospc")
    outcome: list[str] = []
    errors: list[StorageError] = []
    db = None
    try:
        db = open_db(fs, w.options)
    except StorageError as exc:
        errors.append(exc)
    if db is not None:
        for op in w.ops:
            failed_before = db.wal._failed is not None
            lsn_before = db.wal.last_lsn
            try:
                new = op.run(db, fs)
            except StorageError as exc:
                errors.append(exc)
                # an op that depends on an earlier failed one (add to a collection whose create
                # failed) may legitimately find its collection missing
                dependent = (NotFoundError,) if any(o != "ok" for o in outcome) else ()
                assert isinstance(exc, (StorageIOError, WriterFailedError, *dependent)), f"unclear error {exc!r}"
                assert exc.path or isinstance(exc, NotFoundError), f"error names no file: {exc}"
                if failed_before and op.name != "reopen":
                    assert isinstance(exc, (WriterFailedError, *dependent)), \
                        f"after a log failure {op.name} raised {exc!r}"
                # submitted to the log (LSN assigned) -> may or may not be durable
                outcome.append("maybe" if (db.closed or db.wal.last_lsn != lsn_before) else "no")
                if op.name == "reopen":
                    db = None
                    break
                continue
            if failed_before and op.name != "reopen" and db.wal.last_lsn != lsn_before:
                raise AssertionError(f"{op.name} logged and acknowledged after the log failed")
            db = new or db
            outcome.append("ok")
        if db is not None:
            db.close()
    assert not fs.violations, fs.violations
    # F-8 (fixed): a reopen must never fdatasync, through a new handle, a file whose sync failed
    assert not fs.resynced_after_failure, f"{w.name}: {flavour} {kind} fault #{k}: {fs.resynced_after_failure}"
    fs.clear_faults()
    allowed = _allowed_states(w, outcome)
    for mode in ("process", "synced"):
        cfs, _ = crash_image(fs.snapshot(), mode)
        rdb = open_db(cfs, w.options)
        try:
            got = observe(rdb)
            assert got in allowed, (f"{w.name}: {flavour} {kind} fault #{k}: reopen ({mode}) lost an "
                                    f"acknowledged op or half-applied one (outcome {outcome})")
            bad = orphans(cfs, rdb)
            assert not bad, f"{w.name}: {flavour} {kind} fault #{k}: orphan files {bad}"
        finally:
            rdb.close()
    return {"errors": len(errors), "resynced": len(fs.resynced_after_failure)}


@pytest.mark.parametrize("name", list(WORKLOADS))
@pytest.mark.parametrize("kind", KINDS)
def test_fail_every_kth_operation(name, kind, figures):
    w = WORKLOADS[name]
    n = _baseline_counts(w).get(kind, 0)
    assert n > 0
    cases = 0
    for flavour in FLAVOURS:
        if flavour == "enospc" and kind not in ("write", "sync"):
            continue
        for k in range(1, n + 1, STRIDE):
            got = run_with_fault(w, kind, k, flavour)
            cases += 1
            key = "io-error: log file re-synced by a reopen after its fdatasync failed (F-8)"
            figures[key] = figures.get(key, 0) + got.get("resynced", 0)
    figures["io-error cases total"] = figures.get("io-error cases total", 0) + cases
    figures[f"io-error cases/{kind}"] = figures.get(f"io-error cases/{kind}", 0) + cases


def test_failed_log_sync_refuses_later_writes_and_is_not_retried():
    """The named fsyncgate case: the first fdatasync of an add fails."""
    w = WORKLOADS["records"]
    fs = SimFileSystem()
    db = open_db(fs, w.options)
    w.ops[0].run(db, fs)  # create collection
    fs.inject("sync", 1)
    with pytest.raises(WriterFailedError, match="fdatasync failed"):
        w.ops[1].run(db, fs)
    with pytest.raises(WriterFailedError):
        w.ops[2].run(db, fs)
    with pytest.raises(WriterFailedError):
        db.compact()
    db.close()
    assert not fs.violations
    # log header, two catalog records at open, the seal written at open, the collection, the failed
    # add, the seal written at close (a failed log leaves its synced LSN true: it may still be sealed)
    assert fs.counts["sync"] == 7


def test_enospc_on_log_write_is_reported_as_disk_full():
    fs = SimFileSystem()
    db = open_db(fs, WORKLOADS["records"].options)
    fs.inject("write", 1, enospc=True)
    with pytest.raises((StorageIOError, WriterFailedError), match="No space left"):
        WORKLOADS["records"].ops[0].run(db, fs)
    db.close()
    rdb = open_db(crash_image(fs.snapshot(), "process")[0], WORKLOADS["records"].options)
    assert observe(rdb) == {}  # the half-written record is a torn tail, cut off
    rdb.close()


def test_compaction_after_a_failed_manifest_directory_fsync_installs_a_new_generation():
    """Regression: the renamed-but-not-fsynced MANIFEST-1 blocked every later install ("refusing
    to overwrite an existing manifest") until the database was reopened."""
    w = WORKLOADS["compaction"]
    fs = SimFileSystem()
    db = open_db(fs, w.options)
    w.ops[0].run(db, fs)
    w.ops[1].run(db, fs)
    manifest_fsyncs = []
    fs.on_persist = lambda kind, path: manifest_fsyncs.append(path) if kind == "fsync_dir" else None
    fs.faults.append(Fault("fsync_dir", fs.counts.get("fsync_dir", 0) + 3))  # segment tmp dir, segments, db
    with pytest.raises(StorageIOError):
        db.compact()
    assert manifest_fsyncs[-1] == "/db"
    fs.clear_faults()
    db.compact()
    assert db.manifests[-1].generation == 2
    db.close()


def test_a_write_whose_sync_failed_is_not_visible_to_readers():
    w = WORKLOADS["records"]
    fs = SimFileSystem()
    db = open_db(fs, w.options)
    w.ops[0].run(db, fs)  # create collection
    fs.inject("sync", 1)
    with pytest.raises(WriterFailedError):
        w.ops[1].run(db, fs)  # add 12 records; the log's fdatasync fails
    try:
        assert db.count(cid_of("a")) == 0
    finally:
        db.close()
