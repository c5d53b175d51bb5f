"""The manifests' and segments' part of ``sediment repair``, beside the manifest format.

Manifest damage: a damaged manifest is set aside (the engine falls back to the previous one).
Segment damage: a segment whose derived files (HNSW graph, summary, filter index) are damaged
but whose data files are sound is rebuilt from its raw vectors into a new segment published in
a new manifest; when data files or delete markers are damaged and the log still holds every
record from LSN 1, the whole directory is rebuilt from the log (*rebuild-from-log*, carried
out by engine/repair.py); when it does not, a new manifest is published without that segment
(its files and marker set aside) and the plan names what is LOST: the segment, its row count
and its live ids when its rows file still reads. Every other segment and the log are kept.
When the log up to an LSN is gone, a manifest whose checkpoints are at that LSN is published
and the writes only the log held are named.
"""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from typing import Any

from sedimentdb.engine.compactor.check import newest_manifest
from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, write_manifest
from sedimentdb.engine.fileio import FileSystem
from sedimentdb.engine.repair_plan import Action, RepairPlan
from sedimentdb.engine.segments import HnswParams, SegmentDescriptor, read_delete_marker, write_segment
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.segments.check import DERIVED_FILES, check_segment_files, read_ids, read_segment_data
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal import Checkpoint

Damage = tuple[str, SegmentDescriptor, set[str], bool]  # collection id, descriptor, damaged files, marker damaged


def checkpoint_of(manifest: Manifest, path: str) -> Checkpoint:
    """What ``manifest`` (of the data directory ``path``) needs of the log, as the log's repair takes it."""
    return Checkpoint(manifest.replay_from(), manifest.catalog_lsn, manifest.db_uuid, manifest.epoch,
                      lambda through: advance_action(manifest, path, through))


def plan_manifests(plan: RepairPlan, newest: Manifest | None, damaged: list[str]) -> None:
    """Set aside every damaged manifest (``damaged``, newest first)."""
    for mpath in damaged:
        plan.actions.append(Action("set-aside-manifest", mpath, f"set aside damaged manifest {os.path.basename(mpath)}"
                                   + (" (the engine falls back to the previous one)" if newest else "")))


def advance_action(manifest: Manifest, path: str, through: int) -> Action | None:
    """Declare the log before ``through`` gone: collections checkpointed earlier lose those writes."""
    behind = {cid: int(e["checkpoint_lsn"]) for cid, e in manifest.collections.items()
              if int(e["checkpoint_lsn"]) < through}
    if not behind:
        return None
    names = {c["id"]: c["name"] for c in manifest.catalog.get("collections", [])}
    lost = "; ".join(f"collection {names.get(cid, cid)!r}: its writes at LSNs {ck + 1}..{through} that were only "
                     "in the log" for cid, ck in sorted(behind.items()))
    return Action("advance-checkpoints", path, f"the log no longer holds LSNs up to {through}: publish a manifest "
                  f"whose checkpoints are at LSN {through}; lost: {lost}", {"through": through})


def damaged_segments(fs: FileSystem, path: str, manifest: Manifest) -> list[Damage]:
    """Each damaged segment of ``manifest``: its files against its descriptor, and its marker."""
    out = []
    for cid, entry in manifest.collections.items():
        for seg in entry["segments"]:
            desc = SegmentDescriptor.from_dict(seg["descriptor"])
            bad_files = check_segment_files(path, desc).damaged_files()
            marker_bad = False
            if seg.get("marker"):
                try:
                    read_delete_marker(fs, os.path.join(path, "markers", seg["marker"]["file"]), seg["marker"],
                                       desc.count)
                except StorageError:
                    marker_bad = True
            if bad_files or marker_bad:
                out.append((cid, desc, bad_files, marker_bad))
    return out


