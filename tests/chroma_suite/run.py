"""Run Chroma's own test suite (shipped in the chromadb wheel) against ``sediment run``.

    python tests/chroma_suite/run.py --suite-python .venv-suite/bin/python [--workdir build/chroma-suite]
        [--jobs N] [--server sediment|chroma] [--tests PATH ...] [-- extra pytest arguments]

This is what Chroma's single-node integration CI does against ``chroma run``: the suite's
``integration`` fixtures (``CHROMA_INTEGRATION_TEST_ONLY=1``) talk to a server named by
``CHROMA_SERVER_HOST``/``CHROMA_SERVER_HTTP_PORT`` through Chroma's own HTTP client, one pytest
process per glob of their CI matrix (:func:`plan_lanes`). Here the server is ``sediment run`` on a
free 127.0.0.1 port and a fresh data directory, started before and stopped after the lanes it
serves. ``--jobs N`` runs lanes side by side, each worker with a server and directory of its own
(the tests reset the server). ``--server chroma`` runs the same lanes against Chroma's own
``chroma run`` from the suite venv: the reference the counts are compared with.

Chroma's default embedding function (used by tests that add documents without vectors, on the
client side) reads an ONNX export from ``~/.cache/chroma/onnx_models``, which it downloads.
There is no network here, so :mod:`chroma_model` fills that cache offline from the model
SedimentDB already installs; ``HOME`` points into the work directory so the user's own cache is
never touched (two of Chroma's tests delete that directory to test downloading).

Reports: ``junit/<lane>.xml``, each lane's output in ``worker<N>/<lane>.log``, the server's log in
``worker<N>/server.log``, and ``summary.json`` (counts, failures, each lane's time).

Run this script with SedimentDB's venv (it serves); ``--suite-python`` is the venv holding
``chromadb`` and the suite's test dependencies (``make chroma-suite`` builds both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "http"))

from chroma_model import provision_chroma_model  # noqa: E402
from chroma_server import ChromaServer  # noqa: E402
from server_process import ServerProcess  # noqa: E402

# Chroma's single-node integration CI (.github/workflows/_python-tests.yml,
# test-rust-single-node-integration) runs one pytest process per glob: everything but property/,
# stress/, distributed/ and test_cli.py; each of these property files; stress/. Its own processes
# matter: two of the suite's tests leave global state behind (test_embedding_function_schemas
# monkeypatches and deletes an embedding function class's __new__, which breaks that class for
# the rest of the process: property/test_schema builds it). The issue adds property/test_schema;
# test_cross_version_persist is left out (it pip-installs old chromadb versions from the internet).
PROPERTY_TESTS = ("test_add", "test_collections", "test_collections_with_database_tenant", "test_embeddings",
                  "test_filtering", "test_persist", "test_schema")
EXCLUDED_DIRS = ("property", "stress", "distributed")
EXCLUDED_FILES = ("test_cli.py",)
# Deletes ~/.cache/chroma/onnx_models and downloads the model again: it runs last, in a pytest
# process of its own, or every later test that embeds documents would try (and fail, offline) to
# download the model too. Its own process: after the other ef/ tests, in the same process, three of
# its provider tests fail (test state Chroma's order never produces).
RUN_LAST = ("ef/test_default_ef.py",)


@dataclass(frozen=True)
class Lane:
    """One pytest process: a name (its JUnit file's) and its test paths, relative to ``chromadb/test``."""

    name: str
    tests: tuple[str, ...]


def main_lane_tests(test_root: Path) -> list[str]:
    """The main glob's files, sorted: every ``test_*.py`` but the excluded dirs and files and :data:`RUN_LAST`."""
    chosen = []
    for path in sorted(test_root.rglob("test_*.py")):
        rel = path.relative_to(test_root)
        if rel.parts[0] in EXCLUDED_DIRS or rel.as_posix() in EXCLUDED_FILES + RUN_LAST:
            continue
        chosen.append(rel.as_posix())
    return chosen


def plan_lanes(test_root: Path, tests: list[str] | None = None) -> tuple[list[Lane], list[Lane]]:
    """The lanes that may run side by side, and those that run after them all (:data:`RUN_LAST`).

    ``tests`` (node ids or files) replaces the plan with one lane of those."""
    if tests:
        return [Lane("selected", tuple(tests))], []
    lanes = [Lane("main", tuple(main_lane_tests(test_root)))]
    lanes += [Lane(name, (f"property/{name}.py",)) for name in PROPERTY_TESTS]
    lanes.append(Lane("stress", ("stress",)))
    return lanes, [Lane("last", RUN_LAST)]


def suite_root(suite_python: str) -> Path:
    """Where the suite venv's ``chromadb/test`` lives."""
    out = subprocess.run(
        [suite_python, "-c", "import chromadb, os; print(os.path.dirname(chromadb.__file__))"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip()) / "test"


def counts(junit: Path) -> dict[str, int]:
    """passed/failed/errors/skipped from pytest's JUnit XML."""
    suite = ET.parse(junit).getroot()
    suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
    total, failed, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    return {"passed": total - failed - errors - skipped, "failed": failed, "errors": errors, "skipped": skipped}


def failures(junit: Path) -> list[str]:
    """The node ids (classname::name) of the failed and erroring tests in a JUnit report."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if any(child.tag in ("failure", "error") for child in case):
            found.append(f"{case.get('classname')}::{case.get('name')}")
    return found


@dataclass
class Runner:
    """What every lane shares: the suite venv, the work directory, the server kind and pytest's extra arguments."""

    suite_python: str
    workdir: Path
    test_root: Path
    server_kind: str
    preset: str
    pytest_args: list[str]

    def server(self, worker: Path) -> Any:
        """A server (not started) with a fresh data directory under ``worker``."""
        data = worker / "data"
        subprocess.run(["rm", "-rf", str(data)], check=True)
        if self.server_kind == "chroma":
            return ChromaServer(Path(self.suite_python).parent / "chroma", data, worker / "server.log")
        return ServerProcess(data, worker / "server.log", args=("--allow-reset", "--log-level", "warning"))

    def env(self, port: int) -> dict[str, str]:
        """The environment of a pytest process talking to the server on ``port``."""
        return {
            **os.environ,
            "HOME": str(self.workdir / "home"),
            # One test runs `python -m chromadb...` in a subprocess: that python must be the suite's.
            "PATH": os.path.dirname(self.suite_python) + os.pathsep + os.environ.get("PATH", ""),
            "CHROMA_INTEGRATION_TEST_ONLY": "1",
            "CHROMA_API_IMPL": "chromadb.api.fastapi.FastAPI",
            # "localhost", as in Chroma's CI: some tests build HttpClient(host="localhost") and compare it with
            # these settings; the server itself listens on 127.0.0.1 only.
            "CHROMA_SERVER_HOST": "localhost",
            "CHROMA_SERVER_HTTP_PORT": str(port),
            "PROPERTY_TESTING_PRESET": self.preset,
            "ORT_DISABLE_TELEMETRY": "1",
        }

    def run_lane(self, lane: Lane, worker: Path, port: int) -> tuple[int, float]:
        """One pytest process for ``lane`` against the server on ``port``; its exit code and wall seconds."""
        junit = self.workdir / "junit" / f"{lane.name}.xml"
        junit.unlink(missing_ok=True)
        # Our own pyproject.toml must not configure their run (pytest would find it walking up); the
        # settings are Chroma's own (pyproject.toml [tool.pytest.ini_options]): importlib mode, and
        # rootdir = site-packages as their pythonpath = ["."], so a test module has its real dotted name
        # (chromadb.test.property.test_persist: test_persist's forkserver child imports it by that name).
        ini = self.workdir / "pytest.ini"
        command = [self.suite_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini),
                   "--import-mode=importlib", "--rootdir", str(self.test_root.parent.parent),
                   f"--junitxml={junit}", *(str(self.test_root / t) for t in lane.tests), *self.pytest_args]
        started = time.monotonic()
        # cwd: hypothesis keeps its example database in ./.hypothesis, one per worker
        with open(worker / f"{lane.name}.log", "w") as out:
            code = subprocess.run(command, cwd=worker, env=self.env(port), stdout=out,
                                  stderr=subprocess.STDOUT).returncode
        return code, time.monotonic() - started

    def run_worker(self, index: int, queue: list[Lane], results: dict[str, tuple[int, float]],
                   lock: threading.Lock) -> None:
        """Start a server of its own, run lanes from ``queue`` until it is empty, stop the server."""
        worker = self.workdir / f"worker{index}"
        worker.mkdir(parents=True, exist_ok=True)
        server = self.server(worker)
        server.start()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    lane = queue.pop(0)
                print(f"chroma-suite: [{index}] {lane.name}: {len(lane.tests)} path(s) against {server.url}",
                      file=sys.stderr)
                code, seconds = self.run_lane(lane, worker, server.port)
                results[lane.name] = (code, seconds)
                print(f"chroma-suite: [{index}] {lane.name} done in {seconds:.0f}s ({self.summary(lane)})",
                      file=sys.stderr)
        finally:
            server.stop()

    def summary(self, lane: Lane) -> str:
        """A lane's counts, from its JUnit report."""
        junit = self.workdir / "junit" / f"{lane.name}.xml"
        if not junit.exists():
            return "no report"
        c = counts(junit)
        return f"{c['passed']} passed, {c['failed']} failed, {c['errors']} errors, {c['skipped']} skipped"

    def run(self, lanes: list[Lane], jobs: int) -> dict[str, tuple[int, float]]:
        """Run ``lanes`` on ``jobs`` workers side by side (each with its own server); exit codes and times."""
        results: dict[str, tuple[int, float]] = {}
        queue, lock = list(lanes), threading.Lock()
        threads = [threading.Thread(target=self.run_worker, args=(i, queue, results, lock))
                   for i in range(min(jobs, len(lanes)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def main(argv: list[str] | None = None) -> int:
    """Provision the model, run the lanes (each worker with its own server), report; non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite-python", required=True, help="python of the venv with chromadb and pytest")
    parser.add_argument("--workdir", default="build/chroma-suite", help="data, HOME, logs and reports go here")
    parser.add_argument("--preset", default="fast", choices=("fast", "normal", "slow"),
                        help="Chroma's PROPERTY_TESTING_PRESET (hypothesis examples per property test)")
    parser.add_argument("--server", default="sediment", choices=("sediment", "chroma"),
                        help="run against `sediment run` or, for reference, Chroma's own `chroma run`")
    parser.add_argument("--jobs", type=int, default=1,
                        help="lanes run side by side, each worker with a server of its own")
    parser.add_argument("--tests", nargs="+", default=None,
                        help="run only these test files or node ids (relative to chromadb/test), in one lane")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir).resolve()
    suite_python = os.path.abspath(args.suite_python)  # pytest runs from a worker directory
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "junit").mkdir(exist_ok=True)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    provision_chroma_model(workdir / "home" / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx")
    test_root = suite_root(suite_python)
    runner = Runner(suite_python, workdir, test_root, args.server, args.preset, args.pytest_args)
    side_by_side, last = plan_lanes(test_root, args.tests)
    started = time.monotonic()
    results = runner.run(side_by_side, args.jobs)
    results.update(runner.run(last, 1))
    elapsed = time.monotonic() - started
    return report(workdir, side_by_side + last, results, elapsed, args)


def report(workdir: Path, lanes: list[Lane], results: dict[str, tuple[int, float]], elapsed: float,
           args: argparse.Namespace) -> int:
    """Print every lane's time and the totals (stderr), write ``summary.json``; non-zero if any lane failed."""
    total = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failed: list[str] = []
    for lane in lanes:
        junit = workdir / "junit" / f"{lane.name}.xml"
        if junit.exists():
            total = {k: v + counts(junit)[k] for k, v in total.items()}
            failed += failures(junit)
    missing = [lane.name for lane in lanes if not (workdir / "junit" / f"{lane.name}.xml").exists()]
    summary = {**total, "seconds": round(elapsed), "server": args.server, "preset": args.preset, "jobs": args.jobs,
               "lanes": {name: {"exit": code, "seconds": round(sec)} for name, (code, sec) in results.items()},
               "failures": failed, "lanes_without_report": missing}
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name in failed:
        print(f"chroma-suite: FAILED {name}", file=sys.stderr)
    for name in missing:
        print(f"chroma-suite: lane {name} wrote no report (see {workdir}/worker*/{name}.log)", file=sys.stderr)
    print(f"chroma-suite: {total['passed']} passed, {total['failed']} failed, {total['errors']} errors, "
          f"{total['skipped']} skipped in {elapsed:.0f}s (server {args.server}, preset {args.preset}, "
          f"jobs {args.jobs})", file=sys.stderr)
    codes = [code for code, _ in results.values()]
    return 1 if missing or any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
