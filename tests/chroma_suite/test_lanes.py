"""The chroma-suite runner's plan: Chroma's single-node CI matrix, one pytest process per glob."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import PROPERTY_TESTS, counts, failures, plan_lanes  # noqa: E402

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1"
skipped="2" tests="7"><testcase classname="a.b" name="ok"/><testcase classname="a.b" name="bad"><failure message="x"/>
</testcase><testcase classname="a.c" name="boom"><error message="y"/></testcase></testsuite></testsuites>"""


def _suite_tree(root: Path) -> Path:
    for rel in ("test_api.py", "test_cli.py", "api/test_collection.py", "ef/test_default_ef.py", "ef/test_ef.py",
                "distributed/test_sanity.py", "stress/test_many_collections.py", "property/test_add.py",
                "property/test_fork.py", "property/strategies.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


def test_plan_follows_chromas_matrix(tmp_path: Path) -> None:
    """Main glob without property/, stress/, distributed/, test_cli.py; each property file alone; stress; the
    model-deleting test last."""
    side_by_side, last = plan_lanes(_suite_tree(tmp_path))
    main = side_by_side[0]
    assert main.name == "main"
    assert main.tests == ("api/test_collection.py", "ef/test_ef.py", "test_api.py")
    assert [lane.name for lane in side_by_side[1:]] == [*PROPERTY_TESTS, "stress"]
    assert side_by_side[1].tests == ("property/test_add.py",)
    assert all("test_fork" not in t for lane in side_by_side for t in lane.tests)
    assert [(lane.name, lane.tests) for lane in last] == [("last", ("ef/test_default_ef.py",))]


def test_selected_tests_make_one_lane(tmp_path: Path) -> None:
    """``--tests`` replaces the plan with one lane and nothing after it."""
    side_by_side, last = plan_lanes(_suite_tree(tmp_path), ["test_api.py::test_a"])
    assert [(lane.name, lane.tests) for lane in side_by_side] == [("selected", ("test_api.py::test_a",))]
    assert last == []


def test_counts_and_failures_from_junit(tmp_path: Path) -> None:
    """passed = tests - failures - errors - skipped; failures name both failed and erroring tests."""
    junit = tmp_path / "j.xml"
    junit.write_text(JUNIT)
    assert counts(junit) == {"passed": 3, "failed": 1, "errors": 1, "skipped": 2}
    assert failures(junit) == ["a.b::bad", "a.c::boom"]
