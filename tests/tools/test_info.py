"""sediment info: the library function, the text and JSON forms, and use next to a live writer."""

from __future__ import annotations

import json

import pytest

from sedimentdb.tools.ops.info import database_info

from .helpers import DOCS_ID, N_DOCS, SMALL_ID, check_golden, invoke, normalise, tree_digest, write_one


def test_info_reports_everything(db_path):
    r = database_info(db_path)
    assert r.format_versions == {"wal": 1, "manifest": 1, "segment": 1}
    assert len(r.database_uuid) == 36
    assert r.epoch == 0
    assert r.first_lsn == 1 and r.last_lsn > 5
    assert r.log_files == 1 and r.log_bytes > 0
    assert r.manifest_generation is not None and r.checkpoint_lsn is not None
    by_name = {c.name: c for c in r.collections}
    docs, small = by_name["docs"], by_name["small"]
    assert docs.id == DOCS_ID and small.id == SMALL_ID
    assert docs.records == N_DOCS - 2 + 3
    assert docs.tail_rows == 3 and docs.segments == 1 and docs.deleted_rows == 2
    assert 0 < docs.deleted_fraction < 0.01 and docs.reclaimable_bytes > 0
    assert small.records == 5 and small.dimension == 8
    assert r.tail_rows == 3 and r.segments == 2


def test_info_text_golden_and_json(db_path, runner):
    res = invoke(runner, "info", db_path)
    assert res.exit_code == 0
    check_golden("info.txt", normalise(res.output, db_path))
    res = invoke(runner, "info", db_path, "--json")
    data = json.loads(res.output)
    assert data["collections"][0]["name"] == "docs" and data["last_lsn"] > 0


def test_info_is_read_only_and_works_while_another_process_writes(db_path, runner, other_writer):
    write_one(other_writer)
    before = tree_digest(db_path)
    res = invoke(runner, "info", db_path, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {c["name"]: c["records"] for c in data["collections"]}["docs"] == N_DOCS - 2 + 3 + 1
    assert tree_digest(db_path) == before


def test_info_on_missing_directory_fails_cleanly(tmp_path, runner):
    res = invoke(runner, "info", str(tmp_path / "nope"))
    assert res.exit_code == 1
    assert "no such directory" in res.output
    assert not (tmp_path / "nope").exists()
    res = invoke(runner, "info", str(tmp_path))
    assert res.exit_code == 1 and "not a SedimentDB data directory" in res.output


@pytest.mark.parametrize("command", [["info"], ["verify"], ["export"], ["wal", "ls"], ["wal", "dump"]])
def test_read_only_tools_on_a_chroma_directory_name_the_migrate_command(tmp_path, runner, command):
    (tmp_path / "chroma.sqlite3").write_bytes(b"")
    res = invoke(runner, *command, str(tmp_path))
    assert res.exit_code == 1, res.output
    assert "holds a Chroma database" in res.output
    assert f"sediment migrate-from-chroma {tmp_path} NEW_DIR" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chroma.sqlite3"]


def test_info_on_damaged_directory_exits_4(db_path, runner):
    from .helpers import flip_byte, log_file, record_offset
    flip_byte(log_file(db_path), record_offset(db_path, 5) + 100)
    res = invoke(runner, "info", db_path)
    assert res.exit_code == 4
    assert "sediment verify" in res.output and "LSN 5" in res.output


def test_an_empty_log_shows_no_backwards_range(db_path):
    """After a migration every record may be released: the range read ``5..4``."""
    from dataclasses import replace

    from sedimentdb.tools.info_cmd import render_info

    text = render_info(replace(database_info(db_path), first_lsn=5, last_lsn=4))
    assert "LSN range:           none (the log holds no record; the next write is LSN 5)" in text
    assert "5..4" not in text
