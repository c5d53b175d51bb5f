"""sediment export / import: JSON lines, bit-exact round trips, bounded batches, conflicts."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import AlreadyExistsError
from sedimentdb.tools.ops.transfer import export_collections, import_collections

from .helpers import SMALL_ID, invoke, snapshot

AWKWARD = np.array([[0.0, -0.0, 1e-45, -3.4028235e38, 1.1754942e-38, 0.1, 1 / 3, 16777217.0]], dtype=np.float32)


def _awkward_db(path: str) -> None:
    db = Database.open(path, DatabaseOptions(background_compaction=False, durability="off"))
    try:
        c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "odd", metadata={"x": 1.0, "y": 1},
                                 configuration={"hnsw": {"space": "cosine", "ef_search": 50}})
        rng = np.random.default_rng(3)
        vecs = np.concatenate([AWKWARD, rng.normal(size=(40, 8)).astype(np.float32) * np.float32(1e-3)])
        db.add(c.id, [f"r{i}" for i in range(41)], vecs,
               [None if i % 3 == 0 else f"doc ünïcode {i} \U0001F600" for i in range(41)],
               [{"int": i, "float": i + 0.5, "bool": i % 2 == 0, "s": "x" * (i % 4), "big": 2 ** 53 + i,
                 "third": 1 / 3} if i % 5 else None for i in range(41)],
               [f"s3://b/{i}" if i % 2 else None for i in range(41)])
        db.compact()
        db.add(c.id, ["late"], vecs[5:6] * 2)
    finally:
        db.close()


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_round_trip_is_bit_exact(tmp_path, encoding):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    _awkward_db(src)
    buf = io.StringIO()
    summary = export_collections(src, buf, encoding=encoding, batch_size=7)
    assert summary.records == 42
    buf.seek(0)
    imported = import_collections(dst, buf, batch_size=5)
    assert imported.records == 42
    assert snapshot(dst) == snapshot(src)  # ids, vector bytes, documents, metadata (int vs float), uris
    again = io.StringIO()
    export_collections(dst, again, encoding=encoding)
    assert again.getvalue() == buf.getvalue()  # same collection id, configuration, order
    header = json.loads(buf.getvalue().splitlines()[0])
    assert header["configuration"] == {"hnsw": {"space": "cosine", "ef_search": 50}}
    assert header["metadata"] == {"x": 1.0, "y": 1} and isinstance(header["metadata"]["x"], float)


def test_cli_export_to_stdout_and_import_from_stdin(db_path, tmp_path, runner):
    res = invoke(runner, "export", db_path, "--collection", "small")
    lines = res.stdout.splitlines()
    assert json.loads(lines[0])["id"] == SMALL_ID and len(lines) == 6
    assert "exported 5 records" in res.stderr
    dst = str(tmp_path / "dst")
    res = invoke(runner, "import", dst, "-", input=res.stdout)
    assert res.exit_code == 0 and "imported 5 records" in res.output
    assert snapshot(dst)[SMALL_ID] == snapshot(db_path)[SMALL_ID]
    again = invoke(runner, "import", dst, "-", input="\n".join(lines) + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    skipped = invoke(runner, "import", dst, "-", "--if-exists", "skip", "--json", input="\n".join(lines) + "\n")
    assert json.loads(skipped.output)["collections"][0]["skipped"] is True


def test_import_append_and_other_database(db_path, tmp_path):
    buf = io.StringIO()
    export_collections(db_path, buf, ["small"])
    dst = str(tmp_path / "dst")
    buf.seek(0)
    import_collections(dst, buf, tenant="t2", database="d2")
    buf.seek(0)
    with pytest.raises(AlreadyExistsError):
        import_collections(dst, buf, tenant="t2", database="d2")
    buf.seek(0)
    s = import_collections(dst, buf, tenant="t2", database="d2", if_exists="append")
    assert s.records == 5  # ids exist already: add ignores them, nothing doubles
    db = Database.open(dst, DatabaseOptions(read_only=True))
    try:
        info = db.get_collection("t2", "d2", "small")
        assert db.count(info.id) == 5
    finally:
        db.close()


def test_export_streams_in_batches(db_path):
    class Sink(io.StringIO):
        writes = 0

        def write(self, s):  # type: ignore[override]
            Sink.writes += 1
            return super().write(s)

    sink = Sink()
    export_collections(db_path, sink, ["docs"], batch_size=100)
    assert Sink.writes >= 12  # header + one write per batch of 100


def test_import_refuses_while_another_process_writes(db_path, runner, other_writer, tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text("")
    res = invoke(runner, "import", db_path, str(f))
    assert res.exit_code == 3
