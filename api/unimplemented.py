"""Chroma names SedimentDB does not implement yet: they exist, and fail at use, never at import.

Code written for Chroma imports many names it never uses on a local database (Chroma Cloud's
embedding-function providers, the async and Rust client classes, request types). Each module of
the ``chromadb`` alias declares those with :func:`declare`: the name is a class (or a function,
for a lower-case name) that raises ``NotImplementedError`` naming what is missing when it is
constructed or called, as Chroma's own local client does for Cloud-only features. Every
declared name is recorded in :data:`DECLARED`, which docs/DROP-IN.md lists (a test keeps the two
in step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

DECLARED: dict[str, list[str]] = {}  # chromadb module -> names declared there, in order


def _message(qualname: str) -> str:
    return (f"{qualname} is not implemented by SedimentDB (it is part of Chroma's API that SedimentDB does not "
            "provide yet; see docs/DROP-IN.md)")


class Unimplemented:
    """Base of the placeholder classes: constructing one raises ``NotImplementedError``."""

    chroma_name = "chromadb"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(_message(self.chroma_name))

    @classmethod
    def build_from_config(cls, config: dict[str, Any]) -> NoReturn:
        """Embedding-function placeholders are rebuilt from a config: that fails the same way."""
        raise NotImplementedError(_message(cls.chroma_name))


def _function(qualname: str) -> Callable[..., NoReturn]:
    def unimplemented(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(_message(qualname))

    unimplemented.__name__ = unimplemented.__qualname__ = qualname.rsplit(".", 1)[-1]
    unimplemented.__doc__ = f"Chroma's ``{qualname}``; not implemented by SedimentDB."
    return unimplemented


def declare(namespace: dict[str, Any], chroma_module: str, names: str) -> None:
    """Define each of the whitespace-separated ``names`` in ``namespace`` as a placeholder.

    ``chroma_module`` is the Chroma module the names come from (for messages and the docs). A
    name already defined in ``namespace`` is an error: a placeholder must never hide a real object.
    """
    for name in names.split():
        if name in namespace:
            raise RuntimeError(f"{chroma_module}.{name} is already defined; it cannot also be a placeholder")
        qualname = f"{chroma_module}.{name}"
        if name[:1].isupper():
            obj: Any = type(name, (Unimplemented,), {
                "chroma_name": qualname, "__module__": namespace.get("__name__", __name__),
                "__doc__": f"Chroma's ``{qualname}``; not implemented by SedimentDB: constructing it raises "
                           "``NotImplementedError``."})
        else:
            obj = _function(qualname)
        namespace[name] = obj
        DECLARED.setdefault(chroma_module, []).append(name)


# The SedimentDB modules behind the chromadb modules whose names are declared here.
_DECLARING_MODULES = ("sedimentdb", "sedimentdb.api", "sedimentdb.api.types", "sedimentdb.api.client",
                      "sedimentdb.api.models.Collection", "sedimentdb.api.rust", "sedimentdb.config", "sedimentdb.utils.embedding_functions")


def markdown() -> str:
    """The declared names as the Markdown list docs/DROP-IN.md carries.

    ``python -c "from sedimentdb.unimplemented import markdown; print(markdown(), end='')"``
    """
    import importlib

    for module in _DECLARING_MODULES:
        importlib.import_module(module)
    return "\n".join(f"- `{module}`: " + ", ".join(f"`{name}`" for name in names)
                     for module, names in sorted(DECLARED.items())) + "\n"
