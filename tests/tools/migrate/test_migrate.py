"""Chroma fixtures made by the real chromadb migrate to exactly what chromadb read from them.

No chromadb is imported here: the expected state was recorded by make_fixtures.py.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from click.testing import CliRunner

import sedimentdb
from sedimentdb.tools.chroma import UnsupportedFormatError, read_chroma
from sedimentdb.tools.chroma import reader as reader_module
from sedimentdb.tools.cli import cli

from .helpers import VERSIONS, assert_matches, b64, expected, extract, tree_state

ALL = ["embeddings", "documents", "metadatas", "uris"]


def _check_configuration(got: dict, want: dict) -> None:
    if "_type" not in (want["configuration"] or {}):
        assert got == want["configuration"], want["name"]
    else:  # 0.x shows a defaults-filled configuration; its index follows the hnsw:* metadata
        assert got["hnsw"]["space"] == (want["metadata"] or {}).get("hnsw:space", "l2"), want["name"]


def _run(*args: str):
    return CliRunner().invoke(cli, ["migrate-from-chroma", *args], catch_exceptions=False)


@pytest.mark.parametrize("version", VERSIONS)
def test_reader_returns_what_chromadb_returned(version, tmp_path):
    src = extract(version, str(tmp_path))
    snap = read_chroma(src)
    by_key = {(c.tenant, c.database, c.name): c for c in snap.collections}
    want = expected(version)["collections"]
    assert len(by_key) == len(want)
    for w in want:
        c = by_key[(w["tenant"], w["database"], w["name"])]
        assert c.id == w["id"] and c.metadata == w["metadata"]
        _check_configuration(c.configuration, w)
        assert_matches({"ids": c.ids, "embeddings": b64(c.embeddings), "documents": c.documents,
                        "metadatas": c.metadatas, "uris": c.uris}, w)


def test_reader_keeps_a_record_whose_metadata_rows_are_apart(tmp_path, monkeypatch):
    """The reader groups a table scan of the metadata by record; a record whose rows are not
    next to each other (rewritten later, so at the end of the table) is read again in order."""
    src = extract(VERSIONS[-1], str(tmp_path))
    before = read_chroma(src)
    conn = sqlite3.connect(os.path.join(src, "chroma.sqlite3"))
    with conn:
        first = conn.execute("SELECT id, key FROM embedding_metadata WHERE id IN (SELECT id FROM embedding_metadata "
                             "GROUP BY id HAVING count(*) > 1) ORDER BY rowid LIMIT 1").fetchone()
        conn.execute("CREATE TEMP TABLE moved AS SELECT * FROM embedding_metadata WHERE id = ? AND key = ?", first)
        conn.execute("DELETE FROM embedding_metadata WHERE id = ? AND key = ?", first)
        conn.execute("INSERT INTO embedding_metadata SELECT * FROM moved")
    conn.close()
    queries: list[str] = []
    real = reader_module._Reader.q
    monkeypatch.setattr(reader_module._Reader, "q", lambda self, sql, args=(): queries.append(sql) or real(self, sql, args))
    after = read_chroma(src)
    assert any("embedding_metadata" in q and q.endswith("ORDER BY m.id, m.key") for q in queries)
    for a, b in zip(before.collections, after.collections, strict=True):
        assert (a.ids, a.documents, a.metadatas, a.uris) == (b.ids, b.documents, b.metadatas, b.uris), a.name


@pytest.mark.parametrize("version", VERSIONS)
def test_migrate_then_sedimentdb_reads_what_chromadb_read(version, tmp_path):
    src = extract(version, str(tmp_path))
    before = tree_state(src)
    dest = str(tmp_path / "migrated")
    res = _run(src, dest, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["verified"] and all(v["digest_match"] for v in summary["verification"])
    assert tree_state(src) == before, "the source directory changed"
    want = expected(version)["collections"]
    assert summary["records"] == sum(w["count"] for w in want)
    for w in want:
        client = sedimentdb.PersistentClient(path=dest, tenant=w["tenant"], database=w["database"])
        try:
            col = client.get_collection(w["name"], embedding_function=None)
            assert str(col.id) == w["id"] and col.metadata == w["metadata"]
            _check_configuration(col.configuration_json, w)
            assert col.count() == w["count"]
            got = col.get(include=ALL)
            embs = got["embeddings"] if got["embeddings"] is not None else []
            assert_matches({**got, "embeddings": b64(embs)}, w, uri_only_metadata_is_none=True)
        finally:
            client.close()


def test_dry_run_writes_nothing_and_lists_collections(tmp_path):
    src = extract(VERSIONS[-1], str(tmp_path))
    before = tree_state(src)
    dest = tmp_path / "dest"
    res = _run(src, str(dest), "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["dry_run"] and summary["verification"] == []
    names = {c["name"]: c for c in summary["collections"]}
    assert names["with-ef"]["dimension"] == 384 and names["with-ef"]["embedding_function"] == "default"
    assert names["log-tail"]["embedding_bytes"] == names["log-tail"]["records"] * 8 * 4
    assert summary["source_bytes"] > 0
    assert not dest.exists() and tree_state(src) == before
    text = _run(src, str(dest), "--dry-run")
    assert "would import" in text.output and "acme/prod/acme-docs" in text.output


def test_dest_must_be_absent_or_empty(tmp_path):
    src = extract(VERSIONS[-1], str(tmp_path))
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "keep.txt").write_text("x")
    res = _run(src, str(dest))
    assert res.exit_code == 1 and "not empty" in res.output
    assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(src, str(empty)).exit_code == 0
    assert (empty / "wal").is_dir()
    assert _run(src, os.path.join(src, "inside")).exit_code == 1


def test_unknown_format_is_refused_naming_what_it_saw(tmp_path):
    src = extract(VERSIONS[-1], str(tmp_path))
    conn = sqlite3.connect(os.path.join(src, "chroma.sqlite3"))
    conn.execute("INSERT INTO migrations (dir, version, filename, sql, hash) VALUES ('sysdb', 11, 'x', '', '')")
    conn.commit()
    conn.close()
    with pytest.raises(UnsupportedFormatError) as err:
        read_chroma(src)
    assert "sysdb migration 11" in str(err.value) and "newer than chromadb 1.5" in str(err.value)
    res = _run(src, str(tmp_path / "dest"))
    assert res.exit_code == 1 and "sysdb migration 11" in res.output
    assert not (tmp_path / "dest").exists()


def test_a_directory_without_chroma_sqlite3_is_bad_input_not_damage(tmp_path):
    """Passing the wrong directory (here a SedimentDB one) is exit 1 with a hint, not exit 4
    (\"the data is damaged: run verify, then repair\")."""
    wrong = tmp_path / "sediment-data"
    wrong.mkdir()
    (wrong / "wal").mkdir()
    res = _run(str(wrong), str(tmp_path / "dest"))
    assert res.exit_code == 1, res.output
    assert "not a Chroma directory: chroma.sqlite3 is missing" in res.output
    assert "PersistentClient(path=...)" in res.output
    assert not (tmp_path / "dest").exists()
