"""Start and stop Chroma's own server (``chroma run`` from the suite venv), the reference the suite is compared with.

Configured as Chroma's single-node integration CI configures it
(``bin/rust_single_node_integration_test_config.yaml``: ``allow_reset: true``), on 127.0.0.1, a
free port and a fresh directory. Same interface as ``tests/http/server_process.ServerProcess``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
from server_process import free_port


class ChromaServer:
    """One ``chroma run`` child process, for a reference run of the suite."""

    def __init__(self, chroma_bin: Path, path: Path, log_path: Path) -> None:
        self.chroma_bin = chroma_bin
        self.path = path
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> ChromaServer:
        """Write the config file, start the server and wait until its heartbeat answers."""
        self.path.mkdir(parents=True, exist_ok=True)
        config = self.path.parent / f"chroma-{self.port}.yaml"
        config.write_text(f'port: {self.port}\nlisten_address: "127.0.0.1"\npersist_path: "{self.path}"\n'
                          "allow_reset: true\n")
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.process = subprocess.Popen([str(self.chroma_bin), "run", str(config)], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}: see {self.log_path}")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"chroma run did not answer within {timeout}s: see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the server and wait for it to exit; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode
