"""Issue 16 item 6: approximate-search misses of a healthy graph are index quality, not damage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.ops.verify import verify

from .helpers import invoke


@pytest.fixture(scope="module")
def gaussian_db(tmp_path_factory) -> str:
    """6,600 64-dim Gaussian rows in one freshly built graph segment (the issue's reproduction)."""
    path = str(tmp_path_factory.mktemp("gauss") / "db")
    rng = np.random.default_rng(0)
    db = Database.open(path, DatabaseOptions(background_compaction=False, durability="off"))
    try:
        c = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "g")
        for s in range(0, 6600, 1100):
            db.add(c.id, [f"r{i}" for i in range(s, s + 1100)], rng.standard_normal((1100, 64)).astype(np.float32))
        db.compact()
    finally:
        db.close()
    return path


def test_healthy_graph_with_unreachable_rows_is_clean_with_a_recall_warning(gaussian_db, runner):
    report = verify(gaussian_db)
    assert report.clean, [p.text() for p in report.errors]
    [quality] = report.index_quality
    assert quality["rows"] == 6600 and 0.9 < quality["first_pass_recall"] <= 1.0
    # This seed leaves rows that no search reaches: the case the issue reported as "damaged".
    assert quality["unreachable"] > 0
    [warning] = [p for p in report.problems if p.area == "index"]
    assert warning.severity == "warning" and "Not damage" in warning.message
    assert f"{quality['unreachable']} stay unreachable" in warning.message
    res = invoke(runner, "verify", gaussian_db, "--json")
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert data["clean"] and data["errors"] == 0 and data["index_quality"][0]["rows"] == 6600
