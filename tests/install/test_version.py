"""SedimentDB's version is written once (api/version.py); the Chroma API version is apart from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

import sedimentdb
from sedimentdb import config, version

ROOT = Path(__file__).resolve().parent.parent.parent


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sedimentdb.version.__version__"}


def test_the_package_exports_both_versions() -> None:
    assert sedimentdb.__version__ == version.__version__
    assert sedimentdb.CHROMA_API_VERSION == version.CHROMA_API_VERSION == config.CHROMA_VERSION == "1.5.9"
    assert sedimentdb.__version__ != sedimentdb.CHROMA_API_VERSION


def test_embedded_get_version_is_the_chroma_api_version() -> None:
    client = sedimentdb.EphemeralClient()
    assert client.get_version() == sedimentdb.CHROMA_API_VERSION


def test_sediment_version_prints_both() -> None:
    result = subprocess.run([sys.executable, "-m", "sedimentdb", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == f"sediment {sedimentdb.__version__} (Chroma API {sedimentdb.CHROMA_API_VERSION})"
