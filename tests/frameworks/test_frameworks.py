"""LangChain (langchain-chroma 1.1.0) and LlamaIndex (llama-index-vector-stores-chroma 0.6.0) on SedimentDB.

Each flow runs in a child process twice: embedded, through the ``chromadb`` alias turned on by
``SEDIMENTDB_AS_CHROMADB=1`` (the application never names SedimentDB), and over HTTP, with Chroma's
own ``chromadb-client`` against ``sediment run``. ``make frameworks`` installs the integrations
(with ``--no-deps``: Chroma's full package is never installed) and runs these tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.server_process import ServerProcess

HERE = Path(__file__).resolve().parent
MISSING = [m for m in ("langchain_chroma", "llama_index.vector_stores.chroma")
           if importlib.util.find_spec(m.split(".")[0]) is None
           or (m.startswith("llama") and importlib.util.find_spec("llama_index.vector_stores") is None)]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {MISSING} (run `make frameworks`)")


def _run(script: str, *args: str, alias: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "SEDIMENTDB_AS_CHROMADB"}
    if alias:
        env["SEDIMENTDB_AS_CHROMADB"] = "1"
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=str(HERE))
    assert done.returncode == 0, f"{script} {args} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``sediment run`` on 127.0.0.1 and a free port for this module."""
    root = tmp_path_factory.mktemp("frameworks-server")
    proc = ServerProcess(root / "data", root / "server.log").start()
    yield proc
    proc.stop()


def test_langchain_embedded_through_the_alias_and_reopened_in_a_new_process(tmp_path: Path) -> None:
    """add_texts, similarity_search (with score, MMR, filters, where_document), get, delete; then a new
    process reopens the directory and sees the same records."""
    path = str(tmp_path / "db")
    first = _run("langchain_flow.py", "embedded-write", path, alias=True)
    assert first == {"remaining": ["doc0", "doc2", "doc3", "doc4"], "chromadb": "sedimentdb"}
    again = _run("langchain_flow.py", "embedded-reopen", path, alias=True)
    assert again == {"remaining": ["doc0", "doc2", "doc3", "doc4"], "chromadb": "sedimentdb"}


def test_langchain_over_http_with_chromas_client(server: ServerProcess) -> None:
    """The same flow with Chroma's own HTTP client against ``sediment run``."""
    out = _run("langchain_flow.py", "http", str(server.port), alias=False)
    assert out == {"remaining": ["doc0", "doc2", "doc3", "doc4"], "chromadb": "chromadb"}


def test_langchain_over_http_with_sedimentdbs_client_through_the_alias(server: ServerProcess) -> None:
    """With the alias on, ``chromadb.HttpClient`` is SedimentDB's own HTTP client: the flow works too."""
    out = _run("langchain_flow.py", "http", str(server.port), alias=True)
    assert out == {"remaining": ["doc0", "doc2", "doc3", "doc4"], "chromadb": "sedimentdb"}


def test_llamaindex_embedded_through_the_alias(tmp_path: Path) -> None:
    """insert, retrieve, metadata filters, raw vector-store query, delete_ref_doc."""
    out = _run("llamaindex_flow.py", "embedded", str(tmp_path / "db"), alias=True)
    assert out == {"count_after_delete": 3, "chromadb": "sedimentdb"}


def test_llamaindex_over_http_with_chromas_client(server: ServerProcess) -> None:
    """The same flow with Chroma's own HTTP client against ``sediment run``."""
    out = _run("llamaindex_flow.py", "http", str(server.port), alias=False)
    assert out == {"count_after_delete": 3, "chromadb": "chromadb"}


def test_the_full_chromadb_package_is_not_installed() -> None:
    """The integrations were installed without Chroma's package: only the thin client (or nothing)."""
    from importlib import metadata

    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("chromadb")
    # Dependencies only Chroma's full package brings (mmh3 is no longer one of them here: the
    # test extra installs it for chromadb-client's own BM25 function in tests/http).
    for dist in ("pypika", "kubernetes", "typer", "importlib-resources"):
        with pytest.raises(metadata.PackageNotFoundError):
            metadata.version(dist)
