"""The manifests' part of ``sediment verify`` and ``sediment repair``, beside their format.

:func:`check_manifests` reads every manifest (checksums, identity, the database they name);
:func:`check_manifest_segments` checks every segment and delete marker the newest one uses and
names files no manifest references; :func:`check_coverage` says whether the log still holds
what a reopen under the newest manifest replays. Each returns typed problems; the tools
render them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, manifest_name, read_manifest
from sedimentdb.engine.fileio import FileSystem
from sedimentdb.engine.problem import ERROR, WARNING, Problem
from sedimentdb.engine.segments import Segment, SegmentDescriptor, read_delete_marker
from sedimentdb.engine.segments.check import check_segment_files
from sedimentdb.engine.storage_errors import StorageError


@dataclass
class ManifestCheck:
    """What :func:`check_manifests` found: every valid manifest (oldest first) and the problems."""

    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    count: int = 0  # manifest files looked at

    @property
    def newest(self) -> Manifest | None:
        """The newest valid manifest (what an open uses)."""
        return self.manifests[-1] if self.manifests else None


def check_manifests(fs: FileSystem, path: str) -> ManifestCheck:
    """Read every manifest of the data directory ``path``."""
    found = ManifestCheck()
    for _gen, mpath in list_manifests(fs, path):
        found.count += 1
        try:
            found.manifests.append(read_manifest(fs, mpath))
        except StorageError as exc:
            found.problems.append(Problem.of_error("manifest", exc))
    uuids = {m.db_uuid.replace("-", "").lower() for m in found.manifests}  # as the log reader compares
    if len(uuids) > 1:
        found.problems.append(Problem(ERROR, "manifest", f"manifests name different databases: {sorted(uuids)}"))
    for name in fs.listdir(path):
        if name.startswith("MANIFEST-") and name.endswith(".tmp"):
            found.problems.append(Problem(WARNING, "manifest", "leftover of an interrupted manifest install "
                                          "(removed at the next writable open)", os.path.join(path, name)))
    return found


def newest_manifest(fs: FileSystem, path: str) -> tuple[Manifest | None, list[str]]:
    """Newest valid manifest of ``path`` and the paths of the damaged ones newest first (what repair needs)."""
    damaged, newest = [], None
    for _gen, mpath in reversed(list_manifests(fs, path)):
        try:
            m = read_manifest(fs, mpath)
        except StorageError:
            damaged.append(mpath)
            continue
        if newest is None:
            newest = m
    return newest, damaged


@dataclass
class CheckedSegment:
    """A segment of the newest manifest that opened, with which of its rows are live."""

    cid: str
    segment: Segment
    alive: np.ndarray
    writers: frozenset[str] = frozenset()  # collections whose log records may have written its rows


@dataclass
class SegmentsCheck:
    """What :func:`check_manifest_segments` found."""

    segments: list[CheckedSegment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # segments, segment files, markers


def check_manifest_segments(fs: FileSystem, path: str, found: ManifestCheck,
                            progress: Callable[[int, int], None] = lambda _d, _t: None) -> SegmentsCheck:
    """Check every segment and marker the newest manifest uses; warn of files no manifest references."""
    out = SegmentsCheck()
    newest = found.newest
    entries = [(cid, seg) for cid, entry in newest.collections.items() for seg in entry["segments"]] if newest else []
    where = os.path.join(path, manifest_name(newest.generation)) if newest else path
    seen: set[Any] = set()
    for i, (cid, seg) in enumerate(entries):
        progress(i, len(entries))
        sid = seg["descriptor"].get("segment_id")
        if sid in seen:  # shared by forks: its files are checked once, each collection's marker apart
            out.checked["shared_segment_refs"] += 1
            _check_marker(fs, path, seg, int(seg["descriptor"].get("count", 0)), out)
            continue
        seen.add(sid)
        _check_segment(fs, path, cid, seg, where, out, newest)
    progress(len(entries), len(entries))
    referenced: set[str] = set().union(*(m.files() for m in found.manifests))
    for sub in ("segments", "markers"):
        for name in fs.listdir(os.path.join(path, sub)):
            if f"{sub}/{name}" not in referenced:
                out.problems.append(Problem(WARNING, "segment" if sub == "segments" else "marker",
                                            "not referenced by any manifest (removed at the next writable open)",
                                            os.path.join(path, sub, name)))
    return out


def _check_segment(fs: FileSystem, path: str, cid: str, entry: dict[str, Any], manifest_path: str,
                   out: SegmentsCheck, manifest: Manifest | None = None) -> None:
    try:
        desc = SegmentDescriptor.from_dict(entry["descriptor"])
    except (KeyError, TypeError, ValueError) as exc:
        out.problems.append(Problem(ERROR, "manifest", f"segment descriptor does not parse: {exc}",
                                    manifest_path))
        return
    out.checked["segments"] += 1
    files = check_segment_files(path, desc)
    out.checked["segment_files"] += files.files
    out.problems += files.problems
    seg = None
    if files.sound:
        try:
            seg = Segment.open(fs, os.path.join(path, "segments"), desc, verify=False)
        except StorageError as exc:
            out.problems.append(Problem.of_error("segment", exc))
    alive = _check_marker(fs, path, entry, desc.count, out)
    if seg is not None:
        out.segments.append(CheckedSegment(cid, seg, alive, writers(manifest, desc.collection_id)))


def _check_marker(fs: FileSystem, path: str, entry: dict[str, Any], count: int, out: SegmentsCheck) -> np.ndarray:
    """The rows a segment entry's delete marker leaves alive (all when it has none)."""
    alive = np.ones(count, dtype=bool)
    marker = entry.get("marker")
    if marker:
        out.checked["markers"] += 1
        try:
            alive = ~read_delete_marker(fs, os.path.join(path, "markers", marker["file"]), marker, count)
        except StorageError as exc:
            out.problems.append(Problem.of_error("marker", exc))
    return alive


def writers(manifest: Manifest | None, cid: str) -> frozenset[str]:
    """``cid`` and the collections it was forked from: a fork's own segments hold rows its
    source's log records wrote before the fork (engine/fork.py, FORMAT.md "Forks")."""
    out = {cid}
    listed = manifest.catalog.get("collections", []) if manifest else []
    for info in listed if isinstance(listed, list) else []:
        lineage = info.get("lineage") if isinstance(info, dict) else None
        chain = [str(step[0]) for step in lineage or [] if isinstance(step, list) and step]
        chain.append(str(info.get("id")))
        if cid in chain:
            out.update(chain[:chain.index(cid)])
    return frozenset(out)


def check_coverage(manifest: Manifest | None, first: int | None, last: int, waldir: str) -> list[Problem]:
    """Whether the log (LSNs ``first``..``last``; ``first`` None: no readable file) holds what a
    reopen under ``manifest`` replays and reaches what it covers."""
    if manifest is None:
        if first not in (None, 1):
            return [Problem(ERROR, "log", f"no manifest, and the log starts at LSN {first}: "
                            f"records 1..{first - 1} are missing", waldir)]
        return []
    problems = []
    need = manifest.replay_from()
    start = first if first is not None else last + 1
    if start > need and last >= need:
        problems.append(Problem(ERROR, "log", f"a reopen replays from LSN {need} but the log starts at LSN {start}",
                                waldir, None, need))
    if last < manifest.catalog_lsn:
        problems.append(Problem(ERROR, "log", f"the log ends at LSN {last} but manifest generation "
                                f"{manifest.generation} covers LSN {manifest.catalog_lsn}", waldir, None, last + 1))
    return problems
