"""The start-up hook ships in the wheel and works from it, in a fresh venv (not only in the editable dev install).

The wheel is built the way pip builds one from PyPI's sdist: sdist from this checkout, wheel from
the unpacked sdist (so a hook left out of the sdist fails here); the fresh venv gets it with ``--no-deps`` and borrows its
dependencies from the test venv through a path file (that directory is added to ``sys.path`` but
is not a site directory, so the test venv's own .pth files, the editable install among them, stay off).
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.compat.helpers import REPO, run_python


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new venv's python with the freshly built SedimentDB wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(root)!r})"],
                   check=True, capture_output=True, cwd=str(REPO))
    sdist = next(root.glob("sedimentdb-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(root / "src", filter="data")
    source = next((root / "src").iterdir())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(root / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((root / "dist").glob("sedimentdb-*.whl"))
    assert "sedimentdb-as-chromadb.pth" in zipfile.ZipFile(wheel).namelist()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = str(root / "venv" / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    assert (Path(purelib) / "sedimentdb-as-chromadb.pth").is_file()
    Path(purelib, "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def test_env_var_turns_the_alias_on_from_the_wheel(fresh_python: str) -> None:
    """SEDIMENTDB_AS_CHROMADB=1: ``import chromadb`` is the wheel's sedimentdb, even with chromadb-client around."""
    done = run_python("""
import json, chromadb
from chromadb.api.models.Collection import Collection
print(json.dumps([chromadb.__version__, chromadb.__file__, Collection.__module__]))
""", env={"SEDIMENTDB_AS_CHROMADB": "1"}, python=fresh_python)
    assert done.returncode == 0, done.stderr
    version, path, collection_module = json.loads(done.stdout.strip().splitlines()[-1])
    assert version == "1.5.9" and collection_module == "sedimentdb.collection"
    assert str(Path(fresh_python).parents[1]) in path  # the wheel's copy, not the checkout


def test_unset_env_var_leaves_chromadb_alone_and_imports_nothing(fresh_python: str) -> None:
    """Without the variable the hook costs an environment lookup: SedimentDB is not even imported."""
    done = run_python("import sys; print(sorted(m for m in sys.modules if m.startswith('sedimentdb')))",
                      python=fresh_python)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
