"""Chroma's official JavaScript client (``chromadb`` on npm) against ``sediment run``.

The package is installed from ``js/package.json`` into ``js/node_modules`` (ignored by git) on
first run. The test is skipped, saying why, only when Node.js/npm are missing or the install
fails (e.g. no registry access).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.http.server_process import ServerProcess

JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the client installed next to the scenario."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        pytest.skip("Node.js and npm are needed for the official JS client test; not found on PATH")
    if not (JS_DIR / "node_modules" / "chromadb" / "package.json").exists():
        done = subprocess.run([npm_bin, "install", "--no-audit", "--no-fund"], cwd=JS_DIR,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"npm install of the chromadb package failed: {done.stderr[-500:]}")
    return node_bin


def test_official_js_client_scenario(node: str, server: ServerProcess, unique_name: str) -> None:
    """Heartbeat, collections, records, filters, include, update/upsert/delete, modify and errors."""
    done = subprocess.run([node, "scenario.mjs", str(server.port), unique_name], cwd=JS_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] and len(result["steps"]) == 9
