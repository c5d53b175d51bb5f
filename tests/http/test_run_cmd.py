"""``sediment run`` as users run it: start-up lines, flags, env vars and config file, clean shutdown, restart."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import sedimentdb as ours
from sedimentdb.server.config import ServerConfig
from tests.http.server_process import ServerProcess


def test_start_lock_stop_restart(tmp_path: Path) -> None:
    """Start-up lines name path and URL; a second server on the path is refused; SIGTERM/SIGINT exit 0;
    a restart configured by CHROMA_* variables sees every record."""
    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log").start()
    log = proc.log()
    assert f"Saving data to: {tmp_path / 'data'}" in log
    assert f"Connect to SedimentDB at: http://127.0.0.1:{proc.port}" in log
    client = ours.HttpClient(host="127.0.0.1", port=proc.port)
    col = client.create_collection("kept", embedding_function=None)
    col.add(ids=[str(i) for i in range(50)], embeddings=[[float(i), 1.0] for i in range(50)])
    client.close()

    second = ServerProcess(tmp_path / "data", tmp_path / "second.log")
    with pytest.raises(RuntimeError, match="exited"):
        second.start(timeout=120)
    assert "Error" in second.log() and "Traceback" not in second.log()

    assert proc.stop(signal.SIGTERM) == 0
    assert '"database closed"' in proc.log() and '"server stopped"' in proc.log()

    again = ServerProcess(tmp_path / "data", tmp_path / "server2.log", via_env=True).start()
    client = ours.HttpClient(host="127.0.0.1", port=again.port)
    assert client.get_collection("kept", embedding_function=None).count() == 50
    client.close()
    assert again.stop(signal.SIGINT) == 0
    assert '"database closed"' in again.log()


def test_settings_precedence(tmp_path: Path) -> None:
    """Flags over CHROMA_* variables over the YAML config file (Chroma 1.x keys) over defaults."""
    config = tmp_path / "config.yaml"
    config.write_text("persist_path: /from/file\nport: 9001\nlisten_address: 0.0.0.0\nallow_reset: true\n"
                      "max_payload_size_bytes: 1234\n")
    resolved = ServerConfig.resolve({}, config_file=str(config), environ={})
    assert (resolved.persist_path, resolved.port, resolved.host, resolved.allow_reset) == ("/from/file", 9001,
                                                                                          "0.0.0.0", True)
    assert resolved.max_payload_size_bytes == 1234
    env = {"CHROMA_PORT": "9002", "CHROMA_PERSIST_PATH": "/from/env", "CHROMA_ALLOW_RESET": "false",
           "CHROMA_CORS_ALLOW_ORIGINS": '["http://a.example"]'}
    resolved = ServerConfig.resolve({}, config_file=str(config), environ=env)
    assert (resolved.persist_path, resolved.port, resolved.allow_reset) == ("/from/env", 9002, False)
    assert resolved.cors_allow_origins == ["http://a.example"]
    resolved = ServerConfig.resolve({"port": 9003, "persist_path": None}, config_file=str(config), environ=env)
    assert (resolved.persist_path, resolved.port) == ("/from/env", 9003)
    assert ServerConfig.resolve({}, environ={"CONFIG_PATH": str(config)}).port == 9001
    legacy = ServerConfig.resolve({}, environ={"CHROMA_HOST_PORT": "9004", "CHROMA_HOST_ADDR": "0.0.0.0",
                                               "PERSIST_DIRECTORY": "/legacy", "ALLOW_RESET": "TRUE"})
    assert (legacy.port, legacy.host, legacy.persist_path, legacy.allow_reset) == (9004, "0.0.0.0", "/legacy", True)
    defaults = ServerConfig.resolve({}, environ={})
    assert (defaults.persist_path, defaults.host, defaults.port) == ("./chroma", "localhost", 8000)
    assert defaults.max_payload_size_bytes == 40 * 1024 * 1024 and defaults.allow_reset is False
