"""Differential: random Chroma databases written by the real chromadb, migrated, compared with chromadb's reads.

Needs the full chromadb (the bench venv: ``make differential``); in the test venv, which holds
the HTTP-only client, these skip, saying so. Also tests the way back: the migrated database,
exported with ``sediment export``, loads into a fresh Chroma with Chroma's own client
(``sedimentdb.tools.chroma.load_export``) and Chroma then reads what it read at the start.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import sedimentdb
from sedimentdb.tools.cli import cli

from . import make_fixtures
from .helpers import assert_matches, b64

if importlib.util.find_spec("chromadb_rust_bindings") is None:
    pytest.skip("the full chromadb (with its local engine) is not installed here; `make differential` runs "
                "these in the bench venv", allow_module_level=True)

import chromadb  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("MIGRATE_DIFF_SEEDS", "1,2,3,4,5").split(",")]
ALL = ["embeddings", "documents", "metadatas", "uris"]


def _chroma_dir(tmp_path, seed: int, records: int = 400) -> tuple[str, dict]:
    dest = str(tmp_path / "chroma")
    _, exp = make_fixtures.make(chromadb.__version__, sys.prefix, str(tmp_path / "expected"), random_seed=seed,
                                records=records, dim=8, dest=dest)
    with open(exp) as f:
        return dest, json.load(f)


def _migrate(src: str, dest: str) -> dict:
    res = CliRunner().invoke(cli, ["migrate-from-chroma", src, dest, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_chroma_database_migrates_to_what_chromadb_reads(seed, tmp_path):
    src, want = _chroma_dir(tmp_path, seed)
    summary = _migrate(src, str(tmp_path / "sediment"))
    assert summary["verified"] and not summary["skipped"]
    client = sedimentdb.PersistentClient(path=str(tmp_path / "sediment"))
    try:
        for w in want["collections"]:
            col = client.get_collection(w["name"], embedding_function=None)
            assert col.configuration_json == w["configuration"] and col.metadata == w["metadata"]
            got = col.get(include=ALL)
            embs = got["embeddings"] if got["embeddings"] is not None else []
            assert_matches({**got, "embeddings": b64(embs)}, w, uri_only_metadata_is_none=True)
    finally:
        client.close()


def test_the_way_back_export_loads_into_chroma(tmp_path):
    src, want = _chroma_dir(tmp_path, 11, records=300)
    sed = str(tmp_path / "sediment")
    _migrate(src, sed)
    export = tmp_path / "export.jsonl"
    res = CliRunner().invoke(cli, ["export", sed, "--encoding", "base64", "-o", str(export)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    back = str(tmp_path / "chroma-again")
    # A fresh process with Chroma's own client, the loader run as documented (docs/MIGRATE.md).
    out = subprocess.run([sys.executable, "-m", "sedimentdb.tools.chroma.load_export", str(export), back],
                         check=True, capture_output=True, text=True)
    assert json.loads(out.stdout)["records"] == sum(w["count"] for w in want["collections"])
    again = make_fixtures.read_expected(back)
    by_name = {w["name"]: w for w in again["collections"]}
    for w in want["collections"]:
        a = by_name[w["name"]]
        assert a["configuration"]["hnsw"] == w["configuration"]["hnsw"] and a["metadata"] == w["metadata"]
        assert a["ids"] == w["ids"] and a["documents"] == w["documents"] and a["metadatas"] == w["metadatas"]
        ours = np.array([np.frombuffer(base64.b64decode(e), "<f4") for e in a["embeddings"]])
        theirs = np.array([np.frombuffer(base64.b64decode(e), "<f4") for e in w["embeddings"]])
        if w["configuration"]["hnsw"]["space"] == "cosine":
            # Chroma's cosine index hands back normalise(x) * |x|: a second trip may move the last bit.
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
        else:
            assert np.array_equal(ours, theirs)
