"""``import chromadb`` resolves to SedimentDB: :func:`install_as_chromadb` (PyMySQL's
``install_as_MySQLdb`` convention) and the ``SEDIMENTDB_AS_CHROMADB`` start-up opt-in.

A meta-path finder placed first on ``sys.meta_path`` answers every ``chromadb`` and
``chromadb.<sub>`` import with the SedimentDB module of the same path (``chromadb.api.types``
is :mod:`sedimentdb.api.types`): the very same module object, so ``chromadb.Collection is
sedimentdb.Collection``. The top-level ``chromadb`` is a thin facade over :mod:`sedimentdb` whose
only difference is ``__version__``: it answers the Chroma API version SedimentDB matches
(``CHROMA_API_VERSION``), as ``install_as_MySQLdb`` gives MySQLdb's ``version_info``, so code that
gates on ``chromadb.__version__`` sees the Chroma it was written for; ``sedimentdb.__version__``
stays SedimentDB's own. Being first, it wins over Chroma's own package or ``chromadb-client``
when those are installed too. A Chroma submodule SedimentDB does not provide (``chromadb.api.rust``,
``chromadb.telemetry``…) fails with a ``ModuleNotFoundError`` that says so; it never silently
imports Chroma's file.

The start-up hook is ``sedimentdb-as-chromadb.pth``, installed next to the package: Python's
``site`` runs it at every start, and it imports this module only when ``SEDIMENTDB_AS_CHROMADB``
is set to a true value (``1``, ``true``, ``yes``, ``on``), so an unset variable costs one
environment lookup.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

from sedimentdb.engine import logkeys

log = logkeys.get_logger(__name__)

ALIAS = "chromadb"
TARGET = "sedimentdb"
ENV_VAR = "SEDIMENTDB_AS_CHROMADB"
_TRUE = {"1", "true", "yes", "on"}
# SedimentDB's own internals are not Chroma API: ``chromadb.engine`` must not quietly exist.
_NOT_ALIASED = {"engine", "tools", "alias", "unimplemented", "http", "server"}
_lock = threading.Lock()
_logged = False


class _ExistingModuleLoader(importlib.abc.Loader):
    """Hands the import system an already imported SedimentDB module instead of running a file."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        """The SedimentDB module itself (its ``__name__`` and ``__spec__`` stay SedimentDB's)."""
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was executed when SedimentDB imported it."""


class _ChromadbFacade(ModuleType):
    """``chromadb`` itself: every attribute is SedimentDB's, except ``__version__``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(TARGET), name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(importlib.import_module(TARGET))) | set(self.__dict__))


def _facade() -> ModuleType:
    """A new top-level ``chromadb`` module (the import system caches it in ``sys.modules``)."""
    target = importlib.import_module(TARGET)
    facade = _ChromadbFacade(ALIAS, target.__doc__)
    facade.__version__ = target.CHROMA_API_VERSION  # type: ignore[attr-defined]
    facade.__path__ = list(target.__path__)  # a package, so ``chromadb.<sub>`` imports go on
    return facade


class ChromadbAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``chromadb[.<sub>]`` as ``sedimentdb[.<sub>]``."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        """A spec for the SedimentDB module behind ``fullname``; ``None`` for other names."""
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        suffix = fullname[len(ALIAS):]
        first = suffix[1:].split(".", 1)[0]
        target_name = TARGET + suffix
        if first in _NOT_ALIASED:
            raise _not_provided(fullname)
        if fullname == ALIAS:
            return importlib.util.spec_from_loader(fullname, _ExistingModuleLoader(_facade()))
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name != target_name:  # something the SedimentDB module needs is missing: say that
                raise
            raise _not_provided(fullname) from None
        return importlib.util.spec_from_loader(fullname, _ExistingModuleLoader(module))


def _not_provided(fullname: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"No module named {fullname!r}: the chromadb alias is SedimentDB (sedimentdb.install_as_chromadb), "
        f"which does not provide this Chroma module; docs/DROP-IN.md lists what it provides",
        name=fullname,
    )


def _drop_foreign_chromadb() -> int:
    """Forget a real ``chromadb`` imported before the alias went on; how many modules were dropped."""
    dropped = [name for name, module in list(sys.modules.items())
               if (name == ALIAS or name.startswith(ALIAS + "."))
               and not getattr(module, "__name__", "").startswith(TARGET)]
    for name in dropped:
        del sys.modules[name]
    return len(dropped)


def is_installed() -> bool:
    """Whether the alias finder is on ``sys.meta_path``."""
    return any(isinstance(finder, ChromadbAliasFinder) for finder in sys.meta_path)


def install_as_chromadb(mode: str = "call") -> None:
    """Make ``import chromadb`` (and ``chromadb.<sub>``) import SedimentDB, in this process.

    Call it before the code that imports ``chromadb``. Calling it again does nothing. A real
    ``chromadb`` imported earlier is forgotten (objects already taken from it stay Chroma's),
    with a warning. ``mode`` says who asked (``call`` or ``env``), for the log line.
    """
    global _logged
    with _lock:
        if not is_installed():
            sys.meta_path.insert(0, ChromadbAliasFinder())
        dropped = _drop_foreign_chromadb()
        if dropped:
            log.warning("chromadb alias replaced an already imported chromadb", count=dropped, mode=mode,
                        hint="call sedimentdb.install_as_chromadb() before anything imports chromadb")
        if not _logged:
            _logged = True
            log.info("chromadb alias active: import chromadb resolves to sedimentdb", mode=mode)


def uninstall() -> None:
    """Take the alias off and forget the ``chromadb`` modules it served (for tests)."""
    global _logged
    with _lock:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ChromadbAliasFinder)]
        for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
            del sys.modules[name]
        _logged = False


def env_requests_alias(environ: Any = None) -> bool:
    """Whether ``SEDIMENTDB_AS_CHROMADB`` asks for the alias."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return value.strip().lower() in _TRUE


def install_from_env() -> None:
    """The start-up hook's entry point: install the alias when the environment asks for it."""
    if env_requests_alias():
        install_as_chromadb(mode="env")
