"""Run Python code, or the ``sediment`` command, as if some packages were not installed.

    python tests/install/blocked.py MOD[,MOD...] -c CODE
    python tests/install/blocked.py MOD[,MOD...] sediment ARGS...

A meta-path finder placed first refuses the named top-level modules (and their submodules)
with the ``ModuleNotFoundError`` a missing package gives, so a test can simulate an install
without an extra in the dev venv, which has them all. A separate process: the blocked modules
must not be imported already.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec


class Blocker:
    """Refuses to find ``names`` (top-level module names) and everything under them."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: object = None) -> ModuleSpec | None:
        """Raise for a blocked name; return None (let the next finder look) for any other."""
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


def main(argv: list[str]) -> None:
    """Install the blocker, then run ``-c CODE`` or the ``sediment`` command line."""
    names = {n for n in argv[0].split(",") if n}
    assert not names & set(sys.modules), f"already imported: {names & set(sys.modules)}"
    sys.meta_path.insert(0, Blocker(names))
    if argv[1] == "-c":
        exec(compile(argv[2], "<blocked>", "exec"), {"__name__": "__main__"})
    elif argv[1] == "sediment":
        sys.argv = ["sediment", *argv[2:]]
        from sedimentdb.tools.cli import main as sediment

        sediment()
    else:
        raise SystemExit(f"usage: {__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
