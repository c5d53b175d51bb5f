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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.compactor.check import (
    CheckedSegment,
    ManifestCheck,
    check_coverage,
    check_manifest_segments,
    check_manifests,
)
from sedimentdb.engine.content_check import check_rows, rows_by_version
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.problem import Problem
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.segments.recall import FIRST_EF, measure_recall
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal import SEAL_FILE, LogRecord, check_log, check_seal, check_seal_end
from sedimentdb.engine.wal.seal import Seal
from sedimentdb.tools.ops.common import Progress, check_data_dir, no_progress, open_read_only

__all__ = ["Problem", "VerifyReport", "Verifier", "verify"]


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

    def count(self, checked: dict[str, int]) -> None:
        """Add an engine check's counts (in the order it first counted them)."""
        for key, n in checked.items():
            self.checked[key] += n

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"path": self.path, "clean": self.clean, "errors": len(self.errors),
                "warnings": len(self.problems) - len(self.errors), "checked": dict(self.checked),
                "index_quality": self.index_quality,
                "problems": [p.to_dict() for p in self.problems]}


class Verifier:
    """One verification run over one data directory (see the module docstring): the engine's
    checks (engine/compactor/check.py, engine/segments/check.py, engine/wal/check.py,
    engine/content_check.py) in order, collected into one report."""

    def __init__(self, path: str, progress: Progress = no_progress, index: bool = True,
                 content: bool = True) -> None:
        self.path = check_data_dir(path)
        self.fs = OsFileSystem()
        self.progress = progress
        self.do_index = index
        self.do_content = content
        self.report = VerifyReport(self.path)
        self.manifests = ManifestCheck()
        self.segments: list[CheckedSegment] = []
        self.log_first: int | None = None
        self.log_last = 0
        self.seal: Seal | None = None

    def run(self) -> VerifyReport:
        """Run every check; return the report."""
        self.check_manifests()
        self.check_segments()
        self.check_seal()
        self.check_log(rows_by_version(self.segments) if self.do_content else {})
        self.report.problems += check_coverage(self.manifests.newest, self.log_first, self.log_last, self.waldir)
        if self.do_index:
            self.check_index()
        if self.report.clean:
            self.check_open()
        return self.report

    @property
    def waldir(self) -> str:
        """The log directory."""
        return os.path.join(self.path, "wal")

    def check_manifests(self) -> None:
        """Every manifest (engine/compactor/check.py)."""
        self.manifests = check_manifests(self.fs, self.path)
        if self.manifests.count:
            self.report.checked["manifests"] += self.manifests.count
        self.report.problems += self.manifests.problems

    def check_segments(self) -> None:
        """Every segment and marker of the newest manifest, and files no manifest references."""
        found = check_manifest_segments(self.fs, self.path, self.manifests,
                                        lambda done, total: self.progress("checking segments", done, total))
        self.report.count(found.checked)
        self.report.problems += found.problems
        self.segments = found.segments

    def check_seal(self) -> None:
        """The seal (engine/wal/seal.py): what the last writer knew durable, outside the log."""
        newest = self.manifests.newest
        found = check_seal(self.fs, os.path.join(self.path, SEAL_FILE), newest.db_uuid if newest else None)
        self.seal = found.seal
        if self.seal is not None:
            self.report.checked["seal"] += 1
        self.report.problems += found.problems

    def check_log(self, needed: dict[int, list[tuple[CheckedSegment, int]]]) -> None:
        """The engine's check of the log (engine/wal/check.py), plus segment rows against its records."""
        def rows(rec: LogRecord, decoded: Any) -> None:
            found = needed.pop(rec.lsn, None)
            if found:
                self.report.checked["rows_against_log"] += len(found)
                self.report.problems.extend(check_rows(decoded, rec.lsn, found))

        for key in ("log_files", "log_records"):  # reported before the rows compared with the log
            self.report.checked[key] += 0
        newest = self.manifests.newest
        db_uuid = newest.db_uuid if newest else self.seal.db_uuid if self.seal else ""
        found = check_log(self.fs, self.waldir, db_uuid, rows,
                          lambda done, total: self.progress("checking log", done, total), seal=self.seal)
        self.report.checked["log_files"] += found.files
        self.report.checked["log_records"] += found.records
        self.report.problems += found.problems
        self.log_first, self.log_last = found.first_lsn, found.last_lsn
        self.report.problems += check_seal_end(self.fs, self.seal, self.waldir, self.log_last)

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
        """The engine opens the directory read-only and every id points at a row holding it."""
        try:
            db = open_read_only(self.path)
        except StorageError as exc:
            self.report.problems.append(Problem.of_error("open", exc))
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


def verify(path: str, *, progress: Progress = no_progress, index: bool = True,
           content: bool = True) -> VerifyReport:
    """Verify the data directory at ``path`` without modifying anything (see the module docstring)."""
    return Verifier(path, progress, index, content).run()
