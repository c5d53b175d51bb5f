"""Read-only clients (Settings(sediment_read_only=True)): they follow the writer and refuse writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import sedimentdb as chromadb
from sedimentdb import errors
from sedimentdb.config import Settings
from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination, Follower, Shipper
from sedimentdb.server.error_responses import status_and_name

WRITER = Settings(sediment_durability="off", allow_reset=True)


def reader_settings(interval: float = 0.0) -> Settings:
    return Settings(sediment_read_only=True, sediment_refresh_interval=interval, allow_reset=True)


def vec(k: float, n: int = 1) -> list[list[float]]:
    return [[float(k)] * 4 for _ in range(n)]


def test_a_read_only_client_sees_the_writable_client_of_the_same_process(tmp_path):
    path = str(tmp_path / "db")
    writer = chromadb.PersistentClient(path, settings=WRITER)
    wcol = writer.create_collection("coll", embedding_function=None)
    wcol.add(ids=["a"], embeddings=vec(1))
    reader = chromadb.PersistentClient(path, settings=reader_settings())
    assert reader.is_read_only and not writer.is_read_only
    assert reader._database_engine is not writer._database_engine  # never the writer's engine
    rcol = reader.get_collection("coll", embedding_function=None)
    assert rcol.count() == 1
    wcol.add(ids=["b", "c"], embeddings=vec(2, 2), documents=["two", "three"])
    assert rcol.count() == 3
    assert rcol.get(ids=["c"])["documents"] == ["three"]
    assert rcol.query(query_embeddings=vec(2), n_results=1)["ids"] == [["b"]]
    writer.create_collection("dddd", embedding_function=None)
    assert sorted(c.name for c in reader.list_collections()) == ["coll", "dddd"]
    # the writer is unaffected: it still writes after the reader is closed
    reader.close()
    wcol.add(ids=["e"], embeddings=vec(3))
    assert wcol.count() == 4
    writer.close()


def test_every_write_is_refused_with_the_operation_named(tmp_path):
    path = str(tmp_path / "db")
    with chromadb.PersistentClient(path, settings=WRITER) as writer:
        writer.create_collection("coll", embedding_function=None).add(ids=["a"], embeddings=vec(1))
        reader = chromadb.PersistentClient(path, settings=reader_settings())
        admin = chromadb.AdminClient(reader_settings().copy(is_persistent=True, persist_directory=path))
        col = reader.get_collection("coll", embedding_function=None)
        attempts = {
            "add": lambda: col.add(ids=["x"], embeddings=vec(1)),
            "update": lambda: col.update(ids=["a"], documents=["d"]),
            "upsert": lambda: col.upsert(ids=["a"], embeddings=vec(1)),
            "delete": lambda: col.delete(ids=["a"]),
            "modify": lambda: col.modify(metadata={"k": 1}),
            "create_collection": lambda: reader.create_collection("newcoll"),
            "get_or_create_collection": lambda: reader.get_or_create_collection("newcoll"),
            "delete_collection": lambda: reader.delete_collection("coll"),
            "reset": reader.reset,
            "create_tenant": lambda: admin.create_tenant("tenant2"),
            "create_database": lambda: admin.create_database("db2"),
            "delete_database": lambda: admin.delete_database("default_database"),
        }
        for op, attempt in attempts.items():
            with pytest.raises(errors.ReadOnlyError) as info:
                attempt()
            assert info.value.message().startswith(f"Cannot {op}: the database is opened read-only"), op
            assert isinstance(info.value, errors.ChromaError)
        # an existing collection is only read by get_or_create
        assert reader.get_or_create_collection("coll", embedding_function=None).count() == 1
        assert col.count() == 1 and writer.list_collections()[0].count() == 1
        admin.close()
        reader.close()


def test_read_only_error_over_http_and_from_the_engine():
    assert status_and_name(errors.read_only("add")) == (403, "ReadOnlyError",
                                                         errors.read_only("add").message())
    assert errors.error_types["ReadOnlyError"] is errors.ReadOnlyError
    from sedimentdb.engine.storage_errors import ReadOnlyError as EngineReadOnly
    assert isinstance(errors.translate(EngineReadOnly("the database is open read-only")), errors.ReadOnlyError)


def test_refreshes_are_paced_by_the_interval(tmp_path):
    path = str(tmp_path / "db")
    with chromadb.PersistentClient(path, settings=WRITER) as writer:
        wcol = writer.create_collection("coll", embedding_function=None)
        slow = chromadb.PersistentClient(path, settings=reader_settings(3600))
        col = slow.get_collection("coll", embedding_function=None)
        wcol.add(ids=["a"], embeddings=vec(1))
        assert col.count() == 0  # refreshed moments ago: not due yet
        fast = chromadb.PersistentClient(path, settings=reader_settings(0))  # shares the read-only engine
        assert fast._database_engine is slow._database_engine
        assert fast.get_collection("coll", embedding_function=None).count() == 1
        assert col.count() == 1  # the shared engine moved on
        fast.close()
        slow.close()


def test_read_only_needs_an_existing_database(tmp_path):
    with pytest.raises(errors.NotFoundError, match="No database to open read-only"):
        chromadb.PersistentClient(str(tmp_path / "nothing"), settings=reader_settings())
    assert not (tmp_path / "nothing").exists()
    with pytest.raises(ValueError, match="needs a persistent client"):
        chromadb.EphemeralClient(settings=reader_settings())
    with pytest.raises(ValueError, match="sediment_refresh_interval"):
        Settings(sediment_refresh_interval=-1)


HOLDER = textwrap.dedent("""
    import sys, time, numpy as np
    from sedimentdb.engine.database import Database, DEFAULT_TENANT, DEFAULT_DATABASE
    from sedimentdb.engine.options import DatabaseOptions
    db = Database.open(sys.argv[1], DatabaseOptions(durability="off"))
    cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "coll").id
    for k in range(3):
        db.add(cid, [f"r{k}"], np.full((1, 4), float(k), dtype=np.float32))
    print("ready", flush=True)
    sys.stdin.readline()
    db.add(cid, ["last"], np.zeros((1, 4), dtype=np.float32))
    print("added", flush=True)
    sys.stdin.readline()
    db.close()
