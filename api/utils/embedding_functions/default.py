"""``DefaultEmbeddingFunction``: what a collection uses when no embedding function is given.

Chroma's default is all-MiniLM-L6-v2; so is SedimentDB's, through :class:`ONNXMiniLM_L6_V2`,
offline. It persists as ``{"type": "known", "name": "default", "config": {}}`` exactly like
Chroma's, so a collection created by either reopens with the same function.
"""

from __future__ import annotations

from typing import Any

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction
from sedimentdb.utils.embedding_functions.model_files import MAX_TOKENS
from sedimentdb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from sedimentdb.utils.embedding_functions.registry import register_embedding_function
from sedimentdb.utils.embedding_functions.value_types import Documents, Embeddings


@register_embedding_function
class DefaultEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2, 384 dims, run offline; configuration ``{}``.

    Constructing it never loads anything, so creating a collection stays instant and works
    without the optional extra; the first embedding call loads the model or raises an error
    naming the install command.
    """

    def __init__(self) -> None:
        """Nothing to configure; the model loads on first call."""
        self._model = ONNXMiniLM_L6_V2()

    def __call__(self, input: Documents) -> Embeddings:
        """Embed a list of texts with all-MiniLM-L6-v2."""
        return self._model(input)

    @staticmethod
    def name() -> str:
        """Chroma's registry name for the default function."""
        return "default"

    def get_config(self) -> dict[str, Any]:
        """Always ``{}``, as in Chroma."""
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> DefaultEmbeddingFunction:
        """The configuration carries nothing; returns a new default function."""
        DefaultEmbeddingFunction.validate_config(config)
        return DefaultEmbeddingFunction()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Any configuration is accepted and ignored, as in Chroma."""
        return

    def max_tokens(self) -> int:
        """Texts longer than this many tokens are truncated."""
        return MAX_TOKENS

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(self.name())

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"
