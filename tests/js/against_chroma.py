"""The JS flows against Chroma itself: ``chroma run`` of the full ``chromadb`` package on a free
127.0.0.1 port and a fresh directory, then ``node --test`` over every flow file but the auth one
(Chroma 1.x's server has no auth). A report, not a test: it prints each failing flow's name and the
counts, and exits 0 when the run completed. ``make js-vs-chroma`` runs it with the chromadb 1.5.9
of ``.venv-suite``; docs/COMPATIBILITY.md explains the differences it shows.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from node_client import NodeUnavailable, find_node, flow_files, install, node_test, tap_counts  # noqa: E402

sys.path.insert(0, str(HERE.parent / "http"))
from server_process import free_port, wait_for_heartbeat  # noqa: E402

FAILED = re.compile(r"^not ok \d+ - (.+)$", re.MULTILINE)


def start_chroma(chroma: str, root: Path, port: int, timeout: float = 120.0) -> subprocess.Popen[bytes]:
    """``chroma run`` on 127.0.0.1:port, answering its heartbeat; its log in ``root/chroma.log``."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with open(root / "chroma.log", "wb") as log:
        proc = subprocess.Popen([chroma, "run", "--path", str(root / "data"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    if wait_for_heartbeat(proc, f"http://127.0.0.1:{port}", timeout):
        return proc
    if proc.poll() is None:
        proc.kill()
    raise SystemExit(f"chroma run did not answer within {timeout}s (exit code {proc.poll()}): see {root / 'chroma.log'}")


def main() -> int:
    """Run the flows against ``chroma run``; print the failing flows and the counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chroma", required=True, help="the `chroma` command of a full chromadb install")
    args = parser.parse_args()
    try:
        node, npm = find_node()
        install(npm)
    except NodeUnavailable as missing:
        print(f"js-vs-chroma: {missing}", file=sys.stderr)
        return 1
    python = Path(args.chroma).with_name("python")  # the venv's own, to name the chromadb package
    version = subprocess.run([str(python), "-c", "import chromadb; print(chromadb.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    files = flow_files("auth.test.mjs")
    with tempfile.TemporaryDirectory(prefix="js-vs-chroma-") as tmp:
        port = free_port()
        proc = start_chroma(args.chroma, Path(tmp), port)
        try:
            print(f"js-vs-chroma: chromadb {version or '?'} ({args.chroma}) on port {port}; files: {' '.join(files)}", file=sys.stderr)
            done, _ = node_test(node, {**os.environ, "SEDIMENT_PORT": str(port)}, files)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for name in FAILED.findall(done.stdout):
        print(f"failed: {name}")
    counts = tap_counts(done.stdout)
    print(" ".join(f"{key} {value}" for key, value in counts.items()))
    return 0 if counts else 1


if __name__ == "__main__":
    sys.exit(main())
