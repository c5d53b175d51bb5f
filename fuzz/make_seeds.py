"""Regenerate the checked-in seed corpora under fuzz/corpus/ (``python fuzz/make_seeds.py [TARGET ...]``).

Seeds are small valid inputs of every target, produced by the engine's own writers, so the
fuzzers start from the real formats. Naming targets regenerates only theirs (the engine's
files carry a fresh database UUID each time, so a full run rewrites every binary seed).
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


def _http_seeds() -> list[bytes]:
    """Valid Chroma request bodies for each endpoint of ``http_body``, then malformed ones."""
    ep = {name: i for i, name in enumerate(targets.HTTP_ENDPOINTS)}
    records = {"ids": ["a", "n1"], "embeddings": [[1.0, 2.0, 3.0], [0.5, -1.0, 2.5]],
               "documents": ["hello", None], "metadatas": [{"g": 2, "s": "u"}, None], "uris": [None, "s3://x"]}
    bodies: list[tuple[str, object]] = [
        ("add", records), ("add", {"ids": ["b64"], "embeddings": ["AACAPwAAAEAAAEBA"]}),
        ("update", {"ids": ["a"], "metadatas": [{"g": None, "h": True, "l": [1, 2]}]}),
        ("upsert", records), ("upsert", {"ids": ["z"], "embeddings": [[0, 0, 0]], "documents": ["é☃"]}),
        ("delete", {"ids": ["b"]}), ("delete", {"where": {"g": {"$gte": 1}}, "limit": 1}),
        ("delete", {"where_document": {"$contains": "hello"}}),
        ("get", {}), ("get", {"ids": ["a", "c"], "include": ["embeddings", "metadatas", "documents", "uris"]}),
        ("get", {"where": {"$and": [{"g": {"$in": [1, 2]}}, {"s": {"$ne": "t"}}]}, "limit": 2, "offset": 1}),
        ("get", {"where": {"l": {"$contains": 1}}, "where_document": {"$regex": "^h"}}),
        ("query", {"query_embeddings": [[1.0, 2.0, 3.0]], "n_results": 2}),
        ("query", {"query_embeddings": [[0, 1, 2], [3, 3, 3]], "ids": ["a", "c"],
                   "include": ["distances", "embeddings"], "where": {"g": 1}}),
        ("create", {"name": "seed-coll", "metadata": {"k": 1}, "get_or_create": True}),
        ("create", {"name": "seed-cos", "configuration": {"hnsw": {"space": "cosine", "ef_search": 20}}}),
        ("modify", {"new_metadata": {"k": "v"}}), ("modify", {"new_configuration": {"hnsw": {"ef_search": 50}}}),
        ("modify", {"new_name": "fuzz-renamed"}),
    ]
    out = [bytes([ep[name]]) + json.dumps(body).encode() for name, body in bodies]
    malformed = [("add", b'{"ids": ["a"], "embeddings": [[1, 2]]}'), ("add", b'{"ids": []}'),
                 ("update", b'{"ids": ["a", "a"], "embeddings": [[1, 2, 3], [1, 2, 3]]}'),
                 ("upsert", b'{"ids": ["q"], "embeddings": ["not base64!"]}'),
                 ("get", b'{"where": {"$or": []}}'), ("get", b'{"limit": -1}'),
                 ("query", b'{"query_embeddings": [[1e400, 0, 0]]}'), ("query", b'{"query_embeddings": []}'),
                 ("delete", b'{"where": {"a": {"$regex": 1}}}'), ("create", b'{"name": "x"}'),
                 ("modify", b'{"new_name": 7}'), ("get", b'{"ids": [1'), ("query", b'[]'), ("add", b'')]
    out += [bytes([ep[name]]) + body for name, body in malformed]
    return out


def main() -> None:
    """Write the corpora of the targets named on the command line, or every corpus."""
    only = set(sys.argv[1:]) or set(targets.TARGETS)
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
    seeds["http_body"] = _http_seeds()
    for name, blobs in seeds.items():
        if name not in only:
            continue
        d = os.path.join(HERE, "corpus", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for i, blob in enumerate(blobs):
            with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
                f.write(blob)
        print(name, len(blobs))


if __name__ == "__main__":
    main()
