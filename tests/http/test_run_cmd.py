"""``sediment run`` as users run it: start-up lines, env vars and config file, clean shutdown, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import sedimentdb as ours
from tests.http.server_process import ServerProcess, free_port


def test_start_write_stop_restart(tmp_path: Path) -> None:
    """Start-up lines name the path and URL; SIGTERM then SIGINT close the engine and exit 0; data survives."""
    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log").start()
    log = proc.log()
    assert f"Saving data to: {tmp_path / 'data'}" in log
    assert f"Connect to SedimentDB at: http://127.0.0.1:{proc.port}" in log
    client = ours.HttpClient(host="127.0.0.1", port=proc.port)
    col = client.create_collection("kept", embedding_function=None)
    col.add(ids=[str(i) for i in range(50)], embeddings=[[float(i), 1.0] for i in range(50)])
    client.close()
    assert proc.stop(signal.SIGTERM) == 0
    assert '"database closed"' in proc.log() and '"server stopped"' in proc.log()

    again = ServerProcess(tmp_path / "data", tmp_path / "server2.log").start()
    client = ours.HttpClient(host="127.0.0.1", port=again.port)
    assert client.get_collection("kept", embedding_function=None).count() == 50
    client.close()
    assert again.stop(signal.SIGINT) == 0
    assert '"database closed"' in again.log()


def test_environment_and_config_file(tmp_path: Path) -> None:
    """CHROMA_* variables (Chroma's names) and a Chroma 1.x YAML config; flags would win over both."""
    port = free_port()
    (tmp_path / "config.yaml").write_text(f"persist_path: {tmp_path / 'from-file'}\nport: 1\nallow_reset: true\n")
    env = {**os.environ, "CHROMA_PORT": str(port), "CHROMA_LISTEN_ADDRESS": "127.0.0.1",
           "SEDIMENT_DURABILITY": "off"}
    process = subprocess.Popen([sys.executable, "-m", "sedimentdb", "run", str(tmp_path / "config.yaml")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first = process.stdout.readline().decode()  # type: ignore[union-attr]
        while "Saving data to" not in first:
            first = process.stdout.readline().decode()  # type: ignore[union-attr]
        assert str(tmp_path / "from-file") in first
        for _ in range(400):
            try:
                if httpx.post(f"http://127.0.0.1:{port}/api/v2/reset").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("server did not come up on CHROMA_PORT with allow_reset from the file")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_locked_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A second server on the same data path exits with a message instead of sharing the files."""
    first = ServerProcess(tmp_path / "data", tmp_path / "one.log").start()
    try:
        second = ServerProcess(tmp_path / "data", tmp_path / "two.log")
        with pytest.raises(RuntimeError, match="exited"):
            second.start(timeout=20)
        assert "Error" in second.log() and "Traceback" not in second.log()
    finally:
        first.stop()