def plan_segments(plan: RepairPlan, fs: FileSystem, manifest: Manifest, damage: list[Damage],
                  can_replay: bool) -> None:
    """Rebuild, replay or drop each damaged segment (see the module docstring)."""
    rebuild_all = False
    seen: set[str] = set()
    for cid, desc, bad_files, marker_bad in damage:
        if desc.segment_id in seen and not marker_bad:
            continue  # shared by forks: one action rebuilds or drops it for every collection holding it
        seen.add(desc.segment_id)
        segpath = os.path.join(plan.path, "segments", desc.segment_id)
        if bad_files <= DERIVED_FILES and not marker_bad:
            plan.actions.append(Action("rebuild-segment", segpath,
                                       f"rebuild segment {desc.segment_id} of collection {cid} from its raw "
                                       f"vectors and rows (damaged: {', '.join(sorted(bad_files))}) into a new "
                                       "segment published in a new manifest",
                                       {"collection_id": cid, "segment_id": desc.segment_id}))
        elif can_replay:
            rebuild_all = True
        else:
            plan.actions.append(_plan_drop_segment(plan, fs, manifest, cid, desc, bad_files, marker_bad))
    if rebuild_all:
        plan.actions = [a for a in plan.actions if a.kind != "rebuild-segment"]
        plan.actions.append(Action("rebuild-from-log", plan.path,
                                   "data files of a segment are damaged and the log holds every record from LSN 1: "
                                   "set aside all manifests, segments and delete markers, replay the whole log and "
                                   "compact it into new segments"))


def _plan_drop_segment(plan: RepairPlan, fs: FileSystem, manifest: Manifest, cid: str, desc: SegmentDescriptor,
                       bad_files: set[str], marker_bad: bool) -> Action:
    """Drop a segment whose data (or delete marker) is damaged when the log cannot rebuild it.

    Nothing else holds its rows any more (the log before the checkpoint is released), so the
    only way to an openable database that keeps every other segment is a manifest without it;
    the plan names what is LOST: the segment, its row count and, when its rows file still
    reads, the ids of the rows that were live in it.
    """
    segpath = os.path.join(plan.path, "segments", desc.segment_id)
    what = ", ".join(sorted(bad_files | ({"delete marker"} if marker_bad else set())))
    ids = _readable_live_ids(fs, plan.path, manifest, cid, desc) if SF.FILE_ROWS not in bad_files else None
    shown = "" if ids is None else f"; lost ids: {', '.join(ids[:20])}" + (f" and {len(ids) - 20} more"
                                                                           if len(ids) > 20 else "")
    live = "" if ids is None else f" ({len(ids)} of them live)"
    unknown = "; its ids cannot be read (rows file damaged)" if ids is None else ""
    names = {c["id"]: c["name"] for c in manifest.catalog.get("collections", [])}
    name = f"{names[cid]!r} ({cid})" if cid in names else cid
    return Action(
        "drop-segment", segpath,
        f"segment {desc.segment_id} of collection {name} has damaged data ({what}) and "
        "the log no longer holds every record from LSN 1 to rebuild it: publish a new manifest without it "
        f"(its files are set aside); LOST: its {desc.count} row(s){live}{unknown}{shown}; every other segment "
        "and the log are kept (restore the segment's rows from a backup or a replica if needed)",
        {"collection_id": cid, "segment_id": desc.segment_id, "count": desc.count, "lost_ids": ids})


def _readable_live_ids(fs: FileSystem, path: str, manifest: Manifest, cid: str,
                       desc: SegmentDescriptor) -> list[str] | None:
    """Ids of the segment's rows not deleted by its marker (all rows when the marker is
    damaged or absent); None when the rows file does not read."""
    ids = read_ids(os.path.join(path, "segments", desc.segment_id), desc)
    if ids is None:
        return None
    seg = _entry(manifest, cid, desc.segment_id)
    if not seg.get("marker"):
        return ids
    try:
        deleted = read_delete_marker(fs, os.path.join(path, "markers", seg["marker"]["file"]), seg["marker"],
                                     desc.count)
    except StorageError:
        return ids
    return [i for i, d in zip(ids, deleted, strict=True) if not d]


def _entry(manifest: Manifest, cid: str, segment_id: str) -> dict[str, Any]:
    return next((s for s in manifest.collections[cid]["segments"] if s["descriptor"]["segment_id"] == segment_id), {})


# ---- applying -------------------------------------------------------------------------------------

MANIFEST_ACTIONS = ("set-aside-manifest", "advance-checkpoints", "rebuild-segment", "drop-segment")


