"""Helpers for the tool tests: real data directories built by the engine, byte editors, golden files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.cli import cli

DOCS_ID = "00000000-0000-4000-8000-000000000001"
SMALL_ID = "00000000-0000-4000-8000-000000000002"
N_DOCS = 1200
DIM = 8


def build_db(path: str, *, n: int = N_DOCS, tail: int = 3, retain_wal: bool = True, seed: int = 0) -> None:
    """A data directory: collection 'docs' (n rows in a graph segment, 2 deleted, ``tail`` rows
    logged after the checkpoint) and collection 'small' (5 rows, no graph)."""
    rng = np.random.default_rng(seed)
    opts = DatabaseOptions(background_compaction=False, retain_wal=retain_wal, durability="off")
    db = Database.open(path, opts)
    try:
        docs = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "docs", id=DOCS_ID,
                                    metadata={"topic": "tests"}, configuration={"hnsw": {"space": "l2"}})
        small = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "small", id=SMALL_ID)
        for start in range(0, n, 600):
            m = min(600, n - start)
            db.add(docs.id, [f"id{i}" for i in range(start, start + m)],
                   rng.normal(size=(m, DIM)).astype(np.float32), [f"document {i}" for i in range(start, start + m)],
                   [{"i": i, "even": i % 2 == 0, "score": i / 7} for i in range(start, start + m)])
        db.add(small.id, [f"s{i}" for i in range(5)], rng.normal(size=(5, DIM)).astype(np.float32),
               uris=[f"file:///s{i}" for i in range(5)])
        db.compact()
        db.delete(docs.id, ["id1", "id2"])
        for k in range(tail):
            db.add(docs.id, [f"tail{k}"], rng.normal(size=(1, DIM)).astype(np.float32), [f"tail document {k}"])
    finally:
        db.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("template") / "db")
    build_db(path)
    return path


@pytest.fixture
def db_path(template_db: str, tmp_path) -> str:
    """A fresh copy of the template data directory."""
    dest = str(tmp_path / "db")
    shutil.copytree(template_db, dest)
    return dest


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None):
    """Run ``sediment ARGS`` in-process."""
    return runner.invoke(cli, list(args), input=input, catch_exceptions=False)


def log_file(path: str) -> str:
    wal = os.path.join(path, "wal")
    return os.path.join(wal, sorted(n for n in os.listdir(wal) if n.endswith(".log"))[0])


def flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def segment_dir(path: str, collection_id: str = DOCS_ID) -> str:
    """The directory of the (first) live segment of a collection, per the newest manifest."""
    from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
    from sedimentdb.engine.fileio import OsFileSystem
    fs = OsFileSystem()
    m = read_manifest(fs, list_manifests(fs, path)[-1][1])
    sid = m.collections[collection_id]["segments"][0]["descriptor"]["segment_id"]
    return os.path.join(path, "segments", sid)


def tree_digest(path: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = f.read()
    return out


def normalise(text: str, path: str) -> str:
    """Golden-file form: no paths, uuids, segment ids, times, durations or byte counts that vary."""
    text = text.replace(os.path.realpath(path), "<PATH>").replace(path, "<PATH>")
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<UUID>", text)
    text = re.sub(r"\b[0-9a-f]{32}\b", "<SEGMENT>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<TIME>", text)
    text = re.sub(r"repair-\d{8}T\d{6}Z", "repair-<TIME>", text)
    text = re.sub(r"\d+\.\d+s\b", "<SECONDS>s", text)
    # byte counts and offsets depend on the engine's encodings, which other work may change
    text = re.sub(r"-?\d+(\.\d)? (B|KiB|MiB|GiB)\b", "<SIZE>", text)
    text = re.sub(r" +<SIZE>", " <SIZE>", text)
    text = re.sub(r"(\.log):\d+", r"\1:<OFFSET>", text)
    text = re.sub(r"offset \d+", "offset <OFFSET>", text)
    return text


GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with golden/<name>; SEDIMENT_UPDATE_GOLDEN=1 rewrites it."""
    path = os.path.join(GOLDEN, name)
    if os.environ.get("SEDIMENT_UPDATE_GOLDEN") or not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        assert text == f.read(), f"output differs from golden/{name} (SEDIMENT_UPDATE_GOLDEN=1 to accept)"


@pytest.fixture
def other_writer(db_path: str) -> Iterator[subprocess.Popen]:
    """Another process holding the writer lock of ``db_path`` (and appending slowly)."""
    code = (
        "import sys, time, numpy as np, structlog\n"
        "structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))\n"
        "from sedimentdb.engine.database import Database\n"
        "from sedimentdb.engine.options import DatabaseOptions\n"
        "db = Database.open(sys.argv[1], DatabaseOptions(background_compaction=False))\n"
        f"cid = {DOCS_ID!r}\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while sys.stdin.readline():\n"
        "    db.add(cid, [f'live{i}'], np.full((1, 8), float(i), np.float32)); i += 1\n"
        "    print('wrote', i, flush=True)\n"
        "db.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, db_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    time.sleep(0)


def write_one(proc: subprocess.Popen) -> None:
    """Ask the other writer for one more record and wait until it is durable."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("wrote")


def record_offset(path: str, lsn: int) -> int:
    """Byte offset of the record ``lsn`` in the (single) log file."""
    from sedimentdb.tools.ops.wal import read_records
    return next(r.offset for r in read_records(path, from_lsn=lsn, to_lsn=lsn))


def snapshot(path: str) -> dict:
    """Every live record of every collection (exact bytes of vectors), read-only."""
    from sedimentdb.engine.engine_types import Include
    from sedimentdb.tools.ops.common import open_read_only
    db = open_read_only(path)
    try:
        out = {}
        inc = Include(embeddings=True, documents=True, metadatas=True, uris=True)
        for cid in db.collections:
            r = db.get(cid, include=inc)
            out[cid] = [(r.ids[k], r.embeddings[k].tobytes(), r.documents[k], r.metadatas[k], r.uris[k])
                        for k in range(len(r.ids))]
        return out
    finally:
        db.close()
