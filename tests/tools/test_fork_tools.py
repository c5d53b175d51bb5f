"""verify and repair on a directory whose collections share segments (forks, engine/fork.py)."""

from __future__ import annotations

import os

import numpy as np

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.ops.repair import apply_repair, plan_repair
from sedimentdb.tools.ops.verify import verify

from .helpers import DIM, DOCS_ID, flip_byte, segment_dir, snapshot

FORK_ID = "00000000-0000-4000-8000-0000000000f1"


def _fork(path: str) -> None:
    """Fork 'docs' (its segment is shared), diverge both, compact the fork's own tail."""
    db = Database.open(path, DatabaseOptions(background_compaction=False, retain_wal=True, durability="off"))
    try:
        db.fork_collection(DOCS_ID, "docs-fork", id=FORK_ID)
        db.delete(FORK_ID, ["id10"])
        db.delete(DOCS_ID, ["id11"])
        db.add(FORK_ID, ["own"], np.ones((1, DIM), np.float32))
        db.compact(FORK_ID)  # a fork segment whose rows the source's log records wrote (the tail)
        db.compact(DOCS_ID)
    finally:
        db.close()


def test_verify_is_clean_with_shared_segments_and_counts_them(db_path):
    _fork(db_path)
    report = verify(db_path)
    assert report.clean, report.problems
    assert report.checked["shared_segment_refs"] >= 1
    assert report.checked["rows_against_log"] > 1200  # the fork's segment rows, checked against the source's log


def test_a_damaged_shared_segment_is_repaired_for_both_collections(db_path):
    _fork(db_path)
    before = snapshot(db_path)
    assert segment_dir(db_path) == segment_dir(db_path, FORK_ID)  # the damaged segment is the shared one
    flip_byte(os.path.join(segment_dir(db_path), "graph.hnsw"), 5000)
    errors = verify(db_path).errors
    assert errors and all(e.area == "segment" for e in errors)
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["rebuild-segment"]
    apply_repair(plan)
    report = verify(db_path)
    assert report.clean, report.problems
    assert snapshot(db_path) == before
    assert "id10" not in [r[0] for r in before[FORK_ID]] and "id11" in [r[0] for r in before[FORK_ID]]