def apply_manifest_action(plan: RepairPlan, action: Action, fs: FileSystem) -> bool:
    """Carry out one of this module's actions (on the newest valid manifest as the actions
    before left it); False if ``action`` is not one of them."""
    kind, d = action.kind, action.details
    if kind not in MANIFEST_ACTIONS:
        return False
    if kind == "set-aside-manifest":
        plan.set_aside(action.path)
        return True
    newest, _damaged = newest_manifest(fs, plan.path)
    assert newest is not None
    if kind == "advance-checkpoints":
        _advance_checkpoints(plan, fs, newest, d["through"])
    elif kind == "rebuild-segment":
        _rebuild_segment(plan, fs, newest, d["collection_id"], d["segment_id"])
    else:
        _drop_segment(plan, fs, newest, d["collection_id"], d["segment_id"])
    return True


def _publish(fs: FileSystem, path: str, m: Manifest, collections: dict[str, Any], catalog_lsn: int | None = None) -> None:
    """Write ``m`` with ``collections`` (and ``catalog_lsn``) as the next manifest generation."""
    gen = max(g for g, _ in list_manifests(fs, path)) + 1
    write_manifest(fs, path, Manifest(gen, m.db_uuid, m.epoch, m.catalog_lsn if catalog_lsn is None else catalog_lsn,
                                      m.catalog, collections, time.time()))


def _copied(manifest: Manifest) -> dict[str, Any]:
    return {k: {**v, "segments": list(v["segments"])} for k, v in manifest.collections.items()}


def _rebuild_segment(plan: RepairPlan, fs: FileSystem, manifest: Manifest, cid: str, segment_id: str) -> None:
    entry = manifest.collections[cid]
    idx = next(i for i, s in enumerate(entry["segments"]) if s["descriptor"]["segment_id"] == segment_id)
    desc = SegmentDescriptor.from_dict(entry["segments"][idx]["descriptor"])
    segdir = os.path.join(plan.path, "segments")
    segpath = os.path.join(segdir, segment_id)
    data = read_segment_data(segpath, desc)
    params = HnswParams.from_dict(desc.hnsw) if desc.hnsw else HnswParams(space=desc.space)
    new_desc = write_segment(fs, segdir, uuidlib.uuid4().hex, desc.collection_id, data, space=desc.space,
                             hnsw=params, min_lsn=desc.min_lsn, max_lsn=desc.max_lsn,
                             build_graph_index=desc.has_graph)
    collections = _copied(manifest)
    for held in collections.values():  # every collection holding it: forks share segments (engine/fork.py)
        held["segments"] = [{**s, "descriptor": new_desc.to_dict()} if s["descriptor"]["segment_id"] == segment_id
                            else s for s in held["segments"]]
    _publish(fs, plan.path, manifest, collections)
    plan.set_aside(segpath)


def _drop_segment(plan: RepairPlan, fs: FileSystem, manifest: Manifest, cid: str, segment_id: str) -> None:
    """Publish a manifest without the segment, then set its files and its marker aside."""
    # Every collection holding it loses it: forks share segments (engine/fork.py).
    dropped = [s for e in manifest.collections.values() for s in e["segments"]
               if s["descriptor"]["segment_id"] == segment_id]
    collections = {k: {**v, "segments": [s for s in v["segments"] if s["descriptor"]["segment_id"] != segment_id]}
                   for k, v in manifest.collections.items()}
    _publish(fs, plan.path, manifest, collections)
    segpath = os.path.join(plan.path, "segments", segment_id)
    if os.path.isdir(segpath):
        plan.set_aside(segpath)
    for seg in dropped:
        marker = os.path.join(plan.path, "markers", seg["marker"]["file"]) if seg.get("marker") else ""
        if marker and os.path.exists(marker):
            plan.set_aside(marker)


def _advance_checkpoints(plan: RepairPlan, fs: FileSystem, manifest: Manifest, through: int) -> None:
    collections = {cid: {**e, "checkpoint_lsn": max(int(e["checkpoint_lsn"]), through)}
                   for cid, e in manifest.collections.items()}
    _publish(fs, plan.path, manifest, collections, max(manifest.catalog_lsn, through))
