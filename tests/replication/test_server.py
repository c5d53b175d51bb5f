"""Replication through ``sediment run``: --replicate, the archive routes, followers over HTTP, --read-only.

Every server is a real ``sediment run`` child process on 127.0.0.1 and a free port
(tests/http/server_process.py), stopped at the end of its test.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sedimentdb as ours
from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination, open_destination, restore, state_digest
from sedimentdb.engine.replication.follower import read_position
from sedimentdb.engine.replication.http_destination import HttpDestination
from sedimentdb.engine.storage_errors import StorageError
from tests.http.server_process import ServerProcess
from tests.replication.workload import Workload

ROUTE = "/api/v2/sediment"


def digest_of(path: Path) -> Any:
    """The state digest of a closed data directory."""
    db = Database.open(str(path), DatabaseOptions(read_only=True, background_compaction=False))
    try:
        return state_digest(db)
    finally:
        db.close()


def write_random(client: Any, name: str, rng: random.Random, batches: int, pause: float = 0.0) -> None:
    """Adds, upserts, updates and deletes in a random mix, each batch acknowledged before the next."""
    col = client.get_or_create_collection(name, embedding_function=None)
    next_id = 0
    for _ in range(batches):
        op = rng.random()
        if op < 0.5 or next_id < 10:
            ids = [f"r{next_id + i}" for i in range(rng.randint(1, 8))]
            next_id += len(ids)
            col.add(ids=ids, embeddings=[[rng.random(), rng.random(), rng.random()] for _ in ids],
                    documents=[f"doc {i}" for i in ids], metadatas=[{"n": rng.randint(0, 9)} for _ in ids])
        elif op < 0.7:
            ids = [f"r{i}" for i in rng.sample(range(next_id), 3)]
            col.upsert(ids=ids, embeddings=[[rng.random(), 0.0, 1.0] for _ in ids], metadatas=[{"u": 1}] * 3)
        elif op < 0.85:
            col.update(ids=[f"r{rng.randrange(next_id)}"], documents=["updated"], embeddings=[[0.5, 0.5, 0.5]])
        else:
            col.delete(ids=[f"r{rng.randrange(next_id)}"])
        if pause:
            time.sleep(pause)


class FollowerProcess:
    """``sediment follow --from URL PATH`` as a child process."""

    def __init__(self, source: str, path: Path, log_path: Path, interval: float = 0.2) -> None:
        self.command = [sys.executable, "-m", "sedimentdb", "follow", "--from", source, str(path),
                        "--interval", str(interval)]
        self.path = path
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FollowerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def lsn(self) -> int:
        pos = read_position(str(self.path)) if (self.path / "replication").exists() else None
        return pos.lsn if pos else 0

    def wait_for(self, lsn: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.lsn() < lsn:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"follower exited {self.process.returncode}:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"replica at {self.lsn()}, not {lsn}:\n{self.log_path.read_text()}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGINT) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        return self.process.returncode


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Everything a test starts; killed at the end whatever happened."""
    started: list[Any] = []
    yield started
    for proc in started:
        if isinstance(proc, ServerProcess):
            proc.kill()
        elif proc.process is not None and proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(timeout=10)


def status(server: ServerProcess, **headers: str) -> dict[str, Any]:
    """GET /api/v2/sediment/replication."""
    response = httpx.get(server.url + ROUTE + "/replication", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_replicate_ships_everything_acknowledged_before_sigterm(tmp_path: Path, processes: list[Any]) -> None:
    """A long interval: the writes reach the archive only through the last round on SIGTERM; a
    restore of the archive then equals the primary (same LSN, same digest)."""
    arch = tmp_path / "archive"
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log",
                           args=("--replicate", str(arch), "--replicate-interval", "600"))
    processes.append(server.start())
    client = ours.HttpClient(host="127.0.0.1", port=server.port)
    write_random(client, "things", random.Random(1), 40)
    state = status(server)
    assert state["role"] == "primary" and state["destination"] == str(arch)
    assert state["shipper"]["running"] and not state["shipper"]["fenced"]
    assert state["shipper"]["lag_records"] > 0  # written after the first round, not shipped yet
    client.close()
    assert server.stop() == 0
    assert "replication stopped" in server.log()

    restore(DirDestination(str(arch)), str(tmp_path / "restored"))
    mine, theirs = digest_of(tmp_path / "db"), digest_of(tmp_path / "restored")
    assert (theirs.lsn, theirs.digest) == (mine.lsn, mine.digest)
    assert mine.records > 0


