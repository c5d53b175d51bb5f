"""Smoke test of ``pip install "sedimentdb[server]"``: ``sediment run`` answers on 127.0.0.1.

Run by ``make wheel-check`` with the python of a fresh venv of the wheel and the [server]
extra only. Starts ``sediment run`` on a free 127.0.0.1 port, waits for its heartbeat, makes
a round trip with ``HttpClient``, checks that ``get_version()`` answers the same over HTTP as
embedded, then stops the server with SIGTERM (it must exit 0). Exits non-zero on failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import sedimentdb


def check(condition: object, message: str) -> None:
    """Fail the smoke test with ``message`` unless ``condition``."""
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_heartbeat(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    """The heartbeat's nanoseconds, once the server answers; fails if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(server.poll() is None, f"sediment run exited {server.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(url + "/api/v2/heartbeat", timeout=1.0)
            if response.status_code == 200:
                return int(response.json()["nanosecond heartbeat"])
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    check(False, f"no heartbeat from {url} in {timeout} s:\n{log.read_text()}")
    return 0


def round_trip(port: int) -> None:
    """HttpClient: create, add, query with a filter, count; versions agree."""
    client = sedimentdb.HttpClient(host="127.0.0.1", port=port)
    docs = client.get_or_create_collection("docs")
    docs.add(ids=["a", "b"], embeddings=[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], documents=["first", "second"],
             metadatas=[{"topic": "x"}, {"topic": "y"}])
    found = docs.query(query_embeddings=[[0.3, 0.2, 0.1]], n_results=1, where={"topic": "y"})
    check(found["ids"] == [["b"]] and docs.count() == 2, f"query over HTTP answered {found}")
    embedded = sedimentdb.EphemeralClient().get_version()
    check(client.get_version() == embedded == sedimentdb.CHROMA_API_VERSION,
          f"get_version(): {client.get_version()!r} over HTTP, {embedded!r} embedded")
    client.close()


def main() -> None:
    """Start, check, stop."""
    sediment = str(Path(sys.executable).with_name("sediment"))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            server = subprocess.Popen([sediment, "run", "--path", str(Path(tmp) / "data"), "--host", "127.0.0.1",
                                       "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                      env={**os.environ, "SEDIMENT_LOG_LEVEL": "warning"})
        try:
            beat = wait_for_heartbeat(f"http://127.0.0.1:{port}", server, log)
            print(f"ok: sediment run answered a heartbeat ({beat}) on 127.0.0.1:{port}")
            round_trip(port)
            print(f"ok: HttpClient round trip; get_version() is {sedimentdb.CHROMA_API_VERSION} both ways")
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                code = server.wait()
        check(code == 0, f"sediment run exited {code} on SIGTERM:\n{log.read_text()}")
    print("smoke server: passed")


if __name__ == "__main__":
    main()
