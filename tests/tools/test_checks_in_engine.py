"""Issue 17: the checks and repair plans that know a format live in the engine and return typed
objects (Problem, Action) that the tools only render; the log's planner knows no manifest."""

from __future__ import annotations

import os

from sedimentdb.engine.compactor.check import check_manifests, newest_manifest
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.problem import Problem
from sedimentdb.engine.repair import plan_repair
from sedimentdb.engine.repair_plan import Action, RepairPlan
from sedimentdb.engine.segments import SegmentDescriptor
from sedimentdb.engine.segments.check import check_segment_files
from sedimentdb.engine.wal import Checkpoint, plan_log, read_logs

from .helpers import DOCS_ID, flip_byte, log_file, record_offset, segment_dir


def _descriptor(path: str) -> SegmentDescriptor:
    manifest, _damaged = newest_manifest(OsFileSystem(), path)
    assert manifest is not None
    return SegmentDescriptor.from_dict(manifest.collections[DOCS_ID]["segments"][0]["descriptor"])


def test_segment_check_returns_typed_problems(db_path):
    desc = _descriptor(db_path)
    assert check_segment_files(db_path, desc).sound
    flip_byte(os.path.join(segment_dir(db_path), "graph.hnsw"), 5000)
    found = check_segment_files(db_path, desc)
    assert found.damaged_files() == {"graph.hnsw"}
    assert all(isinstance(p, Problem) and p.area == "segment" and p.severity == "error" for p in found.problems)
    assert found.files == len(desc.files)


def test_manifest_check_names_a_damaged_manifest(db_path):
    fs = OsFileSystem()
    newest = sorted(n for n in os.listdir(db_path) if n.startswith("MANIFEST-"))[-1]
    flip_byte(os.path.join(db_path, newest), 40)
    found = check_manifests(fs, db_path)
    assert [(p.area, p.severity, os.path.basename(p.file or "")) for p in found.problems] == \
        [("manifest", "error", newest)]
    assert found.count == len(found.manifests) + 1


def test_engine_plans_a_repair_without_the_tools(db_path):
    path = log_file(db_path)
    os.truncate(path, os.path.getsize(path) - 12)
    with plan_repair(os.path.abspath(db_path)) as plan:
        assert [(a.kind, a.path) for a in plan.actions] == [("truncate-log", path)]


def test_the_log_planner_asks_the_manifest_side_through_the_checkpoint(db_path):
    """A cut before what the manifest covers restarts the log; the checkpoint move is the caller's action."""
    flip_byte(log_file(db_path), record_offset(db_path, 2) + 40)
    asked: list[int] = []

    def advance(through: int) -> Action:
        asked.append(through)
        return Action("advance-checkpoints", db_path, f"marker {through}")

    plan = RepairPlan(db_path, salvage=False)
    needs = Checkpoint(replay_from=1, covered_lsn=10**6, db_uuid="ab" * 16, epoch=0, advance=advance)
    assert plan_log(plan, read_logs(OsFileSystem(), db_path), needs, segments_sound=True) is False
    kinds = [a.kind for a in plan.actions]
    assert kinds[-2:] == ["advance-checkpoints", "restart-log"] and set(kinds[:-2]) == {"set-aside-log"}
    assert asked == [10**6]
    assert plan.actions[-1].details["first_lsn"] == 10**6 + 1
