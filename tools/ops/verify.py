"""``sediment verify``: check every byte and every invariant of a data directory, changing nothing.

Checks, in order: every manifest (checksums, identity); every file of every segment the newest
manifest uses (size and crc32c against the manifest, envelope checksums, identity) and every
delete marker; every log file (header, identity, continuity between files, both checksums of
every frame, LSN sequence, payload decoding), continuing past damage so that every damaged
region is named; that the log still holds every record a reopen must replay; segment rows
against the log records that wrote them, where the log still covers them; and that the engine
opens the directory read-only and its id directory is consistent. Those are corruption checks
(errors). Apart from them it measures index quality: how many live rows of each graph-indexed
segment a search for their own vector finds. HNSW is approximate, so misses are a warning with
the recall figures, never an error.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import crc32c
import numpy as np

from sedimentdb.engine.collection import strip_none
from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, read_manifest
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.segments import Segment, SegmentDescriptor, read_delete_marker
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.segments.framing import Identity, decode_file
from sedimentdb.engine.segments.recall import FIRST_EF, measure_recall
from sedimentdb.engine.storage_errors import CorruptionError, StorageError
from sedimentdb.engine.wal import SEAL_FILE, LogRecord, check_log, list_log_files
from sedimentdb.engine.wal.records import WriteBatch, WriteOp
from sedimentdb.engine.wal.seal import (
    Seal,
    ends_early,
    missing_log,
    read_seal,
    same_database,
)
from sedimentdb.tools.ops.common import Progress, check_data_dir, no_progress, open_read_only


@dataclass
class Problem:
    """One thing wrong: where (file, byte offset, LSN) and what."""

    severity: str  # "error" or "warning"
    area: str  # log | manifest | segment | marker | content | index | open
    message: str
    file: str | None = None
    offset: int | None = None
    lsn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)

    def text(self, base: str = "") -> str:
        """One line: severity, area, place, message."""
        where = []
        if self.file:
            where.append(os.path.relpath(self.file, base) if base else self.file)
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.lsn is not None:
            where.append(f"LSN {self.lsn}")
        place = f" [{', '.join(where)}]" if where else ""
        return f"{self.severity.upper():<7} {self.area:<8}{place} {self.message}"


@dataclass
class VerifyReport:
    """What ``verify`` checked and found."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    index_quality: list[dict[str, Any]] = field(default_factory=list)  # per graph segment, see check_index

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def clean(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    def add(self, severity: str, area: str, message: str, file: str | None = None, offset: int | None = None,
            lsn: int | None = None) -> None:
        """Record a problem."""
        self.problems.append(Problem(severity, area, message, file, offset, lsn))

    def add_error(self, area: str, exc: StorageError) -> None:
        """Record an engine error as a problem, keeping its file, offset and LSN."""
        self.add("error", area, exc.message, exc.path, exc.offset, exc.lsn)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"path": self.path, "clean": self.clean, "errors": len(self.errors),
                "warnings": len(self.problems) - len(self.errors), "checked": dict(self.checked),
                "index_quality": self.index_quality,
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class _SegmentCheck:
    cid: str
    segment: Segment
    alive: np.ndarray


class Verifier:
    """One verification run over one data directory (see the module docstring)."""

    def __init__(self, path: str, progress: Progress = no_progress, index: bool = True,
                 content: bool = True) -> None:
        self.path = check_data_dir(path)
        self.fs = OsFileSystem()
        self.progress = progress
        self.do_index = index
        self.do_content = content
        self.report = VerifyReport(self.path)
        self.manifest: Manifest | None = None
        self.manifests: list[Manifest] = []
        self.segments: list[_SegmentCheck] = []
        self.log_first: int | None = None
        self.log_last = 0
        self.seal: Seal | None = None

    def run(self) -> VerifyReport:
        """Run every check; return the report."""
        self.check_manifests()
        self.check_segments()
        self.check_seal()
        needed = self._content_needs() if self.do_content else {}
        self.check_log(needed)
        self.check_coverage()
        if self.do_index:
            self.check_index()
        if self.report.clean:
            self.check_open()
        return self.report

    # ---- manifests --------------------------------------------------------------------------

    def check_manifests(self) -> None:
        found = list_manifests(self.fs, self.path)
        for gen, mpath in found:
            self.report.checked["manifests"] += 1
            try:
                self.manifests.append(read_manifest(self.fs, mpath))
            except CorruptionError as exc:
                self.report.add_error("manifest", exc)
                continue
            except StorageError as exc:
                self.report.add_error("manifest", exc)
                continue
            del gen
        if self.manifests:
            self.manifest = self.manifests[-1]
            uuids = {m.db_uuid.replace("-", "").lower() for m in self.manifests}  # as the log reader compares
            if len(uuids) > 1:
                self.report.add("error", "manifest", f"manifests name different databases: {sorted(uuids)}")
        for name in self.fs.listdir(self.path):
            if name.startswith("MANIFEST-") and name.endswith(".tmp"):
                self.report.add("warning", "manifest", "leftover of an interrupted manifest install "
                                "(removed at the next writable open)", os.path.join(self.path, name))

    # ---- segments and markers ---------------------------------------------------------------

    def check_segments(self) -> None:
        segdir = os.path.join(self.path, "segments")
        referenced: set[str] = set()
        for m in self.manifests:
            referenced |= m.files()
        newest = self.manifest
        entries = []
        if newest is not None:
            for cid, entry in newest.collections.items():
                for seg in entry["segments"]:
                    entries.append((cid, seg))
        total = len(entries)
        for i, (cid, seg) in enumerate(entries):
            self.progress("checking segments", i, total)
            self._check_segment(cid, seg, segdir)
        self.progress("checking segments", total, total)
        for sub in ("segments", "markers"):
            for name in self.fs.listdir(os.path.join(self.path, sub)):
                if f"{sub}/{name}" not in referenced:
                    self.report.add("warning", "segment" if sub == "segments" else "marker",
                                    "not referenced by any manifest (removed at the next writable open)",
                                    os.path.join(self.path, sub, name))

    def _check_segment(self, cid: str, entry: dict[str, Any], segdir: str) -> None:
        try:
            desc = SegmentDescriptor.from_dict(entry["descriptor"])
        except (KeyError, TypeError, ValueError) as exc:
            self.report.add("error", "manifest", f"segment descriptor does not parse: {exc}",
                            self.manifest_path())
            return
        self.report.checked["segments"] += 1
        ok = check_segment_files(self.path, desc, self.report)
        seg = None
        if ok:
            try:
                seg = Segment.open(self.fs, segdir, desc, verify=False)
            except StorageError as exc:
                self.report.add_error("segment", exc)
        alive = np.ones(desc.count, dtype=bool)
        marker = entry.get("marker")
        if marker:
            self.report.checked["markers"] += 1
            mpath = os.path.join(self.path, "markers", marker["file"])
            try:
                alive = ~read_delete_marker(self.fs, mpath, marker, desc.count)
            except StorageError as exc:
                self.report.add_error("marker", exc)
        if seg is not None:
            self.segments.append(_SegmentCheck(cid, seg, alive))

    def manifest_path(self) -> str | None:
        """Path of the newest valid manifest."""
        if self.manifest is None:
            return None
        return os.path.join(self.path, f"MANIFEST-{self.manifest.generation:020d}")

    # ---- the seal and the log -----------------------------------------------------------------

    def check_seal(self) -> None:
        """Read the seal (engine/wal/seal.py): what the last writer knew durable, outside the log."""
        spath = os.path.join(self.path, SEAL_FILE)
        try:
            self.seal = read_seal(self.fs, spath)
        except StorageError as exc:
            self.report.add_error("seal", exc)
            return
        if self.seal is None:
            return
        self.report.checked["seal"] += 1
        if self.manifest is not None and not same_database(self.seal, self.manifest.db_uuid):
            self.report.add("error", "seal", f"the seal names database {self.seal.db_uuid}, the manifest "
                            f"{self.manifest.db_uuid}", spath, 16)

    def _check_seal_end(self, paths: list[str]) -> None:
        if self.seal is None:
            return
        if not paths:
            if self.seal.lsn > 0:
                self.report.add_error("log", missing_log(self.seal, os.path.join(self.path, "wal")))
            return
        problem = ends_early(self.seal, paths[-1], self.fs.size(paths[-1]), self.log_last)
        if problem is not None:
            self.report.add_error("log", problem)


    def _content_needs(self) -> dict[int, list[tuple[_SegmentCheck, int]]]:
        """LSN -> segment rows whose stored version is that LSN."""
        needs: dict[int, list[tuple[_SegmentCheck, int]]] = defaultdict(list)
        for sc in self.segments:
            for row, v in enumerate(sc.segment.versions.tolist()):
                needs[int(v)].append((sc, row))
        return needs

    def check_log(self, needed: dict[int, list[tuple[_SegmentCheck, int]]]) -> None:
        """The engine's check of the log (engine/wal/check.py), plus segment rows against its records."""
        def rows(rec: LogRecord, decoded: Any) -> None:
            found = needed.pop(rec.lsn, None)
            if found:
                self._check_rows(decoded, rec.lsn, found, rec.path, rec.offset)

        for key in ("log_files", "log_records"):  # reported before the rows compared with the log
            self.report.checked[key] += 0
        db_uuid = self.manifest.db_uuid if self.manifest else self.seal.db_uuid if self.seal else ""
        waldir = os.path.join(self.path, "wal")
        found = check_log(self.fs, waldir, db_uuid, rows, lambda done, total: self.progress("checking log", done, total),
                          seal=self.seal)
        self.report.checked["log_files"] += found.files
        self.report.checked["log_records"] += found.records
        for p in found.problems:
            self.report.add(p.severity, "log", p.message, p.file, p.offset, p.lsn)
        self.log_first, self.log_last = found.first_lsn, found.last_lsn
        self._check_seal_end(list_log_files(self.fs, waldir))

    def _check_rows(self, rec: Any, lsn: int, rows: list[tuple[_SegmentCheck, int]], path: str,
                    offset: int) -> None:
        for sc, row in rows:
            self.report.checked["rows_against_log"] += 1
            seg = sc.segment
            sid = seg.descriptor.segment_id
            rid = seg.ids[row]
            where = os.path.join(seg.path, SF.FILE_ROWS)
            if not isinstance(rec, WriteBatch) or rec.collection_id != sc.cid:
                self.report.add("error", "content", f"segment {sid} row {row} (id {rid!r}) says LSN {lsn} wrote it, "
                                "but that log record is not a write to this collection", where, None, lsn)
                continue
            try:
                i = rec.ids.index(rid)
            except ValueError:
                self.report.add("error", "content", f"segment {sid} row {row}: id {rid!r} is not in the log "
                                f"record at LSN {lsn}", where, None, lsn)
                continue
            if rec.embeddings is not None and rec.embeddings[i].tobytes() != seg.vectors[row].tobytes():
                self.report.add("error", "content", f"segment {sid} row {row} (id {rid!r}): vector differs from "
                                "the log", os.path.join(seg.path, SF.FILE_VECTORS), None, lsn)
            if rec.op == WriteOp.ADD:
                doc = rec.documents[i] if rec.documents is not None else None
                meta = strip_none(rec.metadatas[i]) if rec.metadatas is not None else None
                uri = rec.uris[i] if rec.uris is not None else None
                for what, want, got, fname in (("document", doc, seg.document(row), SF.FILE_DOCUMENTS),
                                               ("metadata", meta, seg.metadata(row), SF.FILE_METADATA),
                                               ("uri", uri, seg.uri(row), SF.FILE_URIS)):
                    if want != got and not _both_nan(want, got):
                        self.report.add("error", "content", f"segment {sid} row {row} (id {rid!r}): {what} differs "
                                        "from the log", os.path.join(seg.path, fname), None, lsn)

    def check_coverage(self) -> None:
        m = self.manifest
        if m is None:
            if self.log_first not in (None, 1):
                self.report.add("error", "log", f"no manifest, and the log starts at LSN {self.log_first}: "
                                f"records 1..{self.log_first - 1} are missing", os.path.join(self.path, "wal"))
            return
        need = m.replay_from()
        first = self.log_first if self.log_first is not None else self.log_last + 1
        if first > need and self.log_last >= need:
            self.report.add("error", "log", f"a reopen replays from LSN {need} but the log starts at LSN {first}",
                            os.path.join(self.path, "wal"), None, need)
        if self.log_last < m.catalog_lsn:
            self.report.add("error", "log", f"the log ends at LSN {self.log_last} but manifest generation "
                            f"{m.generation} covers LSN {m.catalog_lsn}", os.path.join(self.path, "wal"),
                            None, self.log_last + 1)

    # ---- index sanity -----------------------------------------------------------------------

    def check_index(self) -> None:
        """Index quality, not damage: how many live rows a search for their own vector finds.

        HNSW is approximate, so an intact graph misses a few rows; damage to the graph file is
        caught by its checksums (check_segments). The figures go to the report's
        ``index_quality``; unreachable rows are a warning, never an error.
        """
        total = sum(int(np.count_nonzero(sc.alive)) for sc in self.segments if sc.segment.graph is not None)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            self.report.checked["index_searches"] += n
            self.progress("checking index", done[0], total)

        for sc in self.segments:
            seg = sc.segment
            if seg.graph is None:
                continue
            q = measure_recall(seg, np.flatnonzero(sc.alive), tick)
            self.report.index_quality.append(q.to_dict())
            if q.unreachable:
                shown = ", ".join(repr(seg.ids[r]) for r in q.unreachable[:5]) + (
                    " …" if len(q.unreachable) > 5 else "")
                self.report.add("warning", "index", f"index quality of segment {q.segment_id}: a search for each "
                                f"live row's own vector finds {q.found_first} of {q.rows} "
                                f"({100 * q.recall_first:.2f}%) at ef={FIRST_EF}; {len(q.unreachable)} stay "
                                f"unreachable at ef={q.widest_ef} ({shown}). Not damage (the graph's checksums "
                                "hold): approximate queries may miss these rows, get() and exact searches do not",
                                os.path.join(seg.path, SF.FILE_GRAPH))

    def check_open(self) -> None:
        try:
            db = open_read_only(self.path)
        except StorageError as exc:
            self.report.add_error("open", exc)
            return
        try:
            for cid, cs in db.collections.items():
                for id_, (part, row) in cs.loc.items():
                    if part.id_at(row) != id_:
                        self.report.add("error", "index", f"collection {cid}: id {id_!r} points at a row holding "
                                        f"{part.id_at(row)!r}")
                self.report.checked["live_ids"] += len(cs.loc)
        finally:
            db.close()




def _both_nan(a: Any, b: Any) -> bool:
    return a != a and b != b  # noqa: PLR0124 - NaN metadata values compare unequal to themselves


def check_segment_files(base: str, desc: SegmentDescriptor, report: VerifyReport,
                        severity: str = "error") -> bool:
    """Check every file of one segment against its descriptor; True if all are sound."""
    segpath = os.path.join(base, "segments", desc.segment_id)
    ident = Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)
    ok = True
    for name in SF.REQUIRED_FILES:
        if name not in desc.files:
            report.add(severity, "segment", f"descriptor lists no {name}", os.path.join(segpath, name))
            ok = False
    for name, expected in sorted(desc.files.items()):
        fpath = os.path.join(segpath, name)
        report.checked["segment_files"] += 1
        kind = SF.KIND_OF_FILE.get(name)
        if kind is None:
            report.add(severity, "segment", f"descriptor lists an unknown file {name!r}", fpath)
            ok = False
            continue
        try:
            with open(fpath, "rb") as f:
                data = f.read()
        except OSError as exc:
            report.add(severity, "segment", f"file cannot be read: {exc.strerror}", fpath)
            ok = False
            continue
        if len(data) != expected["size"]:
            report.add(severity, "segment", f"file is {len(data)} bytes, the manifest says {expected['size']}",
                       fpath, min(len(data), expected["size"]))
            ok = False
            continue
        if crc32c.crc32c(data) != expected["crc32c"]:
            report.add(severity, "segment", "file checksum does not match the manifest", fpath, 0)
            ok = False
        try:
            decode_file(fpath, data, kind, ident)
        except StorageError as exc:
            report.add(severity, "segment", exc.message, fpath, exc.offset)
            ok = False
    return ok


def verify(path: str, *, progress: Progress = no_progress, index: bool = True,
           content: bool = True) -> VerifyReport:
    """Verify the data directory at ``path`` without modifying anything (see the module docstring)."""
    return Verifier(path, progress, index, content).run()