def test_archive_routes_answer_404_without_replicate(tmp_path: Path, processes: list[Any]) -> None:
    """Without --replicate the archive routes say how to enable replication; the status route works."""
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log")
    processes.append(server.start())
    response = httpx.get(server.url + ROUTE + "/archive", timeout=10)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "NotFoundError" and "--replicate" in body["message"]
    assert httpx.get(server.url + ROUTE + "/archive/x/log/y", timeout=10).status_code == 404
    state = status(server)
    assert state["role"] == "none" and state["shipper"] is None and state["read_only"] is False
    with pytest.raises(StorageError, match="replication is not enabled"):
        HttpDestination(server.url).list("")


def test_follow_over_http_converges_through_a_kill(tmp_path: Path, processes: list[Any]) -> None:
    """A follower streaming from the primary's server, killed with SIGKILL half-way and restarted,
    ends with the primary's digest at the primary's LSN."""
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log",
                           args=("--replicate", str(tmp_path / "archive"), "--replicate-interval", "0.05"))
    processes.append(server.start())
    client = ours.HttpClient(host="127.0.0.1", port=server.port)
    write_random(client, "stream", random.Random(2), 10)  # something to bootstrap from
    follower = FollowerProcess(server.url, tmp_path / "replica", tmp_path / "follow.log")
    processes.append(follower.start())
    follower.wait_for(status(server)["last_lsn"])

    writer = threading.Thread(target=write_random, args=(client, "stream", random.Random(3), 150, 0.005))
    writer.start()
    time.sleep(0.5)
    follower.stop(signal.SIGKILL)
    time.sleep(0.3)
    follower = FollowerProcess(server.url, tmp_path / "replica", tmp_path / "follow.log")
    processes.append(follower.start())
    writer.join()
    client.close()

    last = status(server)["last_lsn"]
    follower.wait_for(last)
    assert follower.stop() == 0
    assert server.stop() == 0
    mine, theirs = digest_of(tmp_path / "db"), digest_of(tmp_path / "replica")
    assert theirs.lsn == mine.lsn == last
    assert theirs.digest == mine.digest


def test_follower_waits_out_a_primary_restart(tmp_path: Path, processes: list[Any]) -> None:
    """The primary's server going away is retried, not fatal: after a restart on the same port
    the follower picks up the new writes."""
    args = ("--replicate", str(tmp_path / "archive"), "--replicate-interval", "0.05")
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log", args=args)
    processes.append(server.start())
    client = ours.HttpClient(host="127.0.0.1", port=server.port)
    write_random(client, "restarted", random.Random(5), 5)
    client.close()
    follower = FollowerProcess(server.url, tmp_path / "replica", tmp_path / "follow.log")
    processes.append(follower.start())
    follower.wait_for(status(server)["last_lsn"])
    assert server.stop() == 0
    time.sleep(1.5)  # the follower meets a closed port a few times
    assert follower.process is not None and follower.process.poll() is None, follower.log_path.read_text()
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log", args=args, port=server.port)
    processes.append(server.start())
    client = ours.HttpClient(host="127.0.0.1", port=server.port)
    write_random(client, "restarted2", random.Random(6), 5)
    client.close()
    follower.wait_for(status(server)["last_lsn"])
    assert follower.stop() == 0 and server.stop() == 0
    assert digest_of(tmp_path / "replica").digest == digest_of(tmp_path / "db").digest


