"""Fixtures of the crash, fault-injection and fuzz tests: quiet engine logs, trial counts."""

from __future__ import annotations

import logging
import os

import pytest
import structlog


def env_int(name: str, default: int) -> int:
    """An integer from the environment (used for the trial counts of the long runs)."""
    value = os.environ.get(name)
    return int(value) if value else default


@pytest.fixture(autouse=True, scope="module")
def quiet_structlog():
    """Drop engine log lines below WARNING while these tests run, then restore the config."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    yield
    structlog.configure(**saved)


FIGURES_KEY = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def figures(request) -> dict:
    """A session-wide dict of counters (persistence points, crash states, cases...) printed at the end."""
    stash = request.config.stash
    if FIGURES_KEY not in stash:
        stash[FIGURES_KEY] = {}
    return stash[FIGURES_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the figures gathered by the crash tests (docs/TESTING.md quotes them)."""
    figs = config.stash.get(FIGURES_KEY, None)
    if figs:
        terminalreporter.section("sedimentdb crash/fault figures")
        for key in sorted(figs):
            terminalreporter.write_line(f"{key}: {figs[key]}")
