"""Run Python in a child process: the ``chromadb`` alias changes ``sys.modules``, and the rest of the
suite imports Chroma's own client as ``chromadb``, so alias tests never turn it on in the test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def run_python(code: str, env: dict[str, str] | None = None, python: str = sys.executable,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``python`` in a fresh process (cwd: a directory without the repo's folders)."""
    full_env = {k: v for k, v in os.environ.items() if k != "SEDIMENTDB_AS_CHROMADB"}
    full_env.update(env or {})
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=full_env,
                          cwd=str(HERE), timeout=timeout)


def run_json(code: str, **kwargs: Any) -> Any:
    """Run ``code``, which prints one JSON document last; that document (failing on a non-zero exit)."""
    done = run_python(code, **kwargs)
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_fixture(name: str) -> Any:
    """A JSON fixture recorded from the real chromadb 1.5.9 (see record_chromadb_names.py)."""
    return json.loads((HERE / name).read_text())
