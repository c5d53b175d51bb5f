"""Every public name of chromadb 1.5.9 (recorded from the real package into chromadb_names.json)
exists under the ``chromadb`` alias; what SedimentDB does not implement fails at use, and is listed
in docs/DROP-IN.md."""

from __future__ import annotations

import re

from tests.compat.helpers import REPO, load_fixture, run_json

# Chroma's internal submodules (attributes of chromadb only because its own imports loaded them):
# SedimentDB does not provide them, and docs/DROP-IN.md says so. The test fails when this list and
# what is really missing differ, in either direction.
NOT_PROVIDED_SUBMODULES = {
    "chromadb.api.async_api", "chromadb.api.async_client", "chromadb.api.base_http_client",
    "chromadb.api.configuration", "chromadb.api.functions", "chromadb.api.models.AsyncCollection",
    "chromadb.api.models.AttachedFunction", "chromadb.api.models.CollectionCommon",
    "chromadb.api.shared_system_client", "chromadb.api.types.errors", "chromadb.auth", "chromadb.base_types",
    "chromadb.chromadb", "chromadb.execution", "chromadb.serde", "chromadb.telemetry",
    "chromadb.utils.sparse_embedding_utils",
}
PROVIDER_MODULE = re.compile(r"^chromadb\.utils\.embedding_functions\.(?!onnx_mini_lm_l6_v2$)\w+$")

WALK = """
import importlib, json, sys
import sedimentdb
sedimentdb.install_as_chromadb()
fixture = json.loads(sys.stdin.read()) if False else json.load(open("chromadb_names.json"))
missing, missing_members, unimportable = [], [], []
for module_name, names in fixture["modules"].items():
    module = importlib.import_module(module_name)
    missing += [f"{module_name}.{n}" for n in names if not hasattr(module, n)]
for spec, members in fixture["classes"].items():
    module_name, class_name = spec.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    missing_members += [f"{spec}.{m}" for m in members if not hasattr(cls, m)]
for sub in fixture["submodules"]:
    try:
        importlib.import_module(sub)
    except ModuleNotFoundError:
        unimportable.append(sub)
from sedimentdb.unimplemented import DECLARED
print(json.dumps({"missing": missing, "members": missing_members, "unimportable": unimportable,
                  "declared": DECLARED, "version": fixture["chromadb_version"]}))
"""


def _walk() -> dict:
    return run_json(WALK)


def test_fixture_is_chromadb_1_5_9_and_complete() -> None:
    """The fixture was recorded from the real package and covers what the integrations import."""
    fixture = load_fixture("chromadb_names.json")
    assert fixture["chromadb_version"] == "1.5.9"
    for module, name in [("chromadb", "Search"), ("chromadb", "Schema"), ("chromadb", "SparseVector"),
                         ("chromadb", "ClientAPI"), ("chromadb.api", "CreateCollectionConfiguration"),
                         ("chromadb.api.models.Collection", "Collection"), ("chromadb.utils.batch_utils",
                                                                           "create_batches")]:
        assert name in fixture["modules"][module]
    assert sum(len(v) for v in fixture["modules"].values()) > 450


def test_every_public_name_exists_under_the_alias() -> None:
    """Each recorded name and class member exists; each recorded submodule imports or is a listed internal."""
    out = _walk()
    assert out["missing"] == []
    assert out["members"] == []
    provider_modules = {m for m in out["unimportable"] if PROVIDER_MODULE.match(m)}
    assert set(out["unimportable"]) - provider_modules == NOT_PROVIDED_SUBMODULES


def test_unimplemented_names_fail_at_use_with_chromas_not_implemented_error() -> None:
    """A declared placeholder constructs or calls into NotImplementedError naming itself."""
    out = run_json("""
import json, sedimentdb
sedimentdb.install_as_chromadb()
from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction
from chromadb.api.types import validate_batch
import chromadb
messages = []
for call in (lambda: OpenAIEmbeddingFunction(api_key="k"), lambda: validate_batch(None, {}),
             lambda: chromadb.EphemeralClient().get_or_create_collection("idx-me").get_indexing_status()):
    try:
        call()
        messages.append("no error")
    except NotImplementedError as exc:
        messages.append(str(exc))
print(json.dumps(messages))
""")
    assert "chromadb.utils.embedding_functions.OpenAIEmbeddingFunction is not implemented" in out[0]
    assert "chromadb.api.types.validate_batch is not implemented" in out[1]
    assert out[2] == "Indexing status is not implemented for Local Chroma"


def test_drop_in_doc_lists_every_unimplemented_name() -> None:
    """docs/DROP-IN.md names each placeholder and each submodule not provided."""
    doc = (REPO / "docs" / "DROP-IN.md").read_text()
    out = _walk()
    absent = [f"{module}.{name}" for module, names in out["declared"].items() for name in names
              if f"`{name}`" not in doc]
    absent += [m for m in NOT_PROVIDED_SUBMODULES if f"`{m}`" not in doc]
    assert absent == []


def test_drop_in_doc_lists_exactly_the_unimplemented_names() -> None:
    """docs/DROP-IN.md's list of placeholders is what sedimentdb.unimplemented declares, so
    implementing a name (or adding a placeholder) without updating the docs fails here."""
    from pathlib import Path

    from sedimentdb.unimplemented import markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "DROP-IN.md").read_text(encoding="utf-8")
    listed = [line for line in doc.splitlines() if line.startswith("- `chromadb")]
    assert listed == markdown().rstrip("\n").split("\n")
