"""Issue 16 item 7: archive-verify checks what restore needs: every snapshot file's size and checksum."""

from __future__ import annotations

import os

import pytest

from sedimentdb.engine.replication import restore, verify_archive
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.tools.cli import cli

from . import test_damage
from .test_damage import _flip, _path

shipped = test_damage.shipped  # the fixture: a primary with 4 shipped rounds and one snapshot


def _files(archive, uid):
    return sorted(archive.list(f"{uid}/files/"))


def _cli_verify(archive):
    from click.testing import CliRunner

    return CliRunner().invoke(cli, ["archive-verify", archive.root], catch_exceptions=False)


def test_flipped_snapshot_file_is_found_by_archive_verify_and_restore(shipped, archive, tmp_path):
    uid, _listing, _ = shipped
    key = _files(archive, uid)[0]
    _flip(archive, key, offset=0)
    problems = verify_archive(archive, uid)
    rel = key.split("/files/", 1)[1]
    assert any(rel in p and "checksum" in p for p in problems), problems
    assert _cli_verify(archive).exit_code == 1
    with pytest.raises(CorruptionError, match="checksum"):
        restore(archive, str(tmp_path / "r"))


def test_swapped_snapshot_files_are_found(shipped, archive):
    uid, _listing, _ = shipped
    files = _files(archive, uid)
    a, b = [k for k in files if k.endswith("vectors.f32")][0], [k for k in files if k.endswith("rows.bin")][0]
    da, db = open(_path(archive, a), "rb").read(), open(_path(archive, b), "rb").read()
    open(_path(archive, a), "wb").write(db)
    open(_path(archive, b), "wb").write(da)
    problems = verify_archive(archive, uid)
    for key in (a, b):
        assert any(key.split("/files/", 1)[1] in p for p in problems), problems


def test_truncated_snapshot_file_names_its_size(shipped, archive):
    uid, _listing, _ = shipped
    key = _files(archive, uid)[-1]
    os.truncate(_path(archive, key), 3)
    assert any("is 3 bytes, the snapshot says" in p for p in verify_archive(archive, uid))


def test_damaged_snapshot_manifest_is_found(shipped, archive):
    uid, listing, _ = shipped
    _flip(archive, listing.snapshots[0].key)
    assert any(listing.snapshots[0].key in p for p in verify_archive(archive, uid))
