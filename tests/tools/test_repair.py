"""sediment repair: plans, confirmation, and fixes that leave a directory verify calls clean."""

from __future__ import annotations

import json
import os

from sedimentdb.engine.compactor.manifest import list_manifests
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.tools.ops.repair import apply_repair, plan_repair
from sedimentdb.tools.ops.verify import verify

from .helpers import (
    DOCS_ID,
    check_golden,
    flip_byte,
    invoke,
    log_file,
    normalise,
    record_offset,
    segment_dir,
    snapshot,
    tree_digest,
)


def _repair(path: str, salvage: bool = False) -> list[str]:
    plan = plan_repair(path, salvage=salvage)
    assert not plan.unfixable, plan.unfixable
    return apply_repair(plan)


def _ids(snap: dict, cid: str = DOCS_ID) -> list[str]:
    return [r[0] for r in snap[cid]]


def test_clean_directory_needs_nothing(db_path, runner):
    res = invoke(runner, "repair", db_path)
    assert res.exit_code == 0 and "nothing to repair" in res.output


def test_truncate_at_last_good_record_keeps_a_copy(db_path, runner):
    before = snapshot(db_path)
    path = log_file(db_path)
    original = open(path, "rb").read()
    flip_byte(path, record_offset(db_path, 10) + 40)
    res = invoke(runner, "repair", db_path, "--dry-run")
    assert res.exit_code == 0
    check_golden("repair_plan_truncate.txt", normalise(res.output, db_path))
    res = invoke(runner, "repair", db_path, "--yes")
    assert res.exit_code == 0, res.output
    assert verify(db_path).clean
    after = snapshot(db_path)
    assert _ids(after) == [i for i in _ids(before) if i not in ("tail1", "tail2")]
    aside = [d for d in os.listdir(db_path) if d.startswith("repair-")]
    kept = open(os.path.join(db_path, aside[0], "wal", os.path.basename(path)), "rb").read()
    assert len(kept) == len(original)


def test_damage_already_in_segments_is_dropped_without_loss(db_path):
    before = snapshot(db_path)
    flip_byte(log_file(db_path), record_offset(db_path, 5) + 100)  # the first big add: checkpointed
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["drop-log-prefix"]
    apply_repair(plan)
    report = verify(db_path)
    assert report.clean, report.problems
    assert snapshot(db_path) == before


def test_salvage_keeps_records_after_garbage_when_no_lsn_is_missing(db_path, runner):
    before = snapshot(db_path)
    path = log_file(db_path)
    off = record_offset(db_path, 10)
    data = open(path, "rb").read()
    with open(path, "wb") as f:  # 16 bytes of garbage between LSN 9 and LSN 10: no record lost
        f.write(data[:off] + b"\xde\xad\xbe\xef" * 4 + data[off:])
    assert not verify(db_path).clean
    res = invoke(runner, "repair", db_path, "--dry-run")  # without --salvage: truncation, with a note
    assert "truncate-log" in res.output and "--salvage` would keep every record" in res.output
    res = invoke(runner, "repair", db_path, "--salvage", "--yes", "--json")
    assert res.exit_code == 0, res.output
    assert [a["kind"] for a in json.loads(res.output)["actions"]] == ["salvage-log"]
    assert verify(db_path).clean
    assert snapshot(db_path) == before


def test_salvage_refuses_to_renumber_over_a_missing_lsn(db_path, runner):
    flip_byte(log_file(db_path), record_offset(db_path, 10) + 40)
    before = tree_digest(db_path)
    res = invoke(runner, "repair", db_path, "--salvage", "--yes")
    assert res.exit_code == 1
    assert "CANNOT FIX" in res.output and "LSN 10" in res.output and "renumbering" in res.output
    assert tree_digest(db_path) == before


def test_torn_tail_is_cut(db_path):
    path = log_file(db_path)
    os.truncate(path, os.path.getsize(path) - 12)
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["truncate-log"]
    apply_repair(plan)
    report = verify(db_path)
    assert report.clean and not report.problems


