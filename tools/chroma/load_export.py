"""The way back: load a ``sediment export`` stream into Chroma, with Chroma's own client.

Standalone on purpose (standard library + chromadb, no sedimentdb import), so it runs in any
environment that has chromadb; copy the file if sedimentdb is not installed there::

    sediment export ./sediment-data --encoding base64 -o data.jsonl
    python -m sedimentdb.tools.chroma.load_export data.jsonl ./chroma-data      # or: python load_export.py ...

Each collection is created in its tenant and database (created when missing) with its
metadata, its HNSW configuration (space and parameters) and its embedding function when
chromadb knows it by name; records keep ids, float32 embeddings, documents, metadata, uris.
"""

from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
from typing import Any

BATCH = 1000
HNSW_CREATE_KEYS = ("space", "ef_construction", "ef_search", "max_neighbors", "resize_factor", "sync_threshold")


def _embedding(value: Any, encoding: str) -> list[float]:
    if isinstance(value, str) or encoding == "base64":
        raw = base64.b64decode(value)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return [float(x) for x in value]


def _create(chromadb: Any, path: str, header: dict[str, Any]) -> Any:
    tenant, database = header.get("tenant") or "default_tenant", header.get("database") or "default_database"
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=path))
    try:
        admin.get_tenant(tenant)
    except Exception:
        admin.create_tenant(tenant)
    try:
        admin.get_database(database, tenant=tenant)
    except Exception:
        admin.create_database(database, tenant=tenant)
    client = chromadb.PersistentClient(path=path, tenant=tenant, database=database)
    conf = header.get("configuration") or {}
    hnsw = {k: v for k, v in (conf.get("hnsw") or {}).items() if k in HNSW_CREATE_KEYS and v is not None}
    ef = None
    ef_conf = conf.get("embedding_function")
    if isinstance(ef_conf, dict) and ef_conf.get("type") == "known":
        from chromadb.utils.embedding_functions import config_to_embedding_function

        try:
            ef = config_to_embedding_function(ef_conf)
        except Exception as exc:  # unknown name or missing package: keep the data, say what was lost
            print(f"collection {header['name']!r}: embedding function {ef_conf.get('name')!r} not restored: {exc}",
                  file=sys.stderr)
    # Chroma refuses hnsw:* metadata beside a configuration; the configuration carries them.
    metadata = {k: v for k, v in (header.get("metadata") or {}).items() if not k.startswith("hnsw:")} or None
    return client.create_collection(header["name"], metadata=metadata,
                                    configuration={"hnsw": hnsw} if hnsw else None, embedding_function=ef)


def load(stream: Any, path: str) -> dict[str, int]:
    """Load the JSON lines in ``stream`` into the Chroma directory ``path``; records per collection."""
    import chromadb

    counts: dict[str, int] = {}
    col, encoding, batch, key = None, "float", [], ""

    def flush() -> None:
        nonlocal key
        if col is not None and batch:
            col.add(ids=[r["id"] for r in batch], embeddings=[_embedding(r["embedding"], encoding) for r in batch],
                    documents=[r.get("document") for r in batch], metadatas=[r.get("metadata") or None for r in batch],
                    uris=[r.get("uri") for r in batch])
            counts[key] = counts.get(key, 0) + len(batch)
            batch.clear()

    for line_no, line in enumerate(stream, 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("type") == "collection":
            flush()
            col, encoding = _create(chromadb, path, obj), obj.get("embedding_encoding", "float")
            key = f"{obj.get('tenant')}/{obj.get('database')}/{obj['name']}"
            counts[key] = 0
        elif obj.get("type") == "record":
            if col is None:
                raise ValueError(f"line {line_no}: a record before any collection header")
            batch.append(obj)
            if len(batch) >= BATCH:
                flush()
        else:
            raise ValueError(f"line {line_no}: unknown line type {obj.get('type')!r}")
    flush()
    return counts


def main() -> None:
    """``python -m sedimentdb.tools.chroma.load_export EXPORT.jsonl CHROMA_DIR``."""
    ap = argparse.ArgumentParser(description="Load a `sediment export` stream into a Chroma directory.")
    ap.add_argument("export", help="the JSON lines file ('-' = stdin)")
    ap.add_argument("chroma_dir", help="Chroma persist directory (created if missing)")
    args = ap.parse_args()
    with (sys.stdin if args.export == "-" else open(args.export, encoding="utf-8")) as f:
        counts = load(f, args.chroma_dir)
    for name, n in counts.items():
        print(f"  {name}: {n} records", file=sys.stderr)
    print(json.dumps({"collections": counts, "records": sum(counts.values())}))


if __name__ == "__main__":
    main()
