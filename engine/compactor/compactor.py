"""The compactor: turns log tails into segments, merges and vacuums them, installs manifests.

A job has three steps. *Plan* (under the database lock): freeze the active tail, pick the
segments to merge, remember which rows are alive at checkpoint LSN C. *Build* (no lock):
write the output segment (fsync, rename, fsync dir) — the slow part, off the write path.
*Install* (under the lock): swap the inputs for the output, carrying over deletes that
arrived meanwhile. A manifest then records the new state (write temp, fsync, rename, fsync
dir) and only after that are files no retained manifest needs removed, and log files below
every retained checkpoint released.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.background import BackgroundLoop
from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, write_manifest
from sedimentdb.engine.compactor.policy import (
    SegmentStats,
    pick_growth,
    pick_inputs,
    segment_cap,
    should_flush,
)
from sedimentdb.engine.hnsw_config import index_settings
from sedimentdb.engine.memory import trim_heap
from sedimentdb.engine.parts import Part, SegmentPart, TailPart
from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, write_delete_marker
from sedimentdb.engine.segments.writer import FLAT_BELOW, write_segment_keeping_graph
from sedimentdb.engine.tailgraph import STEP

POLL_SECONDS = 1.0
# While a job runs, the tail indexer's thread pauses and the job does up to this many of its
# steps between two of its own (each of its steps is ADD_CHUNK rows): background work is
# one thread at a time, so a 2-core machine always keeps a core for the application, and
# fresh rows still reach a graph while a long merge runs.
TAIL_STEPS_PER_CHECK = 8


class JobInterrupted(Exception):
    """The database is closing: the job in flight stops at its next step. Nothing is lost:
    its inputs stay installed and the log holds every record, so the job is simply redone."""
# compact_now stops after this many passes even if the policy still finds work (it cannot
# loop forever on a policy bug; the background thread carries on).
MAX_PASSES_NOW = 64
# A fully checkpointed active log file at least this big is sealed so the next GC frees it.
ROLL_COVERED_BYTES = 1 << 20


@dataclass
class Plan:
    """One compaction job, decided under the lock."""

    cs: Any
    inputs: list[Part]
    rows: list[np.ndarray]
    checkpoint: int
    flush: bool
    params: HnswParams
    build_threads: int
    cap: int
    grow: bool = False  # merge into the largest input: one output, seeded with its graph
    outputs: list[Segment] = field(default_factory=list)
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class Compactor(BackgroundLoop):
    """Runs compaction jobs for one database, in a background thread and on demand.

    ``stop()`` returns once the current job has stopped at its next step (the job is redone
    after the next open); ``notify()`` says a write happened, so a threshold may be crossed.
    """

    thread_name = "sedimentdb-compactor"

    def __init__(self, db: Any, logger: Any) -> None:
        super().__init__()
        self.db = db
        self.log = logger
        self._job = threading.Lock()  # one job (and one manifest install) at a time
        self._tail_seen: dict[int, float] = {}
        self._manifest_wanted = 0
        self.error: BaseException | None = None
        self.interrupted = 0  # jobs stopped by close() (tests read it)
        self.busy = threading.Event()  # a job is being built (the tail indexer pauses)

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def job_lock(self) -> threading.Lock:
        """Held while a job runs or a manifest is installed; taken before the database lock."""
        return self._job

    def install_manifest_locked(self) -> None:
        """Install a manifest of the current state now (bulk ingest); the caller holds :attr:`job_lock`."""
        self._install_manifest()

    def request_manifest(self) -> None:
        """Catalog changed in a way that frees files: install two manifests soon.

        Two, so the previous retained manifest no longer references the freed files.
        """
        self._manifest_wanted = 2
        if self._thread is not None:
            self._wake.set()
        else:
            self._write_pending_manifests()

    def _write_pending_manifests(self) -> None:
        if self.db.options.read_only or self.db.closed:
            return
        with self._job:
            while self._manifest_wanted > 0:
                self._manifest_wanted -= 1
                self._install_manifest()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_pass(force=False)
            except Exception as exc:  # logged and retried on the next pass; writes go on
                # Not only StorageError: anything else ending the thread would silently stop
                # every later compaction and log release.
                self.error = exc
                self.log.error("compaction failed", **{K.ERROR: f"{type(exc).__name__}: {exc}",
                                                       K.PATH: self.db.path})
                self._stop.wait(5 * POLL_SECONDS)

    # ---- passes -----------------------------------------------------------------------------------

    def compact_now(self, collection_id: str | None = None) -> None:
        """Flush every tail (or one collection's), merge and vacuum until the policy is
        satisfied (a job rewrites at most a cap of rows, see ``segment_cap``), install a manifest."""
        force = True
        for _ in range(MAX_PASSES_NOW):
            if not self.run_pass(force=force, only=collection_id, foreground=True):
                return
            force = False

    def run_pass(self, force: bool, only: str | None = None, foreground: bool = False) -> bool:
        """One pass over the collections; returns whether anything changed."""
        with self._job:
            did = False
            ids = [only] if only is not None else list(self.db.collections)
            for cid in ids:
                if self._stop.is_set():
                    return did  # closing: the log holds everything; the next open carries on
                did |= self._run_job(cid, force, foreground)
            if self._stop.is_set():
                return did
            if did or force or self._manifest_wanted:
                self._manifest_wanted = max(self._manifest_wanted, 1)
                while self._manifest_wanted > 0:
                    self._manifest_wanted -= 1
                    self._install_manifest()
            return did

    def _run_job(self, cid: str, force: bool, foreground: bool = False) -> bool:
        plan = self._plan(cid, force, foreground)
        if plan is None:
            return False
        self.busy.set()
        try:
            self._build(plan)
            self._install(plan)
        except JobInterrupted:
            # Its temporary directory is removed by the next open (remove_orphans).
            self.interrupted += 1
            self.log.info("compaction interrupted", **{K.COLLECTION: cid, K.PATH: self.db.path})
            return False
        finally:
            self.busy.clear()
            del plan  # the inputs' scratch (gathered rows, serialised graph) is garbage now
            trim_heap()
        return True

    # ---- plan / build / install ------------------------------------------------------------------

    def _plan(self, cid: str, force: bool, foreground: bool = False) -> Plan | None:
        db = self.db
        with db.lock:
            cs = db.collections.get(cid)
            if cs is None or db.closed:
                return None
            tail: TailPart = cs.active
            flush = self._want_flush(tail, force)
            segs = cs.segments()
            stats = [SegmentStats(p.count, int(np.count_nonzero(p.alive())), _needs_graph(p)) for p in segs]
            # A flush is a job of its own: merges and vacuums wait for the next one, so no job
            # holds a big tail and a cap of rewritten rows at once.
            cap = segment_cap(cs.count(), db.options)
            growth = [] if flush else pick_growth(stats, 0, db.options, everything=foreground)
            if growth:
                picked = [segs[i] for i in growth]
            else:
                picked = [] if flush else [segs[i] for i in _within_cap(pick_inputs(stats, 0, db.options, cap),
                                                                        stats, cap)]
            frozen = [p for p in cs.parts if isinstance(p, TailPart) and p.frozen]
            if (picked or frozen) and not flush and tail.count:
                # A rewrite drops rows deleted after the checkpoint; replay from that checkpoint
                # would then find no old version for an update logged since (its new version is
                # in the tail), losing the record. Flushing moves the checkpoint past them.
                flush = True
            if not flush and not picked and not frozen:
                return None
            inputs: list[Part] = picked + frozen
            if flush:
                tail.frozen = True
                cs.active = cs.new_tail()
                cs.parts.append(cs.active)
                inputs.append(tail)
                self._tail_seen.pop(id(tail), None)
            rows = [np.flatnonzero(p.alive()) for p in inputs]
            s = index_settings(db.catalog.collections[cid])
            params = HnswParams(space=s.space, M=s.max_neighbors, construction_ef=s.ef_construction,
                                search_ef=s.ef_search, num_threads=s.num_threads)
            threads = s.num_threads if foreground else background_threads(s.num_threads)
            return Plan(cs, inputs, rows, db.last_lsn, flush, params, threads, cap, grow=bool(growth))

    def _want_flush(self, tail: TailPart, force: bool) -> bool:
        if tail.count == 0:
            return False
        if force:
            return True
        now = self.db.clock()
        first = self._tail_seen.setdefault(id(tail), now)
        return should_flush(tail.live_count(), tail.count, tail.nbytes, now - first, self.db.options)

    def _build(self, plan: Plan) -> None:
        total = sum(len(r) for r in plan.rows)
        if total == 0:
            return
        plan.order = output_order(plan.inputs, plan.rows)
        segdir = os.path.join(self.db.path, "segments")
        self.db.fs.makedirs(segdir)
        # One output when growing the largest segment, and when a tail's graph holds the rows
        # already (a flush adopts it: rows go into a graph once). Otherwise more than a cap of
        # rows become several outputs, each a bounded slice of the rows in insertion order,
        # written and opened one after the other, so a job's scratch is bounded by the cap.
        cap = total if plan.grow or _tail_graph_input(plan.inputs) else plan.cap
        for start in range(0, total, cap):
            plan.outputs.append(self._build_one(plan, start, min(total, start + cap), single=total <= cap))

    def check(self) -> None:
        """Between two steps of a job: raise JobInterrupted once the database is closing;
        otherwise take a few of the tail indexer's steps (it pauses while a job runs)."""
        if self._stop.is_set():
            raise JobInterrupted()
        indexer = getattr(self.db, "indexer", None)
        if indexer is not None:
            for _ in range(TAIL_STEPS_PER_CHECK):
                if self._stop.is_set():  # close() waits for this thread: at most one step more
                    raise JobInterrupted()
                if not indexer.step():
                    break

    def _build_one(self, plan: Plan, start: int, end: int, single: bool) -> Segment:
        # A seed graph is reused only when one output takes every input row: the biggest
        # input segment's (a growth job), or a flushed tail's when that is bigger. The tail's
        # graph is completed only when it is the one used.
        seed = max((p for p in plan.inputs if isinstance(p, SegmentPart)),
                   key=lambda p: p.count, default=None) if single else None
        seeded: Any = seed.segment if seed else None
        tails = [p.count for p in plan.inputs if isinstance(p, TailPart) and p.graph is not None]
        if single and tails and (seeded is None or max(tails) > seeded.count):
            seeded = self._tail_seed(plan)  # a flush: the tail's graph becomes the segment's
        data = gather(plan.inputs, plan.rows, plan.order[start:end])
        for part in plan.inputs:
            if isinstance(part, SegmentPart):
                part.segment.release_pages()  # gather read rows of the mapped inputs
        seg_id = uuid.uuid4().hex
        segdir = os.path.join(self.db.path, "segments")
        desc, graph = write_segment_keeping_graph(
            self.db.fs, segdir, seg_id, plan.cs.id, data, space=plan.params.space, hnsw=plan.params,
            min_lsn=int(data.versions.min()), max_lsn=plan.checkpoint, seed=seeded,
            build_threads=plan.build_threads, check=self.check)
        del data  # the output reads its vectors from the file it was written to
        self.log.info("segment written", **{K.COLLECTION: plan.cs.id, K.SEGMENT: seg_id, K.RECORDS: end - start})
        # Read back and checked like any segment; the graph just built is adopted, not loaded again.
        return Segment.open(self.db.fs, segdir, desc, graph=graph)

    def _tail_seed(self, plan: Plan) -> Any:
        """The biggest frozen input tail's graph, completed, as a seed for the output's graph
        (None when no input tail has one). The tail indexer has usually done most of it; the
        rest is added here in steps (the tail is frozen, so no row arrives meanwhile)."""
        tails = [p for p in plan.inputs if isinstance(p, TailPart) and p.graph is not None and p.count]
        if not tails:
            return None
        tail = max(tails, key=lambda p: p.count)
        assert tail.graph is not None
        while tail.unindexed():
            self.check()
            # The indexer's step size: queries of the frozen tail wait for one step at most.
            start, vectors = tail.next_rows(STEP)
            tail.graph.add(vectors, start)
        return tail.graph.as_seed(tail.ids, tail.versions_at(np.arange(tail.count)), tail.vectors())

    def _install(self, plan: Plan) -> None:
        db = self.db
        with db.lock:
            cs = plan.cs
            if db.collections.get(cs.id) is not cs:
                return  # deleted meanwhile; GC removes the orphan output
            keep = [p for p in cs.parts if not any(p is q for q in plan.inputs)]
            nseg = sum(1 for p in keep if isinstance(p, SegmentPart))
            keep[nseg:nseg] = self._adopt(plan)
            cs.parts = keep
            if plan.flush:
                cs.checkpoint_lsn = plan.checkpoint

    def _adopt(self, plan: Plan) -> list[SegmentPart]:
        """The outputs as parts, with the rows deleted while the job ran marked dead; live
        ids now point at them."""
        if not plan.outputs:
            return []
        dead_all = np.concatenate([_deleted(p)[r] for p, r in zip(plan.inputs, plan.rows, strict=True)])
        dead_all = dead_all[plan.order].astype(np.uint64)
        loc = self.db.collections[plan.cs.id].loc
        parts, start = [], 0
        for output in plan.outputs:
            dead = dead_all[start:start + output.count]
            start += output.count
            out = SegmentPart(output, dead, None)
            ids = output.ids
            # Under the database lock, so queries and writes wait for it: one C-level
            # update, not a Python loop (a growth job rewrites every row of the collection).
            live = np.flatnonzero(dead == 0)
            if len(live) == len(ids):
                loc.update(zip(ids, zip(repeat(out), range(len(ids))), strict=True))
            else:
                rows = live.tolist()
                loc.update(zip(map(ids.__getitem__, rows), zip(repeat(out), rows), strict=True))
            parts.append(out)
        return parts

    # ---- manifests and garbage ---------------------------------------------------------------------

    def _install_manifest(self) -> None:
        db = self.db
        with db.lock:
            if db.closed:
                return
            # Past every manifest file too: an install whose rename landed but whose directory
            # fsync failed left its file behind, and manifests are write-once. Past every
            # marker's generation as well: a failed install can leave markers named after it.
            gen = max([m.generation for m in db.manifests]
                      + [g for g, _ in list_manifests(db.fs, db.path)]
                      + _marker_generations(db.fs, os.path.join(db.path, "markers")), default=0) + 1
            markers: list[tuple[SegmentPart, dict[str, Any], np.ndarray]] = []
            entries = {cid: self._entry(cs, gen, markers) for cid, cs in db.collections.items()}
            manifest = Manifest(gen, db.uuid, db.epoch, db.last_lsn, db.catalog.to_dict(), entries,
                                db.clock())
        db.wal.sync_through(manifest.catalog_lsn)
        mdir = os.path.join(db.path, "markers")
        if markers:
            db.fs.makedirs(mdir)
        for _part, marker, mask in markers:
            marker.update(write_delete_marker(db.fs, os.path.join(mdir, marker["file"]), mask))
        write_manifest(db.fs, db.path, manifest)
        with db.lock:
            for part, marker, _ in markers:
                part.marker = marker
            db.manifests = (db.manifests + [manifest])[-db.options.keep_manifests:]
        self.log.info("manifest installed", **{K.GENERATION: gen, K.LSN: manifest.catalog_lsn})
        self.collect_garbage()

    def _entry(self, cs: Any, gen: int, markers: list) -> dict[str, Any]:
        segs = []
        for part in cs.segments():
            mask = (part.deleted_at != 0) & (part.deleted_at <= cs.checkpoint_lsn)
            n = int(np.count_nonzero(mask))
            marker = None
            if n and part.marker and part.marker["deleted"] == n:
                marker = part.marker
            elif n:
                marker = {"file": marker_file(part.segment.descriptor, cs.id, gen), "lsn": cs.checkpoint_lsn,
                          "deleted": n}
                markers.append((part, marker, mask.copy()))
            segs.append({"descriptor": part.segment.descriptor.to_dict(), "marker": marker})
        return {"checkpoint_lsn": cs.checkpoint_lsn, "segments": segs}

    def collect_garbage(self) -> None:
        """Remove files no retained manifest references; release log files below every checkpoint."""
        db = self.db
        # Temp files too: this runs under the job lock, so no build is in flight and a temp
        # directory is a failed job's leftover; kept until reopen, a background loop retrying
        # a persistent failure (ENOSPC) would pile them up.
        self.remove_orphans()
        for gen, path in list_manifests(db.fs, db.path):
            if gen < db.manifests[0].generation:
                db.fs.unlink(path)
        if not db.options.retain_wal:
            covered = min(m.replay_from() for m in db.manifests) - 1
            hold = db.log_release_limit()
            if hold is not None:  # replication is on: keep what it has not shipped yet
                covered = min(covered, hold)
            active = db.wal.files()[-1]
            if active.last_lsn <= covered and active.size >= ROLL_COVERED_BYTES:
                db.wal.roll()  # everything in it is checkpointed: seal it so it can go
            released = db.wal.release_through(covered)
            if released:
                self.log.info("log files released", **{K.COUNT: len(released)})

    def remove_orphans(self) -> None:
        """Drop leftovers of interrupted or failed jobs: temp files, files no manifest references.

        Only where no job can be running: at open, and under the job lock.
        """
        keep: set[str] = set()
        for m in self.db.manifests:
            keep |= m.files()
        fs = self.db.fs
        for sub, remove in (("segments", fs.rmtree), ("markers", fs.unlink)):
            base = os.path.join(self.db.path, sub)
            for name in fs.listdir(base):
                if f"{sub}/{name}" not in keep:
                    remove(os.path.join(base, name))
        for name in fs.listdir(self.db.path):
            if name.startswith("MANIFEST-") and name.endswith(".tmp"):
                fs.unlink(os.path.join(self.db.path, name))


def background_threads(configured: int) -> int:
    """Graph-building threads for a background job: one core fewer than the machine has (at
    least one), so writers are never starved by compaction — what RocksDB's
    max_background_jobs is for. compact() on demand uses all the collection allows."""
    return max(1, min(configured, (os.cpu_count() or 2) - 1))


def marker_file(descriptor: Any, collection_id: str, gen: int) -> str:
    """Name of the delete marker of one collection's deletes in a segment, new in manifest ``gen``.

    A segment shared by forks (engine/fork.py) has different deletes in each collection, and
    two may need a new marker in the same generation: a collection other than the segment's
    writer puts its id in the name (``<segment>-<collection>.<gen>.del``)."""
    sid = descriptor.segment_id
    if descriptor.collection_id == collection_id:
        return f"{sid}.{gen}.del"
    return f"{sid}-{collection_id}.{gen}.del"


def _needs_graph(part: SegmentPart) -> bool:
    """A segment big enough for a graph but written without one (bulk ingest): the
    background pass builds its graph by rewriting it; queries search it exactly meanwhile."""
    return not part.segment.descriptor.has_graph and part.count >= FLAT_BELOW


def _marker_generations(fs: Any, directory: str) -> list[int]:
    """The generations named by delete-marker files (``<segment>.<generation>.del``)."""
    out = []
    for name in fs.listdir(directory):
        parts = name.split(".")
        if len(parts) == 3 and parts[2] == "del" and parts[1].isdigit():
            out.append(int(parts[1]))
    return out


def _tail_graph_input(inputs: list[Part]) -> bool:
    """Whether an input tail has a graph its flush output will adopt."""
    return any(isinstance(p, TailPart) and p.graph is not None and p.count for p in inputs)


def _deleted(part: Part) -> np.ndarray:
    dead = part.deleted_at
    return dead.view() if isinstance(part, TailPart) else dead


def output_order(inputs: list[Part], rows: list[np.ndarray]) -> np.ndarray:
    """The permutation that sorts the inputs' concatenated chosen rows by insertion order."""
    ordinals = np.concatenate([p.ordinals_at(r) for p, r in zip(inputs, rows, strict=True)])
    return np.argsort(ordinals, kind="stable")


def gather(inputs: list[Part], rows: list[np.ndarray], picks: np.ndarray | None = None) -> SegmentData:
    """Columns of some of the chosen rows of every input: ``picks`` are positions in the
    inputs' concatenated chosen rows (default: all of them, in insertion order)."""
    if picks is None:
        picks = output_order(inputs, rows)
    owner = np.repeat(np.arange(len(inputs)), [len(r) for r in rows])[picks]
    local = np.concatenate(rows)[picks] if rows else np.zeros(0, dtype=np.int64)
    ids: list[str] = []
    docs: list[Any] = []
    metas: list[Any] = []
    uris: list[Any] = []
    for i, row in zip(owner.tolist(), local.tolist(), strict=True):
        p = inputs[i]
        ids.append(p.id_at(row))
        d, m, u = p.stored_record_at(row)
        docs.append(d)
        metas.append(m)
        uris.append(u)
    ordinals = np.empty(len(picks), dtype=np.uint64)
    versions = np.empty(len(picks), dtype=np.uint64)
    for i, p in enumerate(inputs):
        mine = owner == i
        ordinals[mine] = p.ordinals_at(local[mine])
        versions[mine] = p.versions_at(local[mine])  # type: ignore[attr-defined]
    return SegmentData(ids=ids, ordinals=ordinals, versions=versions, vectors=_gather_vectors(inputs, owner, local),
                       documents=docs, metadatas=metas, uris=uris)


# Rows copied per step when gathering vectors: bounds the scratch memory next to the output.
GATHER_CHUNK = 16384


def _gather_vectors(inputs: list[Part], owner: np.ndarray, local: np.ndarray) -> np.ndarray:
    """The vectors of (input ``owner[j]``, row ``local[j]``) for every j, copied once, straight
    into the output array, a bounded number of rows at a time."""
    dim = next((p.vectors_at(np.zeros(0, dtype=np.int64)).shape[1] for p in inputs), 0)
    out = np.empty((len(owner), dim), dtype=np.float32)
    for i, p in enumerate(inputs):
        where = np.flatnonzero(owner == i)
        for start in range(0, len(where), GATHER_CHUNK):
            at = where[start:start + GATHER_CHUNK]
            out[at] = p.vectors_at(local[at])
    return out


def _within_cap(picked: list[int], stats: list[SegmentStats], cap: int) -> list[int]:
    """The first of ``picked`` whose live rows together stay within ``cap`` (at least one):
    the rest wait for the next job, so a job never holds more than about a cap of rows."""
    out: list[int] = []
    total = 0
    for i in picked:
        if out and total + stats[i].live > cap:
            break
        out.append(i)
        total += stats[i].live
    return out