""")


def test_opens_a_directory_another_process_writes(tmp_path):
    path = str(tmp_path / "db")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(errors.InternalError, match="another process .* is writing"):
            chromadb.PersistentClient(path, settings=WRITER)  # the writer lock is held ...
        reader = chromadb.PersistentClient(path, settings=reader_settings())  # ... and a reader needs none
        col = reader.get_collection("coll", embedding_function=None)
        assert col.count() == 3
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "added"
        assert col.count() == 4 and col.get(ids=["last"])["ids"] == ["last"]
        reader.close()
    finally:
        proc.stdin.close()  # the holder's readline returns: it closes the database and exits
        if proc.wait(timeout=30) is None:
            proc.kill()


def test_reads_a_replica_while_the_follower_applies(tmp_path):
    primary_path, replica = str(tmp_path / "primary"), str(tmp_path / "replica")
    archive = DirDestination(str(tmp_path / "archive"), durable=False)
    opts = DatabaseOptions(background_compaction=False, durability="off", wal_roll_bytes=4096)
    primary = Database.open(primary_path, opts)
    cid = primary.create_collection("default_tenant", "default_database", "coll").id
    shipper = Shipper(primary_path, archive)
    shipper.ship_round(snapshot=True)
    follower = Follower(archive, replica, options=opts)
    follower.start()
    stop = threading.Event()
    failures: list[BaseException] = []

    def follow() -> None:
        try:
            steps = 0
            while not stop.is_set():
                if follower.step():
                    steps += 1
                    if steps % 5 == 0:
                        follower.db.compact()  # the replica compacts too: readers reload
                time.sleep(0.01)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    reader = chromadb.PersistentClient(replica, settings=reader_settings())
    try:
        col = reader.get_collection("coll", embedding_function=None)
        seen = 0
        for k in range(20):
            primary.add(cid, [f"r{k}"], np.full((1, 4), float(k), dtype=np.float32), documents=[f"doc {k}"])
            if k % 7 == 6:
                primary.compact()
            shipper.ship_round()
            deadline = time.monotonic() + 10
            while col.count() < k + 1 and time.monotonic() < deadline:
                assert col.count() >= seen  # never backwards
                time.sleep(0.01)
            seen = col.count()
            assert seen == k + 1, failures
        assert col.get(ids=["r19"])["documents"] == ["doc 19"]
        assert reader._database_engine.manifests[-1].generation > 1  # it reloaded after replica compactions
        with pytest.raises(errors.ReadOnlyError, match="Cannot add"):
            col.add(ids=["x"], embeddings=vec(0))
    finally:
        stop.set()
        thread.join(timeout=10)
        reader.close()
        follower.close()
        primary.close()
    assert not failures


def test_reads_a_replica_that_sediment_follow_writes(tmp_path):
    import os

    primary_path, arch, replica = (str(tmp_path / n) for n in ("primary", "archive", "replica"))
    primary = Database.open(primary_path, DatabaseOptions(durability="off", background_compaction=False))
    cid = primary.create_collection("default_tenant", "default_database", "coll").id
    shipper = Shipper(primary_path, DirDestination(arch, durable=False))
    shipper.ship_round(snapshot=True)
    sediment = os.path.join(os.path.dirname(sys.executable), "sediment")
    proc = subprocess.Popen([sediment, "follow", "--from", arch, replica, "--interval", "0.05"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reader = None
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(replica, "replication", "replica.json")):
            assert time.monotonic() < deadline and proc.poll() is None, "the follower did not bootstrap"
            time.sleep(0.05)
        reader = chromadb.PersistentClient(replica, settings=reader_settings())
        col = reader.get_collection("coll", embedding_function=None)
        for k in range(10):
            primary.add(cid, [f"r{k}"], np.ones((1, 4), dtype=np.float32))
            shipper.ship_round()
            while col.count() < k + 1:
                assert time.monotonic() < deadline and proc.poll() is None, "the follower stopped or lagged"
                time.sleep(0.02)
        assert sorted(col.get()["ids"]) == sorted(f"r{k}" for k in range(10))
    finally:
        if reader is not None:
            reader.close()
        proc.terminate()
        proc.wait(timeout=30)
        primary.close()
