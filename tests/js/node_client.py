"""Node.js and the pinned ``chromadb`` npm client for the JS flows: find node, install the client
into ``build/js``, run ``node --test`` over flow files and read its TAP summary.

Shared by the pytest runner (``test_js_client.py``) and ``against_chroma.py`` (``make js-vs-chroma``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE.parents[1] / "build" / "js"
CLIENT_VERSION = "3.5.0"
NODE_MAJOR = 20
INSTALL_HINT = (f"Node.js {NODE_MAJOR}+ with npm is needed to run Chroma's JS client tests: install it "
                "(Debian/Ubuntu: `apt-get install nodejs npm`, or https://nodejs.org) and put `node` and `npm` on PATH")
COUNTS = re.compile(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", re.MULTILINE)


class NodeUnavailable(Exception):
    """Node.js, npm or the pinned client cannot be had on this machine; the message says what to do."""


def find_node() -> tuple[str, str]:
    """The ``node`` and ``npm`` binaries, Node.js 20 or newer."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise NodeUnavailable(f"{'node' if node is None else 'npm'} not found on PATH. {INSTALL_HINT}")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    found = re.match(r"v(\d+)\.", out)
    if found is None or int(found.group(1)) < NODE_MAJOR:
        raise NodeUnavailable(f"{node} is {out or 'of unknown version'}, older than Node.js {NODE_MAJOR}. {INSTALL_HINT}")
    return node, npm


def install(npm: str) -> None:
    """``npm ci`` of the lock file into ``build/js`` (unless that lock is installed already), then the
    flow files copied beside ``node_modules``: node resolves ``chromadb`` from the importing file's folder."""
    WORK.mkdir(parents=True, exist_ok=True)
    stamp = WORK / "node_modules" / ".sediment-lock-sha256"
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes() + (HERE / "package.json").read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, WORK / name)
        # --omit=optional: the optional packages are the native bindings of Chroma's CLI (51 MB),
        # which the client does not load.
        done = subprocess.run([npm, "ci", "--omit=optional", "--prefer-offline", "--no-audit", "--no-fund"],
                              cwd=WORK, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise NodeUnavailable(f"`npm ci` of chromadb@{CLIENT_VERSION} in {WORK} failed (is the npm registry "
                                  f"or its cache reachable?):\n{done.stderr[-2000:]}")
        stamp.write_text(digest)
    installed = (WORK / "node_modules" / "chromadb" / "package.json").read_text()
    if f'"version": "{CLIENT_VERSION}"' not in installed:
        raise NodeUnavailable(f"{WORK} holds another chromadb than {CLIENT_VERSION}: delete it and rerun")
    for flow in HERE.glob("*.mjs"):
        shutil.copyfile(flow, WORK / flow.name)


def flow_files(*excluded: str) -> list[str]:
    """The ``*.test.mjs`` flow files, sorted, without ``excluded``."""
    return sorted(p.name for p in HERE.glob("*.test.mjs") if p.name not in excluded)


def declared_tests(files: list[str]) -> int:
    """How many ``test(...)`` calls the flow files declare."""
    return sum(len(re.findall(r"^test\(", (HERE / name).read_text(), re.MULTILINE)) for name in files)


def node_test(node: str, env: dict[str, str], files: list[str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """``node --test`` (TAP output) over the flow files in ``build/js``: the finished process and a
    report of its output to show on failure."""
    done = subprocess.run([node, "--test", "--test-reporter=tap", *files], cwd=WORK, capture_output=True,
                          text=True, timeout=300, env=env)
    return done, f"node --test exited {done.returncode}\n{done.stdout[-12000:]}\n{done.stderr[-3000:]}"


def tap_counts(stdout: str) -> dict[str, int]:
    """The summary of a TAP run: tests, pass, fail, cancelled, skipped, todo."""
    return {key: int(value) for key, value in COUNTS.findall(stdout)}
