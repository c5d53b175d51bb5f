"""Record the public names of the real chromadb into ``chromadb_names.json`` (the walk's fixture).

Run it with the FULL chromadb installed (not chromadb-client, not SedimentDB's alias)::

    python3 -m venv /tmp/chroma159 && /tmp/chroma159/bin/pip install chromadb==1.5.9
    /tmp/chroma159/bin/python tests/compat/record_chromadb_names.py > tests/compat/chromadb_names.json

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


if __name__ == "__main__":
    json.dump(record(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
