"""The CLI configures structlog: stderr only, JSON with --log-json, level from SEDIMENT_LOG_LEVEL."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from sedimentdb.tools.logging_setup import level_from_env


def test_level_from_env():
    assert level_from_env({}) == logging.WARNING
    assert level_from_env({"SEDIMENT_LOG_LEVEL": "debug"}) == logging.DEBUG
    assert level_from_env({"SEDIMENT_LOG_LEVEL": "nonsense"}) == logging.WARNING


def test_logs_go_to_stderr_as_json_and_stdout_stays_data(db_path):
    env = {"SEDIMENT_LOG_LEVEL": "info", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "sedimentdb", "--log-json", "info", "--json", db_path],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)  # stdout is exactly the report
    lines = [json.loads(x) for x in out.stderr.splitlines() if x.strip()]
    assert any(x["event"] == "database opened" and x["level"] == "info" for x in lines)


def test_default_level_is_quiet(db_path):
    out = subprocess.run([sys.executable, "-m", "sedimentdb", "info", db_path], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0 and out.stderr == ""
