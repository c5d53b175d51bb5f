"""Start and stop ``sediment run`` as a real process on 127.0.0.1 and a free port, for the HTTP tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_heartbeat(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    """Whether the server at ``url`` answered its heartbeat within ``timeout`` s (False once it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


class ServerProcess:
    """One ``sediment run`` child process; ``stop()`` (SIGTERM) or ``kill()`` (SIGKILL) ends it."""

    def __init__(self, path: Path, log_path: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), port: int | None = None, via_env: bool = False) -> None:
        self.path = path
        self.log_path = log_path
        self.env = {**os.environ, "SEDIMENT_DURABILITY": "off", **(env or {})}
        self.args = args
        self.port = port or free_port()
        self.via_env = via_env  # pass path, host and port as CHROMA_* variables instead of flags
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> ServerProcess:
        """Start the server and wait until its heartbeat answers."""
        command = [sys.executable, "-m", "sedimentdb", "run", "--log-format", "json", *self.args]
        env = dict(self.env)
        if self.via_env:
            env.update(CHROMA_PERSIST_PATH=str(self.path), CHROMA_LISTEN_ADDRESS="127.0.0.1", CHROMA_PORT=str(self.port))
        else:
            command += ["--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        if wait_for_heartbeat(self.process, self.url, timeout):
            return self
        if self.process.poll() is not None:
            raise RuntimeError(f"sediment run exited with {self.process.returncode}:\n{self.log()}")
        self.kill()
        raise RuntimeError(f"sediment run did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the server and wait for it to exit; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
