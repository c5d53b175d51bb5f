"""Run all-MiniLM-L6-v2: tokenize, run the ONNX graph, mean-pool, L2-normalise.

One runtime per process and provider list, created on first use behind a lock; onnxruntime
sessions and ``tokenizers`` tokenizers are safe to share between threads. Importing this
module imports neither onnxruntime nor tokenizers: :func:`get_runtime` does, and turns their
absence into an error naming the install command.

Texts are truncated at 256 tokens (Chroma's limit), sorted by length and embedded in batches
padded to the longest text of the batch. Chroma pads every text to 256 tokens; padded positions
are masked out of attention and pooling, so the vectors are the same and the work far smaller.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sedimentdb.utils.embedding_functions.extra_missing import EmbeddingExtraMissingError
from sedimentdb.utils.embedding_functions.model_files import MAX_TOKENS, locate_model_files

BATCH_SIZE = 32  # Chroma's batch size; bounds memory at 32 x 256 x 384 floats per layer
DIMENSIONS = 384
_NORM_FLOOR = 1e-12  # Chroma's floor: an all-zero vector stays zero instead of becoming NaN

_lock = threading.Lock()
_runtimes: dict[tuple[str, ...], MiniLMRuntime] = {}


class MiniLMRuntime:
    """A loaded tokenizer and inference session for all-MiniLM-L6-v2."""

    def __init__(self, tokenizer: Any, session: Any) -> None:
        self._tokenizer = tokenizer
        self._session = session

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Return a ``[len(texts), 384]`` float32 array of unit vectors, in input order."""
        encodings = self._tokenizer.encode_batch(list(texts))
        token_ids = [e.ids for e in encodings]
        # Embedding similar lengths together keeps padding, and so wasted work, small.
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            out[batch] = self._embed_batch([token_ids[i] for i in batch])
        return out

    def _embed_batch(self, token_ids: list[list[int]]) -> npt.NDArray[np.float32]:
        width = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        return _normalize(_mean_pool(hidden, mask))


def get_runtime(preferred_providers: Sequence[str] | None = None) -> MiniLMRuntime:
    """The process-wide runtime for these providers, loading (and on first use building) it."""
    key = tuple(preferred_providers or ())
    with _lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            runtime = _load(key)
            _runtimes[key] = runtime
        return runtime


def _load(preferred_providers: tuple[str, ...]) -> MiniLMRuntime:
    ort, tokenizers = _import_runtime_packages()
    files = locate_model_files()
    from sedimentdb.utils.embedding_functions.onnx_cache import load_or_build_graph

    graph = load_or_build_graph(files)
    tokenizer = tokenizers.Tokenizer.from_file(str(files.tokenizer))
    # tokenizer.json ships truncation at 128 and fixed padding; set Chroma's behaviour instead.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    session = ort.InferenceSession(graph, providers=_providers(ort, preferred_providers))
    return MiniLMRuntime(tokenizer, session)


def _import_runtime_packages() -> tuple[Any, Any]:
    # onnxruntime 1.31 on Linux starts Microsoft's 1DS telemetry when it is first loaded: it
    # records process and machine details under $XDG_CACHE_HOME/Microsoft and is built to
    # upload them to events.data.microsoft.com. Only this variable, set before the library is
    # loaded, stops it (disable_telemetry_events() afterwards does not). A user's own setting wins.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime
    except ImportError as e:
        raise EmbeddingExtraMissingError("the onnxruntime package") from e
    onnxruntime.disable_telemetry_events()
    try:
        import tokenizers
    except ImportError as e:
        raise EmbeddingExtraMissingError("the tokenizers package") from e
    return onnxruntime, tokenizers


def _providers(ort: Any, preferred: tuple[str, ...]) -> list[str]:
    if not preferred:
        return ["CPUExecutionProvider"]
    available = set(ort.get_available_providers())
    unknown = [p for p in preferred if p not in available]
    if unknown:
        raise ValueError(f"Preferred providers {unknown} are not available; available: {sorted(available)}")
    return list(preferred)


def _mean_pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    weights = mask[..., None].astype(np.float32)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    return (hidden * weights).sum(axis=1) / counts


def _normalize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = _NORM_FLOOR
    return (vectors / norms[:, None]).astype(np.float32)
