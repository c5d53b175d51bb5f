"""Record the public names of the real chromadb into ``chromadb_names.json`` (the walk's fixture).

Run it with the FULL chromadb installed (not chromadb-client, not SedimentDB's alias)::

    python3 -m venv /tmp/chroma159 && /tmp/chroma159/bin/pip install chromadb==1.5.9
    /tmp/chroma159/bin/python tests/compat/record_chromadb_names.py names > tests/compat/chromadb_names.json
    /tmp/chroma159/bin/python tests/compat/record_chromadb_names.py schemas > tests/compat/chromadb_schemas.json
    /tmp/chroma159/bin/python tests/compat/record_chromadb_names.py search > tests/compat/chromadb_search.json

``schemas`` records ``Schema.serialize_to_json()`` of a few schemas, for the JSON tests of
:mod:`sedimentdb.schema`.

A public name is one without a leading underscore that chromadb defines or re-exports as its
own: names in ``__all__``, and objects that did not come from another package (``Dict``,
``np``, ``BaseModel``, a module's ``logger`` are someone else's names, not Chroma's API).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import types
from typing import Any

# chromadb's top level, the submodules langchain-chroma 1.1.0 and llama-index-vector-stores-chroma
# 0.6.0 import (and their tests), and the ones the drop-in promises by name.
MODULES = [
    "chromadb",
    "chromadb.api",
    "chromadb.api.client",
    "chromadb.api.models",
    "chromadb.api.models.Collection",
    "chromadb.api.types",
    "chromadb.config",
    "chromadb.errors",
    "chromadb.utils",
    "chromadb.utils.batch_utils",
    "chromadb.utils.embedding_functions",
]
# Classes whose public methods and properties integrations call.
CLASSES = ["chromadb.api.models.Collection:Collection", "chromadb.api:ClientAPI"]


def _foreign(obj: object, name: str) -> bool:
    """True when ``obj`` is another package's object that chromadb merely imported."""
    if isinstance(obj, logging.Logger):
        return True
    if isinstance(obj, types.ModuleType):
        return not obj.__name__.startswith("chromadb")
    origin = getattr(obj, "__module__", None)
    if not isinstance(origin, str) or origin.startswith("chromadb"):
        return False
    home = sys.modules.get(origin)
    return home is not None and getattr(home, name, None) is obj


def module_names(module_name: str) -> tuple[list[str], list[str]]:
    """The public names chromadb's ``module_name`` offers: (names, submodules).

    Submodules are listed apart: they are attributes only because something imported them.
    """
    module = importlib.import_module(module_name)
    names = set(getattr(module, "__all__", []) or [])
    for name in dir(module):
        if not name.startswith("_") and not _foreign(getattr(module, name), name):
            names.add(name)
    submodules = {n for n in names if isinstance(getattr(module, n, None), types.ModuleType)}
    return sorted(names - submodules), sorted(submodules)


def class_members(spec: str) -> list[str]:
    """The public attributes of the class named ``module:Class``."""
    module_name, class_name = spec.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return sorted(n for n in dir(cls) if not n.startswith("_"))


def record() -> dict[str, object]:
    """Everything the fixture holds."""
    import chromadb

    found = {m: module_names(m) for m in MODULES}
    return {
        "chromadb_version": chromadb.__version__,
        "modules": {m: names for m, (names, _) in found.items()},
        "submodules": sorted({f"{m}.{sub}" for m, (_, subs) in found.items() for sub in subs}),
        "classes": {c: class_members(c) for c in CLASSES},
    }


def record_schemas() -> dict[str, object]:
    """Chroma's JSON for a default schema and a few changed ones (the same list the tests rebuild)."""
    import chromadb as c

    return {
        "default": c.Schema().serialize_to_json(),
        "vector_cosine": c.Schema().create_index(
            c.VectorIndexConfig(space="cosine", hnsw=c.HnswIndexConfig(ef_search=50))).serialize_to_json(),
        "no_color_index": c.Schema().delete_index(c.StringInvertedIndexConfig(), key="color").serialize_to_json(),
        "no_fts": c.Schema().delete_index(c.FtsIndexConfig(), key="#document").serialize_to_json(),
        "int_off_globally": c.Schema().delete_index(c.IntInvertedIndexConfig()).serialize_to_json(),
    }


def record_search(c: Any = None) -> dict[str, object]:
    """``to_dict()`` of a few search expressions; the tests build the same ones with SedimentDB's
    classes (``c`` is the module to take them from: chromadb here, the alias in the tests)."""
    if c is None:
        import chromadb as c
    K, Knn = c.K, c.Knn
    val = importlib.import_module(c.Search.__module__.rsplit(".", 1)[0] + ".operator").Val \
        if c.__name__ == "chromadb" else importlib.import_module("sedimentdb.search").Val
    return {
        "knn_where": c.Search(where=(K("status") == "active") & (K("n") > 3), rank=Knn(query=[0.1, 0.2]),
                              limit=10, select=["#document", "#score"]).to_dict(),
        "rrf": c.Search().rank(c.Rrf([Knn(query=[0.1, 0.2], return_rank=True),
                                      Knn(query="hello", key="sparse", return_rank=True)],
                                     weights=[2.0, 1.0], k=100)).to_dict(),
        "arith": (Knn(query=[1.0, 0.0]) * 0.8 + val(0.5) * 0.2).to_dict(),
        "builder": c.Search().where(K.DOCUMENT.contains("x") | K("tag").is_in(["a", "b"]))
                    .limit(5, offset=2).select(K.DOCUMENT, "title").to_dict(),
        "sparse": c.SparseVector(indices=[1, 5], values=[0.5, 0.25], labels=["a", "b"]).to_dict(),
    }


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "names"
    recorders = {"names": record, "schemas": record_schemas, "search": record_search}
    json.dump(recorders[what](), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
