"""Fixtures for the tool tests (helpers live in helpers.py)."""

from __future__ import annotations

from .helpers import db_path, other_writer, runner, template_db  # noqa: F401 - fixtures
