"""Run Chroma's own test suite (shipped in the chromadb wheel) against ``sediment run``.

    python tests/chroma_suite/run.py --suite-python .venv-suite/bin/python [--workdir build/chroma-suite]
                                     [-- extra pytest arguments]

This is what Chroma's single-node integration CI does against ``chroma run``: the suite's
``integration`` fixtures (``CHROMA_INTEGRATION_TEST_ONLY=1``) talk to a server named by
``CHROMA_SERVER_HOST``/``CHROMA_SERVER_HTTP_PORT`` through Chroma's own HTTP client. Here the
server is ``sediment run`` on a free 127.0.0.1 port and a fresh data directory; it is started
before and stopped after the run. The selection is :func:`selected_tests`.

Chroma's default embedding function (used by tests that add documents without vectors, on the
client side) reads an ONNX export from ``~/.cache/chroma/onnx_models``, which it downloads.
There is no network here, so :mod:`chroma_model` fills that cache offline from the model
SedimentDB already installs; ``HOME`` points into the work directory so the user's own cache is
never touched (two of Chroma's tests delete that directory to test downloading).

Run this script with SedimentDB's venv (it serves); ``--suite-python`` is the venv holding
``chromadb`` and the suite's test dependencies (``make chroma-suite`` builds both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "http"))

from chroma_model import provision_chroma_model  # noqa: E402
from server_process import ServerProcess  # noqa: E402

# The property tests Chroma's single-node CI runs; the rest of property/ needs a cluster, Chroma's
# internals or a multi-version install.
PROPERTY_TESTS = ("test_add", "test_collections", "test_collections_with_database_tenant", "test_embeddings",
                  "test_filtering", "test_persist", "test_schema")
EXCLUDED_DIRS = ("property", "stress", "distributed")
EXCLUDED_FILES = ("test_cli.py",)
# Deletes ~/.cache/chroma/onnx_models and downloads the model again: it runs last, in a pytest
# process of its own, or every later test that embeds documents would try (and fail, offline) to
# download the model too. Its own process: after the other ef/ tests, in the same process, three of
# its provider tests fail (test state Chroma's order never produces).
RUN_LAST = ("ef/test_default_ef.py",)


def selected_tests(test_root: Path) -> list[str]:
    """The suite's test files for the main run, in order (paths relative to ``test_root``); then :data:`RUN_LAST`."""
    chosen = []
    for path in sorted(test_root.rglob("test_*.py")):
        rel = path.relative_to(test_root)
        if rel.parts[0] in EXCLUDED_DIRS or rel.as_posix() in EXCLUDED_FILES + RUN_LAST:
            continue
        chosen.append(rel.as_posix())
    chosen += [f"property/{name}.py" for name in PROPERTY_TESTS]
    chosen += sorted(p.relative_to(test_root).as_posix() for p in (test_root / "stress").glob("test_*.py"))
    return chosen


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


def main(argv: list[str] | None = None) -> int:
    """Provision the model, start the server, run the suite, stop the server; pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite-python", required=True, help="python of the venv with chromadb and pytest")
    parser.add_argument("--workdir", default="build/chroma-suite", help="data, HOME, logs and reports go here")
    parser.add_argument("--preset", default="fast", choices=("fast", "normal", "slow"),
                        help="Chroma's PROPERTY_TESTING_PRESET (hypothesis examples per property test)")
    parser.add_argument("--tests", nargs="+", default=None,
                        help="run only these test files or node ids (relative to chromadb/test)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir).resolve()
    args.suite_python = os.path.abspath(args.suite_python)  # pytest runs from workdir
    home = workdir / "home"
    data = workdir / "data"
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["rm", "-rf", str(data)], check=True)
    provision_chroma_model(home / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx")

    test_root = suite_root(args.suite_python)
    server = ServerProcess(data, workdir / "server.log", args=("--allow-reset", "--log-level", "warning"))
    started = time.monotonic()
    server.start()
    print(f"chroma-suite: sediment run on {server.url}, data in {data}", file=sys.stderr)
    env = {
        **os.environ,
        "HOME": str(home),
        # One test runs `python -m chromadb...` in a subprocess: that python must be the suite's.
        "PATH": os.path.dirname(args.suite_python) + os.pathsep + os.environ.get("PATH", ""),
        "CHROMA_INTEGRATION_TEST_ONLY": "1",
        "CHROMA_API_IMPL": "chromadb.api.fastapi.FastAPI",
        # "localhost", as in Chroma's CI: some tests build HttpClient(host="localhost") and compare it with
        # these settings; the server itself listens on 127.0.0.1 only.
        "CHROMA_SERVER_HOST": "localhost",
        "CHROMA_SERVER_HTTP_PORT": str(server.port),
        "PROPERTY_TESTING_PRESET": args.preset,
        "ORT_DISABLE_TELEMETRY": "1",
    }
    # Our own pyproject.toml must not configure their run (pytest would find it walking up).
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")  # two of their folders hold a test_schema.py and no __init__.py: importlib mode
    runs = [(args.tests, workdir / "junit.xml")] if args.tests else [
        (selected_tests(test_root), workdir / "junit.xml"), (list(RUN_LAST), workdir / "junit-last.xml")]
    code = 0
    # rootdir = site-packages, so importlib mode names a test module by its real dotted name
    # (chromadb.test.property.test_persist): test_persist's forkserver child imports it by that name.
    try:
        for tests, junit in runs:
            junit.unlink(missing_ok=True)
            command = [args.suite_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini),
                       "--import-mode=importlib", "--rootdir", str(test_root.parent.parent), f"--junitxml={junit}",
                       *(str(test_root / t) for t in tests), *args.pytest_args]
            # cwd: hypothesis keeps its example database in ./.hypothesis
            code = code or subprocess.run(command, cwd=workdir, env=env).returncode
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    total = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for _, junit in runs:
        if junit.exists():
            total = {k: v + counts(junit)[k] for k, v in total.items()}
    print(f"chroma-suite: {total['passed']} passed, {total['failed']} failed, {total['errors']} errors, "
          f"{total['skipped']} skipped in {elapsed:.0f}s (preset {args.preset})", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
