"""Regenerate the checked-in seed corpora under fuzz/corpus/ (``python fuzz/make_seeds.py``).

Seeds are small valid inputs of every target, produced by the engine's own writers, so the
fuzzers start from the real formats.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import targets  # noqa: E402

from sedimentdb.engine.compactor.manifest import list_manifests  # noqa: E402
from sedimentdb.engine.database import Database  # noqa: E402
from sedimentdb.engine.memfs import MemoryFileSystem  # noqa: E402
from sedimentdb.engine.options import DatabaseOptions  # noqa: E402
from sedimentdb.engine.segments import format as SF  # noqa: E402
from sedimentdb.engine.segments.framing import decode_file  # noqa: E402
from sedimentdb.engine.wal.frames import decode_file_header  # noqa: E402
from sedimentdb.engine.wal.reader import list_log_files, scan_frames  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX = 4096


def _small_db() -> MemoryFileSystem:
    fs = MemoryFileSystem()
    db = Database.open("/s", DatabaseOptions(background_compaction=False), fs=fs)
    cid = db.create_collection("default_tenant", "default_database", "c").id
    rng = np.random.default_rng(0)
    db.add(cid, ["a", "b", "c"], rng.random((3, 2), dtype=np.float32), documents=["x", None, "é"],
           metadatas=[{"g": 1}, None, {"s": "t", "f": 1.5, "l": [1, "x"]}])
    db.update(cid, ["a"], metadatas=[{"g": None, "h": True}])
    db.delete(cid, ids=["b"])
    db.compact()
    db.delete(cid, ids=["c"])
    db.modify_collection(cid, name="d", metadata={"k": 1})
    db.compact()
    db.close()
    return fs


def main() -> None:
    """Write every corpus."""
    fs = _small_db()
    seeds: dict[str, list[bytes]] = {name: [] for name in targets.TARGETS}
    logs = list_log_files(fs, "/s/wal")
    for p in logs:
        data = fs.read_bytes(p)[:MAX]
        for cut in (data, data[:64], data[: len(data) // 2]):
            seeds["wal_header_frame"].append(cut)
            seeds["wal_open"].append(cut)
        header = decode_file_header(fs.read_bytes(p))
        for raw in scan_frames(fs.read_bytes(p), header).records:
            idx = targets.RTYPES.index(raw.rtype) if raw.rtype in targets.RTYPES else 0
            seeds["wal_codec"].append(bytes([idx]) + raw.payload)
    for _gen, path in list_manifests(fs, "/s"):
        blob = fs.read_bytes(path)
        seeds["manifest"].append(blob)
        seeds["manifest"].append(json.dumps({"generation": 1, "db_uuid": "u", "epoch": 0, "catalog_lsn": 0,
                                             "catalog": {}, "collections": {}}).encode())
    for seg in fs.listdir("/s/segments"):
        for name in fs.listdir(f"/s/segments/{seg}"):
            kind = SF.KIND_OF_FILE[name]
            data = fs.read_bytes(f"/s/segments/{seg}/{name}")
            seeds["segment_file"].append(bytes([targets.KINDS.index(kind)]) + data[:MAX])
            body = bytes(decode_file(name, data, kind, None))
            fixed = SF.HEADER_FIXED.unpack_from(data, 0)
            seeds["segment_body"].append(bytes([targets.KINDS.index(kind), fixed[4] % 256,
                                                (fixed[5] - 1) % 16]) + body[:MAX])
    for clause in ([{"g": 1}, None], [{"$and": [{"g": {"$gte": 1}}, {"s": {"$in": ["t", "u"]}}]}, None],
                   [{"$or": [{"l": {"$contains": 1}}, {"h": {"$ne": True}}]}, {"$contains": "x"}],
                   [None, {"$regex": "^h.*d$"}], [{"a": {"$nin": [1, 1.5]}}, {"$not_contains": "b"}],
                   [{"c": {"$not_contains": 2}}, {"$or": [{"$contains": "é"}, {"$not_regex": "a+"}]}]):
        seeds["filters"].append(json.dumps(clause).encode())
    for name, blobs in seeds.items():
        d = os.path.join(HERE, "corpus", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for i, blob in enumerate(blobs):
            with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
                f.write(blob)
        print(name, len(blobs))


if __name__ == "__main__":
    main()
