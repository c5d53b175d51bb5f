"""``sedimentdb.install_as_chromadb()`` and the ``SEDIMENTDB_AS_CHROMADB`` start-up hook.

The test venv has Chroma's ``chromadb-client`` installed, which provides its own ``chromadb``
package: each test shows the alias winning over it anyway.
"""

from __future__ import annotations

import pytest

from tests.compat.helpers import run_json, run_python

# The imports langchain-chroma 1.1.0 and llama-index-vector-stores-chroma 0.6.0 make.
INTEGRATION_IMPORTS = """
import chromadb
import chromadb.config
from chromadb import Search, Settings, K, Knn, Rrf, Collection
from chromadb.api import CreateCollectionConfiguration
from chromadb.api.types import Where, WhereDocument, Embeddable
from chromadb.api.models.Collection import Collection as ModelCollection
from chromadb.api.client import SharedSystemClient
from chromadb.utils.batch_utils import create_batches
from chromadb.utils import embedding_functions
from chromadb.errors import NotFoundError
"""


def test_install_as_chromadb_resolves_every_integration_import() -> None:
    """After the call, ``chromadb``'s submodules ARE SedimentDB's modules (same objects); the top
    level is a facade over ``sedimentdb`` whose ``__version__`` is the Chroma API version."""
    out = run_json("import sedimentdb, json\nsedimentdb.install_as_chromadb()\n" + INTEGRATION_IMPORTS + """
import sedimentdb.api.types, sedimentdb.utils.embedding_functions
print(json.dumps({
    "top": chromadb.Collection is sedimentdb.Collection and chromadb.errors is sedimentdb.errors,
    "version": [chromadb.__version__, sedimentdb.CHROMA_API_VERSION, sedimentdb.__version__],
    "types": chromadb.api.types is sedimentdb.api.types,
    "ef": embedding_functions is sedimentdb.utils.embedding_functions,
    "collection": ModelCollection is sedimentdb.Collection is Collection,
    "search": Search is sedimentdb.Search,
    "names": [chromadb.__name__, chromadb.config.__name__],
}))
""")
    assert out == {"top": True, "types": True, "ef": True, "collection": True, "search": True,
                   "version": ["1.5.9", "1.5.9", out["version"][2]],
                   "names": ["chromadb", "sedimentdb.config"]}
    assert out["version"][2] != "1.5.9"  # SedimentDB's own version stays its own


def test_round_trip_through_the_alias(tmp_path) -> None:
    """Code that never names SedimentDB stores and queries through it."""
    out = run_json(f"""
import json, sedimentdb
sedimentdb.install_as_chromadb()
import chromadb
client = chromadb.PersistentClient(path={str(tmp_path)!r})
col = client.create_collection("docs")
col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["x", "y"])
res = col.query(query_embeddings=[[0.9, 0.1]], n_results=1)
print(json.dumps({{"ids": res["ids"], "engine": type(client).__module__}}))
""")
    assert out == {"ids": [["a"]], "engine": "sedimentdb.local_clients"}


def test_alias_logs_once_and_twice_installing_is_harmless() -> None:
    """One INFO line says the alias is on; a second call neither logs again nor adds a finder."""
    done = run_python("""
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
import sedimentdb
from sedimentdb import alias
sedimentdb.install_as_chromadb(); sedimentdb.install_as_chromadb()
import chromadb
print(sum(isinstance(f, alias.ChromadbAliasFinder) for f in sys.meta_path), sys.meta_path.index(
    next(f for f in sys.meta_path if isinstance(f, alias.ChromadbAliasFinder))))
""")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0"]  # one finder, placed first
    assert done.stderr.count("chromadb alias active") == 1, done.stderr


def test_a_chroma_module_sedimentdb_lacks_is_a_clear_module_not_found() -> None:
    """``chromadb.api.async_api`` is Chroma's internals: the error names it and the doc, and never
    falls through to the chromadb-client files installed next to us."""
    done = run_python("""
import sedimentdb
sedimentdb.install_as_chromadb()
for name in ("chromadb.api.async_api", "chromadb.telemetry", "chromadb.engine"):
    try:
        __import__(name)
    except ModuleNotFoundError as exc:
        print(exc.name, "|", exc)
    else:
        print(name, "IMPORTED")
""")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(" |")[0] for line in lines] == ["chromadb.api.async_api", "chromadb.telemetry", "chromadb.engine"]
    assert all("does not provide this Chroma module" in line and "DROP-IN.md" in line for line in lines)


def test_an_already_imported_chroma_is_replaced_with_a_warning() -> None:
    """Chroma's client imported first: the call forgets it, warns, and later imports get SedimentDB."""
    done = run_python("""
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
try:
    import chromadb
except ImportError:
    print("no-chroma"); raise SystemExit(0)
import sedimentdb
sedimentdb.install_as_chromadb()
import chromadb as again
print(again.Collection is sedimentdb.Collection and again.__name__ == "chromadb")
""")
    assert done.returncode == 0, done.stderr
    if done.stdout.strip() == "no-chroma":
        pytest.skip("Chroma's client is not installed here: nothing to replace (pip install chromadb-client)")
    assert done.stdout.strip() == "True"
    assert "chromadb alias replaced an already imported chromadb" in done.stderr


@pytest.mark.parametrize("value, aliased", [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)])
def test_env_var_turns_the_alias_on_without_code(value: str, aliased: bool) -> None:
    """The installed start-up hook reads SEDIMENTDB_AS_CHROMADB; unset or false leaves chromadb alone."""
    done = run_python("""
import sys
print("sedimentdb.alias" in sys.modules)
try:
    import chromadb
    print(chromadb.Collection.__module__.split(".")[0])
except ImportError:
    print("none")
""", env={"SEDIMENTDB_AS_CHROMADB": value})
    assert done.returncode == 0, done.stderr
    loaded, name = done.stdout.split()
    assert (loaded == "True") is aliased  # unset: the hook did not even import SedimentDB
    assert (name == "sedimentdb") is aliased


def test_env_var_reaches_code_that_imports_chromadb_first() -> None:
    """The LangChain case: the application's first line imports chromadb, never SedimentDB."""
    out = run_json(INTEGRATION_IMPORTS + """
import json
print(json.dumps([chromadb.__version__, ModelCollection.__module__, Search.__module__]))
""", env={"SEDIMENTDB_AS_CHROMADB": "1"})
    assert out == ["1.5.9", "sedimentdb.collection", "sedimentdb.search"]