def test_damaged_graph_is_rebuilt_from_raw_vectors(db_path):
    before = snapshot(db_path)
    flip_byte(os.path.join(segment_dir(db_path), "graph.hnsw"), 5000)
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["rebuild-segment"]
    apply_repair(plan)
    report = verify(db_path)
    assert report.clean, report.problems
    assert snapshot(db_path) == before


def test_damaged_vectors_are_rebuilt_from_the_log(db_path):
    before = snapshot(db_path)
    vec = os.path.join(segment_dir(db_path), "vectors.f32")
    os.truncate(vec, os.path.getsize(vec) - 10)
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["rebuild-from-log"]
    apply_repair(plan)
    report = verify(db_path)
    assert report.clean, report.problems
    assert snapshot(db_path) == before


def test_damaged_manifest_is_set_aside(db_path):
    before = snapshot(db_path)
    mpath = list_manifests(OsFileSystem(), db_path)[-1][1]
    flip_byte(mpath, 50)
    _repair(db_path)
    assert not os.path.exists(mpath)
    assert verify(db_path).clean
    assert snapshot(db_path) == before


def test_declining_the_prompt_changes_nothing(db_path, runner):
    flip_byte(log_file(db_path), record_offset(db_path, 10) + 40)
    before = tree_digest(db_path)
    res = invoke(runner, "repair", db_path, input="n\n")
    assert res.exit_code == 1 and "Apply this plan?" in res.output
    assert tree_digest(db_path) == before


def test_repair_refuses_while_another_process_writes(db_path, runner, other_writer):
    res = invoke(runner, "repair", db_path, "--yes")
    assert res.exit_code == 3 and "another process" in res.output


def test_damaged_delete_marker_is_found_and_rebuilt_from_the_log(db_path):
    from sedimentdb.engine.database import Database
    from sedimentdb.engine.options import DatabaseOptions
    db = Database.open(db_path, DatabaseOptions(background_compaction=False, retain_wal=True))
    try:
        db.delete(DOCS_ID, [f"id{i}" for i in range(10, 20)])
        db.compact()  # the segment keeps its rows; a delete marker records the deleted ones
    finally:
        db.close()
    markers = os.listdir(os.path.join(db_path, "markers"))
    assert markers
    before = snapshot(db_path)
    flip_byte(os.path.join(db_path, "markers", markers[0]), 3)
    errs = verify(db_path).errors
    assert errs and errs[0].area == "marker"
    plan = plan_repair(db_path)
    assert [a.kind for a in plan.actions] == ["rebuild-from-log"]
    apply_repair(plan)
    assert verify(db_path).clean
    assert snapshot(db_path) == before


def test_damaged_sparse_index_is_rebuilt_from_metadata(tmp_path):
    """sparse.idx is derived (from metadata.col): repair rebuilds the segment, nothing is lost."""
    import numpy as np

    from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
    from sedimentdb.engine.options import DatabaseOptions

    path = str(tmp_path / "db")
    opts = DatabaseOptions(background_compaction=False)
    sv = [{"sv": {"#type": "sparse_vector", "indices": [i % 5, 9], "values": [1.0, float(i)]}} for i in range(20)]
    with Database.open(path, opts) as db:
        cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
        db.add(cid, [f"r{i}" for i in range(20)], np.zeros((20, 2), dtype=np.float32), None, sv)
        db.compact(cid)
        before = db.sparse_query(cid, "sv", [9], [1.0], 5).ids
    found = [os.path.join(root, "sparse.idx") for root, _, files in os.walk(path) if "sparse.idx" in files]
    assert len(found) == 1
    flip_byte(found[0], os.path.getsize(found[0]) // 2)
    assert not verify(path).clean
    plan = plan_repair(path)
    assert [a.kind for a in plan.actions] == ["rebuild-segment"]
    apply_repair(plan)
    assert verify(path).clean
    with Database.open(path, opts) as db:
        assert db.sparse_query(cid, "sv", [9], [1.0], 5).ids == before == ["r19", "r18", "r17", "r16", "r15"]