def test_long_poll_auth_and_read_only_destination(tmp_path: Path, processes: list[Any]) -> None:
    """The list route answers a long poll as soon as a unit is shipped; the archive sits behind the
    server's auth; HttpDestination refuses writes; bad keys and waits are 400."""
    env = {"CHROMA_SERVER_AUTHN_PROVIDER": "token", "CHROMA_SERVER_AUTHN_CREDENTIALS": "s3cret"}
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log", env=env,
                           args=("--replicate", str(tmp_path / "archive"), "--replicate-interval", "0.05"))
    processes.append(server.start())
    auth = {"Authorization": "Bearer s3cret"}
    client = ours.HttpClient(host="127.0.0.1", port=server.port, headers=auth)
    col = client.create_collection("polled", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])

    with pytest.raises(StorageError, match="401"):
        HttpDestination(server.url).list("")
    dest = HttpDestination(server.url, token="s3cret")
    deadline = time.monotonic() + 20
    while not dest.list(""):
        assert time.monotonic() < deadline, "nothing shipped"
        time.sleep(0.05)
    db_uuid = dest.list("")[0].split("/")[0]
    last = status(server, **auth)["last_lsn"]
    prefix = f"{db_uuid}/log/"
    after = f"{prefix}{last + 1:020d}"
    time.sleep(0.3)  # let the round that ships `last` finish: the poll must wait for a new unit

    answered: list[float] = []
    poll = threading.Thread(target=lambda: answered.append(
        (dest.wait_for_keys(prefix, after, 20), time.monotonic())[1]))
    started = time.monotonic()
    poll.start()
    time.sleep(1.0)
    assert not answered, "the long poll answered before anything new was shipped"
    wrote = time.monotonic()
    col.add(ids=["b"], embeddings=[[3.0, 4.0]])
    poll.join(timeout=25)
    assert answered and answered[0] - wrote < 5.0 and answered[0] - started < 15.0
    assert any(k > after for k in dest.list(prefix))

    key = dest.list(prefix)[-1]
    assert dest.exists(key) and not dest.exists(prefix + "missing")
    assert dest.get(key).startswith(b"SDBREPL1")
    with pytest.raises(StorageError, match="read-only"):
        dest.put_once("x", b"y")
    with pytest.raises(StorageError, match="read-only"):
        dest.delete(key)
    bad = httpx.get(server.url + ROUTE + "/archive", params={"prefix": "../etc"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and "prefix" in bad.json()["message"]
    bad = httpx.get(server.url + ROUTE + "/archive", params={"after": "a", "wait": 99}, headers=auth, timeout=10)
    assert bad.status_code == 400 and "wait" in bad.json()["message"]
    assert isinstance(open_destination(server.url), HttpDestination)
    client.close()


def test_restore_and_digest_against_a_server(tmp_path: Path, processes: list[Any]) -> None:
    """`sediment restore --from URL`, `digest --against URL` and `archive-verify URL` work unchanged."""
    server = ServerProcess(tmp_path / "db", tmp_path / "server.log",
                           args=("--replicate", str(tmp_path / "archive"), "--replicate-interval", "0.05"))
    processes.append(server.start())
    client = ours.HttpClient(host="127.0.0.1", port=server.port)
    write_random(client, "restored", random.Random(4), 20)
    client.close()
    last = status(server)["last_lsn"]
    deadline = time.monotonic() + 20
    while status(server)["shipped_lsn"] < last:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cli = [sys.executable, "-m", "sedimentdb"]
    out = subprocess.run([*cli, "restore", "--from", server.url, str(tmp_path / "copy")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and f"at LSN {last}" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([*cli, "digest", str(tmp_path / "db"), "--against", server.url], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "EQUAL" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([*cli, "archive-verify", server.url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "clean" in out.stdout, out.stdout + out.stderr
    assert server.stop() == 0
    assert digest_of(tmp_path / "copy").digest == digest_of(tmp_path / "db").digest


def test_config_refuses_impossible_replication_settings(tmp_path: Path) -> None:
    """Errors name the setting: an HTTP destination, read-only with replicate, a bad interval."""
    from sedimentdb.server.config import ServerConfig

    with pytest.raises(ValueError, match="read-only"):
        ServerConfig(replicate="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="read_only and replicate"):
        ServerConfig(replicate=str(tmp_path), read_only=True)
    with pytest.raises(ValueError, match="replicate_interval"):
        ServerConfig.resolve(environ={"SEDIMENT_REPLICATE": str(tmp_path), "SEDIMENT_REPLICATE_INTERVAL": "0"})
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"replicate: {tmp_path / 'arch'}\nreplicate_interval: 0.5\nread_only: false\n")
    config = ServerConfig.resolve(config_file=str(config_file), environ={"SEDIMENT_REPLICATE_SNAPSHOT_INTERVAL": "60"})
    assert (config.replicate, config.replicate_interval, config.replicate_snapshot_interval) == (
        str(tmp_path / "arch"), 0.5, 60.0)
    assert os.environ.get("SEDIMENT_REPLICATE") is None


class FlakyDestination(DirDestination):
    """A directory archive whose first ``failures`` puts fail, as an unreachable store would."""

    def __init__(self, root: str, failures: int) -> None:
        super().__init__(root, durable=False)
        self.failures = failures

    def put_once(self, key: str, data: bytes) -> bool:
        if self.failures:
            self.failures -= 1
            raise StorageError("destination unreachable (test)")
        return super().put_once(key, data)


def test_background_shipper_retries_then_ships(primary: Database, tmp_path: Path) -> None:
    """A failed round is kept in the status and retried; the next good round clears the failures."""
    from sedimentdb.server.replication import BackgroundShipper

    dest = FlakyDestination(str(tmp_path / "archive"), failures=1)
    shipper = BackgroundShipper(primary.path, dest.url, dest=dest, local_lsn=lambda: primary.last_lsn)
    Workload(primary, 5).step()
    assert shipper.ship_now() is False
    state = shipper.status()
    assert state["consecutive_failures"] == 1 and "unreachable" in state["last_error"]
    assert shipper._backoff() >= shipper.interval
    assert shipper.ship_now() is True
    state = shipper.status()
    assert state["consecutive_failures"] == 0 and state["shipped_lsn"] == primary.last_lsn
    assert state["lag_records"] == 0 and state["lag_seconds"] == 0.0


def test_background_shipper_stops_when_fenced(primary: Database, archive: DirDestination, tmp_path: Path) -> None:
    """A promoted replica ships a newer epoch: the old primary's background shipper stops for good."""
    from sedimentdb.engine.replication import Follower, Shipper, promote
    from sedimentdb.server.replication import BackgroundShipper

    wl = Workload(primary, 6)
    for _ in range(5):
        wl.step()
    shipper = BackgroundShipper(primary.path, archive.url, dest=archive, interval=0.02,
                                local_lsn=lambda: primary.last_lsn)
    assert shipper.ship_now()
    f = Follower(archive, str(tmp_path / "replica"))
    f.start()
    f.close()
    promote(str(tmp_path / "replica"))
    Shipper(str(tmp_path / "replica"), archive).ship_round()
    shipper.start()
    deadline = time.monotonic() + 20
    while shipper.running:
        assert time.monotonic() < deadline, "the shipper kept running although fenced"
        time.sleep(0.02)
    state = shipper.status()
    assert state["fenced"] and "FencedError" in state["last_error"] and not state["running"]
    shipper.stop()  # no final round once fenced
    assert shipper.status()["fenced"]


def test_read_only_server_serves_a_replica_as_it_follows(tmp_path: Path, processes: list[Any]) -> None:
    """`sediment follow` into a directory + `sediment run --read-only` on it: an HttpClient reads
    records as they are applied; a write is refused with 403 ReadOnlyError."""
    primary = ServerProcess(tmp_path / "db", tmp_path / "primary.log",
                            args=("--replicate", str(tmp_path / "archive"), "--replicate-interval", "0.05"))
    processes.append(primary.start())
    client = ours.HttpClient(host="127.0.0.1", port=primary.port)
    col = client.create_collection("served", embedding_function=None)
    col.add(ids=[f"a{i}" for i in range(10)], embeddings=[[float(i), 0.0] for i in range(10)])
    follower = FollowerProcess(primary.url, tmp_path / "replica", tmp_path / "follow.log", interval=0.05)
    processes.append(follower.start())
    follower.wait_for(status(primary)["last_lsn"])

    reader = ServerProcess(tmp_path / "replica", tmp_path / "reader.log", args=("--read-only",))
    processes.append(reader.start())
    rclient = ours.HttpClient(host="127.0.0.1", port=reader.port)
    rcol = rclient.get_collection("served")
    assert rcol.count() == 10
    col.add(ids=[f"b{i}" for i in range(5)], embeddings=[[float(i), 1.0] for i in range(5)])
    deadline = time.monotonic() + 30
    while rcol.count() < 15:
        assert time.monotonic() < deadline, "the read-only server never saw the new records"
        time.sleep(0.05)
    assert rcol.get(ids=["b4"], include=["embeddings"])["embeddings"][0].tolist() == [4.0, 1.0]

    with pytest.raises(ours.errors.ChromaError, match="read-only"):
        rcol.add(ids=["x"], embeddings=[[0.0, 0.0]])
    raw = httpx.post(f"{reader.url}/api/v2/tenants/default_tenant/databases/default_database/collections",
                     json={"name": "refused"}, timeout=10)
    assert 400 <= raw.status_code < 500 and "read-only" in raw.json()["message"], raw.text
    state = status(reader)
    assert state["read_only"] is True and state["role"] == "replica" and state["shipper"] is None
    rclient.close()
    client.close()
    assert reader.stop() == 0 and follower.stop() == 0 and primary.stop() == 0


def test_archive_refuses_a_user_restricted_to_one_tenant(tmp_path: Path) -> None:
    """The archive holds every tenant's data: a tenant-restricted token gets 403, an admin token reads it."""
    from fastapi.testclient import TestClient

    from sedimentdb import system
    from sedimentdb.server import ServerConfig, create_app

    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - id: admin\n    tokens: [admin-token]\n"
                     "  - id: alice\n    tokens: [alice-token]\n    tenant: alice\n")
    config = ServerConfig(persist_path=str(tmp_path / "db"), authn_provider="token",
                          authn_credentials_file=str(users), replicate=str(tmp_path / "archive"),
                          replicate_interval=0.05)
    try:
        with TestClient(create_app(config)) as http:
            route = ROUTE + "/archive"
            assert http.get(route).status_code == 401
            refused = http.get(route, headers={"Authorization": "Bearer alice-token"})
            assert refused.status_code == 403 and "every tenant" in refused.json()["message"]
            assert http.get(route, headers={"Authorization": "Bearer admin-token"}).status_code == 200
            state = http.get(ROUTE + "/replication", headers={"Authorization": "Bearer admin-token"}).json()
            assert state["shipper"]["destination"] == str(tmp_path / "archive")
    finally:
        system.clear()


def test_http_destination_url_and_unreachable_server() -> None:
    """Credentials never reach ``url`` (it is logged and stored); a closed port is UnreachableError."""
    from sedimentdb.engine.replication.destination import UnreachableError
    from tests.http.server_process import free_port

    dest = HttpDestination("http://user:pw@127.0.0.1:8000/base/")
    assert dest.url == "http://127.0.0.1:8000/base"
    with pytest.raises(StorageError, match="not an http"):
        HttpDestination("http://")
    with pytest.raises(UnreachableError, match="cannot reach the server"):
        HttpDestination(f"http://127.0.0.1:{free_port()}").list("")
