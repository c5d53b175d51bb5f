"""Fixtures: a primary database directory, an archive directory."""

from __future__ import annotations

import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination

# Small log files and no background thread: rolls, releases and manifests happen where the
# test says, so runs are deterministic.
PRIMARY_OPTIONS = DatabaseOptions(background_compaction=False, wal_roll_bytes=4096, durability="off")


@pytest.fixture
def primary(tmp_path):
    db = Database.open(str(tmp_path / "primary"), PRIMARY_OPTIONS)
    yield db
    db.close()


@pytest.fixture
def archive(tmp_path):
    return DirDestination(str(tmp_path / "archive"), durable=False)
