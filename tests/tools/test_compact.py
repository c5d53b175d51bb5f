"""sediment compact: summary, one collection, refusal next to a live writer."""

from __future__ import annotations

import json

from sedimentdb.tools.ops.compact import compact
from sedimentdb.tools.ops.info import database_info
from sedimentdb.tools.ops.verify import verify

from .helpers import check_golden, invoke, normalise, snapshot


def test_compact_turns_the_tail_into_a_segment(db_path):
    before = snapshot(db_path)
    summary = compact(db_path)
    docs = next(c for c in summary.collections if c.name == "docs")
    assert docs.tail_rows_before == 3 and docs.tail_rows_after == 0
    assert docs.segments_before == 1 and docs.segments_after >= 1
    assert summary.duration_s >= 0 and summary.bytes_before > 0 and summary.bytes_after > 0
    assert database_info(db_path).tail_rows == 0
    assert snapshot(db_path) == before
    assert verify(db_path).clean


def test_compact_one_collection_text_and_json(db_path, runner):
    res = invoke(runner, "compact", db_path, "--collection", "small")
    assert res.exit_code == 0
    check_golden("compact_small.txt", normalise(res.output, db_path))
    res = invoke(runner, "compact", db_path, "--collection", "docs", "--json")
    data = json.loads(res.output)
    assert [c["name"] for c in data["collections"]] == ["docs"] and "bytes_reclaimed" in data


def test_unknown_collection(db_path, runner):
    res = invoke(runner, "compact", db_path, "--collection", "nope")
    assert res.exit_code == 1 and "does not exist" in res.output


def test_compact_refuses_while_another_process_writes(db_path, runner, other_writer):
    res = invoke(runner, "compact", db_path)
    assert res.exit_code == 3
    assert "refusing" in res.output and "another process" in res.output
