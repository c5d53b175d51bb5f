"""The floor under ``sediment migrate-from-chroma``: CPU that any migration of the source must spend.

Run with the Python that has SedimentDB installed, on a Chroma directory made by
``bench/migrate.py`` (default: the 100k x 384 one it keeps in /tmp)::

    .venv/bin/python bench/migrate_floor.py [CHROMA_DIR]

Each step is the least a migration can do for that part, timed alone (CPU seconds = user +
system of this process, ``getrusage``; the interpreter's start-up in a child process):

* start-up: a Python with numpy and the C extensions a migration needs imported (the floor),
  next to a bare ``python -c pass`` and to SedimentDB's migration code imported (what the
  command loads today before it reads a byte; not counted in the floor);
* SQLite: a scan of the metadata table inside SQLite (no rows to Python), then the rows
  fetched into Python (one tuple each), which is what reading them costs at the least;
* vectors: one strided copy of every live vector out of ``data_level0.bin`` (read once);
* log + segment: writing the vectors' bytes to two files with one fdatasync each (the
  database keeps a log record and a segment: both are written);
* digests: sha256 of the vectors twice (source and destination side of the verification).

Nothing asserts on the figures; they go in bench/README.md with the load (``uptime``).
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _child(code: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _timed(figures: dict[str, float], name: str, step):  # type: ignore[no-untyped-def]
    start = _cpu()
    out = step()
    figures[name] = round(_cpu() - start, 3)
    return out


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(),
                                                             "sediment-bench-chroma-100000x384")
    from sedimentdb.tools.chroma.hnsw_files import read_vectors

    figures: dict[str, float] = {
        "python -c pass": round(_child("pass"), 3),
        "start-up: numpy, sqlite3, zstd, crc32c": round(_child("import numpy, sqlite3, zstandard, crc32c"), 3),
        "start-up: SedimentDB's migration code": round(_child("import sedimentdb.tools.ops.migrate"), 3)}
    conn = sqlite3.connect(f"file:{os.path.join(src, 'chroma.sqlite3')}?mode=ro", uri=True)
    _timed(figures, "sqlite scan (in SQLite)", lambda: conn.execute(
        "SELECT count(*), sum(length(key)), sum(length(string_value)) FROM embedding_metadata").fetchall())
    rows = _timed(figures, "sqlite rows to Python", lambda: conn.execute(
        "SELECT id, key, COALESCE(string_value, int_value, float_value, bool_value) FROM embedding_metadata"
    ).fetchall())
    figures["metadata rows"] = len(rows)
    del rows
    segment = next(os.path.join(src, d) for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    dim = int(conn.execute("SELECT dimension FROM collections").fetchone()[0])
    hv = read_vectors(segment, dim)
    vectors = _timed(figures, "vectors copied out once", lambda: hv.gather(np.arange(len(hv.labels)), False))
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(src))) as tmp:
        def write_twice() -> None:
            for name in ("log", "segment"):
                fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, memoryview(vectors.reshape(-1)).cast("B"))
                os.fdatasync(fd)
                os.close(fd)
        _timed(figures, "vectors written twice + fdatasync", write_twice)
    _timed(figures, "sha256 of the vectors twice", lambda: [hashlib.sha256(vectors).digest() for _ in range(2)])
    figures["vector MB"] = round(vectors.nbytes / 1e6, 1)
    floor = sum(v for k, v in figures.items() if k not in ("python -c pass", "metadata rows", "vector MB",
                                                              "sqlite scan (in SQLite)",
                                                              "start-up: SedimentDB's migration code"))
    figures["sum (floor)"] = round(floor, 2)
    for k, v in figures.items():
        print(f"{k:36} {v}")
    print("load", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
