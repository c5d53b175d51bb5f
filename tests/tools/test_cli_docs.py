"""Every command has help text, every option explains itself, and docs/CLI.md documents both."""

from __future__ import annotations

import os
import re

import click
import pytest

from sedimentdb.tools.cli import cli

from .helpers import invoke

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "CLI.md")
REPORTING = {"info", "wal ls", "wal dump", "wal tail", "verify", "compact", "repair", "export", "import",
             "migrate-from-chroma"}
# The operator tools' own commands: every option is explained and documented. Commands other
# families register (run, replication) must have help text and a section in docs/CLI.md.
OWN = REPORTING


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out += _commands(cmd, full + " ")
        else:
            out.append((full, cmd))
    return out


COMMANDS = _commands(cli)


def _section(doc: str, name: str) -> str:
    m = re.search(rf"^#+ sediment {re.escape(name)}\n(.*?)(?=^#+ sediment |^## Library|\Z)", doc, re.S | re.M)
    assert m, f"docs/CLI.md has no section '## sediment {name}'"
    return m.group(1)


def test_all_expected_commands_exist():
    assert REPORTING <= {n for n, _ in COMMANDS}


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_is_documented(name, cmd, runner):
    assert cmd.help and len(cmd.help.strip()) > 20
    res = invoke(runner, *name.split(), "--help")
    assert res.exit_code == 0 and "Usage:" in res.output
    with open(DOCS, encoding="utf-8") as f:
        section = _section(f.read(), name)
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name == "help" or name not in OWN:
            continue
        assert param.help, f"{name} {param.opts[0]} has no help text"
        assert any(opt in section for opt in param.opts), f"docs/CLI.md: {name} does not mention {param.opts[0]}"
    if name in REPORTING:
        assert any(p.name == "as_json" for p in cmd.params), f"{name} has no --json"


def test_groups_have_help():
    assert cli.help and cli.commands["wal"].help
    with open(DOCS, encoding="utf-8") as f:
        doc = f.read()
    assert "SEDIMENT_LOG_LEVEL" in doc and "--log-json" in doc and "Exit codes" in doc


def test_python_dash_m_entry_point():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "sedimentdb", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "verify" in out.stdout
