"""Issue 17: every reader of the log goes through engine/wal (the cursor and its listing).

No module outside ``engine/wal/`` may list, glob, walk or open the log directory or a log
file itself, nor spell the log files' name pattern: they call :class:`LogCursor`, ``scan``,
``check_log``, ``read_log_files`` or ``list_log_files``. The check reads the source (AST), so
a new walker anywhere in engine/, tools/ or api/ fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = ("engine", "tools", "api")
OWNER = ROOT / "engine" / "wal"
# Chroma's own files (its SQLite database has a "-wal" file of its own) are read there, not ours.
NOT_OURS = ROOT / "tools" / "chroma"

# Calls that read a directory or a file; their argument must not be the log directory or a log file.
READING_CALLS = {"listdir", "scandir", "glob", "iglob", "walk", "open", "read_bytes", "open_read", "map_bytes",
                 "size", "getsize", "stat"}
WAL_PATH = re.compile(r"""(['"])wal\1|\bwal_?dir\b|\bself\.wal\b|\bwal\b""")
LOG_NAME = re.compile(r"(^|[*\d])\.log$")  # "*.log", "00000000000000000001.log", ".log"


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):  # Wal.open is the log's own entry point
        return "" if isinstance(f.value, ast.Name) and f.value.id == "Wal" else f.attr
    return f.id if isinstance(f, ast.Name) else ""


def _knows_the_log(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("sedimentdb.engine.wal")
               for n in ast.walk(tree))


def walkers(source: str, where: str) -> list[str]:
    """Places in ``source`` that walk the log directory or name a log file themselves.

    Besides calls on the log directory, a module that imports the log must not call the
    builtin ``open()`` at all: it reads files through the FileSystem layer, and log files
    through the cursor (``sediment wal tail`` once followed the log with its own ``open()``).
    """
    found = []
    tree = ast.parse(source)
    knows_log = _knows_the_log(tree)
    for node in ast.walk(tree):
        if knows_log and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append(f"{where}:{node.lineno}: builtin open() in a module that reads the log: {ast.unparse(node)}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and LOG_NAME.search(node.value):
            found.append(f"{where}:{node.lineno}: names a log file ({node.value!r})")
        if isinstance(node, ast.Call) and _call_name(node) in READING_CALLS:
            args = " ".join(ast.unparse(a) for a in [*node.args, *(k.value for k in node.keywords)])
            if WAL_PATH.search(args):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_log_package_walks_the_log() -> None:
    found = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if OWNER in path.parents or NOT_OURS in path.parents:
                continue
            found += walkers(path.read_text(), str(path.relative_to(ROOT)))
    assert found == [], "read the log through sedimentdb.engine.wal (LogCursor, scan, list_log_files):\n" + \
        "\n".join(found)


def test_the_check_finds_a_walker() -> None:
    """The scan above can fail: each way of walking the log by hand is caught."""
    snippets = [
        'os.listdir(os.path.join(path, "wal"))',
        "glob.glob(waldir + '/*.log')",
        "open(os.path.join(self.wal, name), 'rb')",
        "fs.read_bytes(os.path.join(wal_dir, n))",
        "name.endswith('.log')",
        "from sedimentdb.engine.wal import scan\nwith open(path, 'rb') as f: f.read()",
    ]
    for snippet in snippets:
        assert walkers(snippet, "x.py"), snippet
    assert walkers('fs.listdir(os.path.join(path, "segments"))', "x.py") == []
