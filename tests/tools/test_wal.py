"""sediment wal ls|dump|tail: listing, decoding, filters, abbreviation, JSON lines, following."""

from __future__ import annotations

import json
import threading

import numpy as np

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.ops.wal import follow, last_records, list_log, read_records

from .helpers import DOCS_ID, SMALL_ID, check_golden, flip_byte, invoke, log_file, normalise


def test_ls_lists_files_with_ranges(db_path, runner):
    files = list_log(db_path)
    assert len(files) == 1 and files[0].first_lsn == 1 and files[0].status == "ok"
    assert files[0].records == files[0].last_lsn
    res = invoke(runner, "wal", "ls", db_path)
    assert res.exit_code == 0
    check_golden("wal_ls.txt", normalise(res.output, db_path))
    data = json.loads(invoke(runner, "wal", "ls", db_path, "--json").output)
    assert data[0]["first_lsn"] == 1 and data[0]["size"] == files[0].size


def test_dump_text_golden(db_path, runner):
    res = invoke(runner, "wal", "dump", db_path)
    assert res.exit_code == 0
    check_golden("wal_dump.txt", normalise(res.output, db_path))
    assert "…" in res.output  # ids and vectors abbreviated


def test_dump_json_lines_and_filters(db_path, runner):
    res = invoke(runner, "wal", "dump", db_path, "--json", "--collection", "small")
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert {x["collection_id"] for x in lines} == {SMALL_ID}
    assert [x["op"] for x in lines] == ["create-collection", "add"]
    add = lines[1]
    assert add["uris"] == [f"file:///s{i}" for i in range(5)] and "embeddings" not in add
    assert len(add["embeddings_preview"]) == 4
    full = json.loads(invoke(runner, "wal", "dump", db_path, "--json", "--collection", SMALL_ID, "--op", "add",
                             "--vectors").output)
    assert np.asarray(full["embeddings"]).shape == (5, 8)
    deletes = [json.loads(x) for x in invoke(runner, "wal", "dump", db_path, "--json", "--op", "delete").output
               .splitlines()]
    assert len(deletes) == 1 and deletes[0]["ids"] == ["id1", "id2"] and deletes[0]["collection"] == "docs"
    ranged = [json.loads(x)["lsn"] for x in invoke(runner, "wal", "dump", db_path, "--json", "--from-lsn", "3",
                                                   "--to-lsn", "5").output.splitlines()]
    assert ranged == [3, 4, 5]


def test_vectors_are_exact_in_json(db_path):
    rec = next(r for r in read_records(db_path, collection="small", ops=["add"]))
    from sedimentdb.tools.ops.wal import record_dict
    d = record_dict(rec, {}, vectors=True)
    assert np.asarray(d["embeddings"], dtype=np.float32).tobytes() == rec.record.embeddings.tobytes()


def test_tail_last_records(db_path, runner):
    recs = last_records(db_path, 2)
    assert [r.lsn for r in recs] == [recs[-1].lsn - 1, recs[-1].lsn]
    res = invoke(runner, "wal", "tail", "-n", "2", db_path)
    assert len(res.output.splitlines()) == 2 and "tail document 2" in res.output
    res = invoke(runner, "wal", "tail", "-n", "1", "--op", "delete", "--json", db_path)
    assert json.loads(res.output)["ids"] == ["id1", "id2"]


def test_follow_reads_records_a_writer_appends(db_path):
    start = list_log(db_path)[-1].last_lsn + 1
    db = Database.open(db_path, DatabaseOptions(background_compaction=False, wal_roll_bytes=4096))
    seen = []
    done = threading.Event()

    def reader() -> None:
        for rec in follow(db_path, start, poll_interval=0.01, stop=done.is_set):
            seen.append(rec)
            if len(seen) == 40:
                done.set()

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(40):  # small roll size: the follower must cross several files
            db.add(DOCS_ID, [f"f{i}"], np.full((1, 8), i, np.float32), [f"followed {i}" * 20])
        t.join(timeout=20)
    finally:
        done.set()
        db.close()
    assert [r.lsn for r in seen] == list(range(start, start + 40))
    assert [r.record.ids[0] for r in seen] == [f"f{i}" for i in range(40)]
    assert len(list_log(db_path)) > 2


def test_damaged_log_refused_without_salvage_and_reported_with_it(db_path, runner):
    flip_byte(log_file(db_path), 64 + 40)  # inside the first record's payload
    res = invoke(runner, "wal", "dump", db_path)
    assert res.exit_code == 4 and "damaged" in res.output
    res = invoke(runner, "wal", "dump", db_path, "--salvage", "--json")
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert lines[0]["op"] == "damaged" and lines[0]["offset"] == 64
    assert lines[1]["lsn"] == 2
    ls = list_log(db_path)
    assert ls[0].status == "damaged" and ls[0].problem_offset == 64


def test_follow_reads_records_as_they_are_appended_across_rolls(tmp_path):
    """`sediment wal follow` reads through the engine's cursor: new records as a writer appends
    them, in LSN order, across the files it rolls to."""
    import time

    import numpy as np

    from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
    from sedimentdb.engine.options import DatabaseOptions
    from sedimentdb.tools.ops.wal import follow
    path = str(tmp_path / "db")
    db = Database.open(path, DatabaseOptions(background_compaction=False, retain_wal=True, wal_roll_bytes=1 << 12))
    try:
        c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "docs")
        deadline = time.monotonic() + 60
        it = follow(path, 1, poll_interval=0.01, stop=lambda: time.monotonic() > deadline)
        seen = [next(it).lsn for _ in range(db.wal.last_lsn)]
        for k in range(40):
            db.add(c.id, [f"x{k}"], np.full((1, 8), float(k), np.float32), [f"document {k} " + "y" * 100])
        while seen[-1] < db.wal.last_lsn:
            seen.append(next(it).lsn)
        assert len(db.wal.files()) > 2  # it rolled, and follow moved on with it
    finally:
        db.close()
    assert seen == list(range(1, seen[-1] + 1))
