"""A directory holding Chroma's chroma.sqlite3 is never opened (or written) as a SedimentDB database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import sedimentdb
from sedimentdb.tools.cli import cli

from .helpers import VERSIONS, extract, tree_state


@pytest.fixture
def chroma_dir(tmp_path) -> str:
    return extract(VERSIONS[-1], str(tmp_path))


def test_persistent_client_refuses_and_names_the_migrate_command(chroma_dir):
    before = tree_state(chroma_dir)
    with pytest.raises(sedimentdb.errors.InvalidArgumentError) as err:
        sedimentdb.PersistentClient(path=chroma_dir)
    assert "chroma.sqlite3" in str(err.value) and "sediment migrate-from-chroma" in str(err.value)
    assert tree_state(chroma_dir) == before


def test_even_a_bare_chroma_sqlite_file_is_refused(tmp_path):
    (tmp_path / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(sedimentdb.errors.InvalidArgumentError):
        sedimentdb.PersistentClient(path=str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chroma.sqlite3"]


def test_server_refuses(chroma_dir):
    before = tree_state(chroma_dir)
    res = CliRunner().invoke(cli, ["run", "--path", chroma_dir, "--port", "0", "--host", "127.0.0.1"])
    assert res.exit_code != 0
    assert "sediment migrate-from-chroma" in res.output
    assert tree_state(chroma_dir) == before


def test_import_tool_refuses(chroma_dir, tmp_path):
    before = tree_state(chroma_dir)
    stream = tmp_path / "empty.jsonl"
    stream.write_text("")
    res = CliRunner().invoke(cli, ["import", chroma_dir, str(stream)])
    assert res.exit_code == 1 and "sediment migrate-from-chroma" in res.output
    assert tree_state(chroma_dir) == before
