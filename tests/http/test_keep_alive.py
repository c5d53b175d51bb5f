"""An idle keep-alive connection outlives the clients' pool expiry, so the client, not the server, closes it.

Chroma's clients (and ours) keep an idle pooled connection for 40 s. A server that closes it
sooner races with the next request sent on it: the request meets the close and fails with
"Connection reset by peer" (Chroma's ``test_multiple_clients_concurrently`` did, under load,
against uvicorn's default of 5 s).
"""

from __future__ import annotations

import socket

import pytest

from sedimentdb.tools.run_cmd import KEEP_ALIVE_SECONDS
from tests.http.server_process import ServerProcess

CLIENT_POOL_EXPIRY = 40.0  # chroma_http_keepalive_secs, Chroma's and ours
IDLE = 6.0  # past uvicorn's default keep-alive timeout (5 s)


def _heartbeat(sock: socket.socket, port: int) -> bytes:
    """Send one keep-alive GET on ``sock`` and read its whole answer (heartbeat bodies are small)."""
    sock.sendall(f"GET /api/v2/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


def test_keep_alive_outlasts_client_pool_expiry() -> None:
    """The configured idle timeout is longer than the clients' pool expiry."""
    assert KEEP_ALIVE_SECONDS > CLIENT_POOL_EXPIRY


@pytest.mark.timeout(60)
def test_idle_connection_stays_open(server: ServerProcess) -> None:
    """A connection idle for longer than uvicorn's default still carries the next request."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        assert _heartbeat(sock, server.port).startswith(b"HTTP/1.1 200")
        sock.settimeout(IDLE)
        try:
            closed = sock.recv(1) == b""  # the server's FIN arrives as an empty read
        except TimeoutError:
            closed = False  # nothing came for IDLE seconds: still open
        assert not closed, f"the server closed an idle keep-alive connection within {IDLE} s"
        sock.settimeout(10)
        assert _heartbeat(sock, server.port).startswith(b"HTTP/1.1 200")
