"""Make Chroma persist directories with the REAL chromadb, and record what chromadb reads back.

Run with any Python 3.10+ (stdlib only here); it builds a venv per chromadb version and runs
itself inside it::

    python tests/tools/migrate/make_fixtures.py 1.5.9 [--venv /tmp/c159] [--out tests/tools/migrate/fixtures]
    python tests/tools/migrate/make_fixtures.py 1.5.9 --random SEED --records N --dest DIR   # differential

Each fixture is ``chroma-<version>.tar.gz`` (the directory, frozen after the writer exited) and
``chroma-<version>.expected.json``: for every collection its tenant, database, name, id,
metadata, configuration and every record as ``get(include=[...])`` returns it (embeddings as
base64 of the float32 bytes, bit-exact). The expected state is read in a separate process from
a copy, so the frozen directory is exactly what the writer left (Chroma's first read can
persist the HNSW index).

Content: the three spaces; every metadata type (str, int, float, bool, lists of each);
documents; uris; tenants ``acme`` and ``default_tenant`` with several databases; updates
(metadata merge, key deletion, new embedding), upserts, deletes; a collection whose index
was persisted twice and whose newest records are only in the log (small ``sync_threshold``);
one that never reached the threshold (no HNSW directory at all); a deleted collection (its
directory is left behind); and a collection with an embedding function configured.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _venv(version: str, venv: str | None) -> str:
    venv = venv or os.path.join(tempfile.gettempdir(), f"chroma-{version}-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"chromadb=={version}"], check=True)
    return py


def _vec(rng: random.Random, dim: int) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(dim)]


def write_fixture(path: str) -> None:
    """(In the chromadb venv) the fixed fixture content."""
    import chromadb
    from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

    rng = random.Random(7)
    version = tuple(int(x) for x in chromadb.__version__.split(".")[:2])
    arrays = version >= (1, 5)  # list values: 1.5+
    modern = version >= (1, 0)  # None deletes a key; configuration={"hnsw": ...}
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=path))
    admin.create_tenant("acme")
    admin.create_database("prod", tenant="acme")
    admin.create_database("other", tenant="default_tenant")
    client = chromadb.PersistentClient(path=path)
    dim = 8
    for space in ("l2", "ip", "cosine"):
        col = client.create_collection(f"space-{space}", metadata={"hnsw:space": space, "owner": "fixtures",
                                                                  "version": 3, "ratio": 0.5, "public": True},
                                       embedding_function=None)
        ids = [f"{space}-{i}" for i in range(40)]
        metas = []
        for i in range(40):
            m = {"i": i, "neg": -i * 1000003, "f": i / 7, "s": f"str-{i}", "b": i % 2 == 0, "uni": "naïve ☃"}
            if i % 3 == 0 and arrays:
                m.update({"tags": ["a", f"t{i}"], "nums": [i, i + 1, -5], "fl": [0.25, i / 3], "bs": [True, False]})
            if i % 5 == 4:
                m = None
            metas.append(m)
        docs = [f"document {i} of {space}" if i % 4 else None for i in range(40)]
        uris = [f"s3://bucket/{space}/{i}" if i % 6 == 1 else None for i in range(40)]
        col.add(ids=ids, embeddings=[_vec(rng, dim) for _ in ids], metadatas=metas, documents=docs, uris=uris)
        col.update(ids=ids[:5], metadatas=[{"i": 100 + k, "added": "yes", **({"s": None} if modern else {})}
                                           for k in range(5)])
        col.update(ids=ids[5:8], embeddings=[_vec(rng, dim) for _ in range(3)], documents=["new"] * 3)
        col.upsert(ids=[ids[8], f"{space}-new"], embeddings=[_vec(rng, dim) for _ in range(2)],
                   metadatas=[{"upserted": 1.0}, {"upserted": 2.5}], documents=["up-old", "up-new"])
        col.delete(ids=ids[10:14])
        col.update(ids=[ids[15]], embeddings=[[0.0] * dim])  # a zero vector (cosine norm 0)
    # Small sync threshold: persisted at 50 and 100 operations, the rest only in the log.
    if modern:
        log = client.create_collection("log-tail", configuration={"hnsw": {"space": "cosine", "sync_threshold": 50,
                                                                           "batch_size": 50}},
                                       embedding_function=None)
    else:
        log = client.create_collection("log-tail", metadata={"hnsw:space": "cosine", "hnsw:sync_threshold": 50,
                                                             "hnsw:batch_size": 20}, embedding_function=None)
    for start in range(0, 130, 10):
        ids = [f"L{i}" for i in range(start, start + 10)]
        log.add(ids=ids, embeddings=[_vec(rng, dim) for _ in ids], metadatas=[{"n": i} for i in range(10)])
    log.delete(ids=["L3", "L120"])
    log.update(ids=["L5", "L125"], embeddings=[_vec(rng, dim), _vec(rng, dim)],
               metadatas=[{"n": None} if modern else {"n": -1}, {"x": 1}])
    # Never reached the threshold: no HNSW directory, everything in the log.
    small = client.create_collection("never-persisted", metadata={"hnsw:space": "ip"}, embedding_function=None)
    small.add(ids=["a", "b", "c"], embeddings=[_vec(rng, 16) for _ in range(3)], documents=["x", "y", None])
    client.create_collection("empty", embedding_function=None)
    # An embedding function configured (embeddings passed explicitly: nothing is downloaded).
    ef = client.create_collection("with-ef", embedding_function=DefaultEmbeddingFunction(),
                                  metadata={"about": "ef"})
    ef.add(ids=["e1", "e2"], embeddings=[_vec(rng, 384), _vec(rng, 384)], documents=["one", "two"])
    gone = client.create_collection("deleted", embedding_function=None)
    gone.add(ids=[f"g{i}" for i in range(1100)], embeddings=[_vec(rng, dim) for _ in range(1100)])
    client.delete_collection("deleted")
    other = chromadb.PersistentClient(path=path, tenant="default_tenant", database="other")
    other.create_collection("space-l2", embedding_function=None).add(ids=["o1"], embeddings=[_vec(rng, dim)],
                                                                      metadatas=[{"db": "other"}])
    acme = chromadb.PersistentClient(path=path, tenant="acme", database="prod")
    acme.create_collection("acme-docs", metadata={"hnsw:space": "cosine"}, embedding_function=None).add(
        ids=["p1", "p2"], embeddings=[_vec(rng, dim), _vec(rng, dim)], documents=["prod one", "prod two"],
        metadatas=[{"k": "v"}, {"k": "w", "arr": [1.5, 2.5]} if arrays else {"k": "w"}])


def write_random(path: str, seed: int, records: int, dim: int) -> None:
    """(In the chromadb venv) random operations over a few collections (the differential test)."""
    import chromadb

    rng = random.Random(seed)
    arrays = tuple(int(x) for x in chromadb.__version__.split(".")[:2]) >= (1, 5)
    client = chromadb.PersistentClient(path=path)
    for c in range(rng.randint(1, 3)):
        space = rng.choice(["l2", "ip", "cosine"])
        cfg = {"hnsw": {"space": space, "sync_threshold": rng.choice([10, 100, 1000]), "batch_size": 10}}
        col = client.create_collection(f"rand-{c}", configuration=cfg, embedding_function=None)
        live: list[str] = []
        n = 0
        while n < records:
            k = rng.randint(1, 50)
            ids = [f"r{n + i}" for i in range(k)]
            metas = [rng.choice([None, {"x": rng.randint(-9, 9)}, {"y": rng.random(), "s": "v" * rng.randint(0, 3)},
                                 {"l": [rng.randint(0, 3) for _ in range(rng.randint(1, 3))] if arrays else 1,
                                  "b": rng.random() < .5}])
                     for _ in ids]
            col.add(ids=ids, embeddings=[_vec(rng, dim) for _ in ids], metadatas=metas,
                    documents=[rng.choice([None, f"doc {i}"]) for i in ids])
            live += ids
            n += k
            op = rng.random()
            if op < 0.3 and live:
                gone = rng.sample(live, min(len(live), rng.randint(1, 10)))
                col.delete(ids=gone)
                live = [i for i in live if i not in set(gone)]
            elif op < 0.6 and live:
                some = rng.sample(live, min(len(live), rng.randint(1, 10)))
                col.update(ids=some, embeddings=[_vec(rng, dim) for _ in some],
                           metadatas=[{"x": None, "u": rng.randint(0, 5)} for _ in some])
            elif op < 0.8 and live:
                some = rng.sample(live, min(len(live), 3)) + [f"up{n}"]
                col.upsert(ids=some, embeddings=[_vec(rng, dim) for _ in some],
                           metadatas=[{"up": True} for _ in some], documents=["u"] * len(some))
                live.append(f"up{n}")


def read_expected(path: str) -> dict:
    """(In the chromadb venv) everything chromadb reads back from ``path``."""
    import chromadb
    import numpy as np

    out: dict = {"chromadb": chromadb.__version__, "collections": []}
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=path))
    for tenant in ("default_tenant", "acme"):
        for db in admin.list_databases(tenant=tenant):
            db_name = db["name"] if isinstance(db, dict) else db.name
            client = chromadb.PersistentClient(path=path, tenant=tenant, database=db_name)
            for listed in client.list_collections():
                # 0.6 lists names only
                col = client.get_collection(listed if isinstance(listed, str) else listed.name,
                                            embedding_function=None)
                got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
                embs = got["embeddings"]
                out["collections"].append({
                    "tenant": tenant, "database": db_name, "name": col.name, "id": str(col.id),
                    "metadata": col.metadata, "configuration": getattr(col, "configuration_json", None),
                    "count": col.count(), "ids": got["ids"],
                    "embeddings": [base64.b64encode(np.asarray(e, dtype="<f4").tobytes()).decode()
                                   for e in (embs if embs is not None else [])],
                    "documents": got["documents"], "metadatas": got["metadatas"], "uris": got["uris"],
                })
    return out


def _inner(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    if mode == "write":
        write_fixture(path)
    elif mode == "random":
        write_random(path, int(argv[2]), int(argv[3]), int(argv[4]))
    else:
        with open(argv[2], "w") as f:
            json.dump(read_expected(path), f, indent=1, sort_keys=True, default=str)


def make(version: str, venv: str | None, out: str, random_seed: int | None = None, records: int = 300,
         dim: int = 8, dest: str | None = None) -> tuple[str, str]:
    """Write a Chroma directory with chromadb ``version``; returns (frozen dir or tarball, expected json)."""
    py = _venv(version, venv)
    work = tempfile.mkdtemp(prefix="chroma-fixture-")
    try:
        src = os.path.join(work, "chroma")
        me = os.path.abspath(__file__)
        if random_seed is None:
            subprocess.run([py, me, "--inner", "write", src], check=True)
        else:
            subprocess.run([py, me, "--inner", "random", src, str(random_seed), str(records), str(dim)], check=True)
        frozen = dest or os.path.join(work, "frozen")
        shutil.copytree(src, frozen)
        reading = os.path.join(work, "reading")
        shutil.copytree(src, reading)
        os.makedirs(out, exist_ok=True)
        name = f"chroma-{version}" if random_seed is None else f"random-{version}-{random_seed}"
        expected = os.path.join(out, f"{name}.expected.json")
        subprocess.run([py, me, "--inner", "read", reading, expected], check=True)
        if dest is not None:
            return dest, expected
        tarball = os.path.join(out, f"{name}.tar.gz")
        with tarfile.open(tarball, "w:gz") as tar:
            tar.add(frozen, arcname="chroma")
        return tarball, expected
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        _inner(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("version", help="chromadb version, e.g. 1.5.9")
    ap.add_argument("--venv", help="venv with that chromadb (made if missing)")
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures"))
    ap.add_argument("--random", type=int, default=None, help="random content with this seed")
    ap.add_argument("--records", type=int, default=300)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--dest", default=None, help="leave the frozen directory here instead of a tarball")
    args = ap.parse_args()
    print(*make(args.version, args.venv, args.out, args.random, args.records, args.dim, args.dest))


if __name__ == "__main__":
    main()
