"""Helpers for the migration tests: frozen Chroma fixtures, source snapshots, comparisons."""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import tarfile

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
VERSIONS = sorted(os.path.basename(p)[len("chroma-"):-len(".tar.gz")]
                  for p in glob.glob(os.path.join(FIXTURES, "chroma-*.tar.gz")))


def extract(version: str, into: str) -> str:
    """A fresh copy of the frozen Chroma directory of ``version`` under ``into``; returns its path."""
    with tarfile.open(os.path.join(FIXTURES, f"chroma-{version}.tar.gz")) as tar:
        tar.extractall(into, filter="data")
    return os.path.join(into, "chroma")


def expected(version: str) -> dict:
    """What chromadb ``version`` read back from its fixture."""
    with open(os.path.join(FIXTURES, f"chroma-{version}.expected.json")) as f:
        return json.load(f)


def tree_state(path: str) -> dict[str, tuple[str, int, int]]:
    """Every file and directory under ``path``: (sha256 of bytes, size, mtime_ns)."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in dirs:
            p = os.path.join(root, name)
            out[os.path.relpath(p, path) + "/"] = ("dir", 0, os.stat(p).st_mtime_ns)
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            st = os.stat(p)
            out[os.path.relpath(p, path)] = (digest, st.st_size, st.st_mtime_ns)
    out["."] = ("dir", 0, os.stat(path).st_mtime_ns)
    return out


def b64(vectors) -> list[str]:
    """Embeddings as base64 of their little-endian float32 bytes (the fixtures' form)."""
    return [base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors]


def assert_matches(got: dict, want: dict, *, uri_only_metadata_is_none: bool = False) -> None:
    """One collection's ``get`` (ids, base64 embeddings, documents, metadatas, uris) equals the fixture's.

    ``uri_only_metadata_is_none``: Chroma returns ``{}`` as the metadata of a record that has
    a uri and no metadata (the uri lives in its metadata table); SedimentDB keeps uris apart
    and returns None there (docs/MIGRATE.md). Nothing else may differ.
    """
    name = want["name"]
    assert got["ids"] == want["ids"], name
    assert got["embeddings"] == want["embeddings"], f"{name}: embeddings differ (bit-exact)"
    assert got["documents"] == want["documents"], name
    assert got["uris"] == want["uris"], name
    for rid, a, b, uri in zip(want["ids"], got["metadatas"], want["metadatas"], want["uris"], strict=True):
        if uri_only_metadata_is_none and b == {} and uri is not None:
            b = None
        assert a == b and _types(a) == _types(b), f"{name}/{rid}: {a!r} != {b!r}"


def _types(meta):
    if meta is None:
        return None
    return {k: (type(v).__name__, [type(x).__name__ for x in v] if isinstance(v, list) else None)
            for k, v in meta.items()}
