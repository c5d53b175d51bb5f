"""Build the ONNX graph once and cache it under the user's cache directory, verified at load.

Layout (``$XDG_CACHE_HOME`` or ``~/.cache``, like Chroma's ``~/.cache/chroma``)::

    sedimentdb/onnx_models/all-MiniLM-L6-v2/<weights sha256[:16]>-b<builder version>/
        model.onnx       the graph with the weights inside (~90 MB)
        manifest.json    {"weights_sha256", "onnx_sha256", "builder_version", "bytes"}

The directory name is the cache key: other weights or a changed builder never reuse a graph.
At load the graph's SHA-256 must equal the manifest's, otherwise it is rebuilt; the session is
created from the verified bytes themselves, so what was checked is what runs. Writes are
atomic (temp file, fsync, rename) and the build is deterministic, so concurrent first uses in
several processes are harmless. If the cache is not writable the graph is built in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from sedimentdb.engine import logkeys
from sedimentdb.engine.logkeys import get_logger
from sedimentdb.utils.embedding_functions.extra_missing import EmbeddingExtraMissingError
from sedimentdb.utils.embedding_functions.model_files import MODEL_NAME, WEIGHTS_SHA256, ModelFiles

log = get_logger("sedimentdb.embeddings")

BUILDER_VERSION = 1
"""Bump whenever ``bert_onnx`` changes the graph it emits: it is part of the cache key, so a
graph from an older builder is never reused. Kept here, not in ``bert_onnx``, so that a cache
hit does not import ``onnx``."""

_GRAPH_FILE = "model.onnx"
_MANIFEST_FILE = "manifest.json"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/sedimentdb`` when set (and absolute), else ``~/.cache/sedimentdb``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "sedimentdb"


def graph_dir(builder_version: int) -> Path:
    """The cache directory for the pinned weights and the given builder version."""
    return cache_root() / "onnx_models" / MODEL_NAME / f"{WEIGHTS_SHA256[:16]}-b{builder_version}"


def load_or_build_graph(files: ModelFiles) -> bytes:
    """Return the verified serialized ONNX graph, building and caching it on first use."""
    directory = graph_dir(BUILDER_VERSION)
    cached = _read_verified(directory, BUILDER_VERSION)
    if cached is not None:
        return cached
    graph = _build(files)
    _write(directory, graph, BUILDER_VERSION)
    return graph


def _read_verified(directory: Path, builder_version: int) -> bytes | None:
    try:
        manifest = json.loads((directory / _MANIFEST_FILE).read_text(encoding="utf-8"))
        graph = (directory / _GRAPH_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning(
            "embedding graph cache unreadable; rebuilding",
            **{logkeys.PATH: str(directory), logkeys.ERROR: str(e)},
        )
        return None
    expected = {"weights_sha256": WEIGHTS_SHA256, "builder_version": builder_version}
    if any(manifest.get(k) != v for k, v in expected.items()) or (
        hashlib.sha256(graph).hexdigest() != manifest.get("onnx_sha256")
    ):
        log.warning(
            "cached embedding graph failed verification; rebuilding",
            **{logkeys.PATH: str(directory / _GRAPH_FILE), logkeys.BYTES: len(graph)},
        )
        return None
    return graph


def _build(files: ModelFiles) -> bytes:
    try:
        from sedimentdb.utils.embedding_functions.bert_onnx import BertShape, build_bert_onnx
    except ImportError as e:
        raise EmbeddingExtraMissingError("onnx (used once, to build the model graph)") from e
    from sedimentdb.utils.embedding_functions.safetensors_reader import read_safetensors

    started = time.monotonic()
    config = files.bert_config()
    shape = BertShape(
        layers=config["num_hidden_layers"],
        hidden=config["hidden_size"],
        heads=config["num_attention_heads"],
        layer_norm_eps=config["layer_norm_eps"],
    )
    graph = build_bert_onnx(read_safetensors(files.weights), shape)
    log.info(
        "built embedding model graph from weights",
        **{logkeys.PATH: str(files.weights), logkeys.BYTES: len(graph)},
        **{logkeys.DURATION_MS: round((time.monotonic() - started) * 1000)},
    )
    return graph


def _write(directory: Path, graph: bytes, builder_version: int) -> None:
    manifest = {
        "model": MODEL_NAME,
        "weights_sha256": WEIGHTS_SHA256,
        "onnx_sha256": hashlib.sha256(graph).hexdigest(),
        "builder_version": builder_version,
        "bytes": len(graph),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Graph first, manifest last: a reader that finds the manifest finds a complete graph.
        _atomic_write(directory / _GRAPH_FILE, graph)
        _atomic_write(directory / _MANIFEST_FILE, json.dumps(manifest, indent=2).encode("utf-8"))
    except OSError as e:
        log.warning(
            "embedding graph cache not writable; using the in-memory graph (it is rebuilt next process)",
            **{logkeys.PATH: str(directory), logkeys.ERROR: str(e)},
            **{logkeys.HINT: "set XDG_CACHE_HOME to a writable directory"},
        )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
