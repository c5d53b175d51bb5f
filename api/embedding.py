"""How a collection finds and calls its embedding function (chroma-api.md §8).

An embedding function is persisted in the collection's configuration as
``{"type": "known", "name": ..., "config": ...}`` (or ``{"type": "legacy"}`` when it cannot
describe itself) and rebuilt by name from the registry of
:mod:`sedimentdb.utils.embedding_functions`. That package is imported lazily: it may import
this package's type aliases, and a collection that is given embeddings never needs it.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from sedimentdb.validation import normalize_embeddings, validate_embeddings


class _DefaultMarker:
    """Stands for ``DefaultEmbeddingFunction()`` in signatures, so the model is only loaded when used."""

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"


DEFAULT = _DefaultMarker()


def _registry() -> Any:
    from sedimentdb.utils import embedding_functions

    return embedding_functions


def resolve(embedding_function: Any) -> Any:
    """A real embedding function (or ``None``) for what a caller passed."""
    if embedding_function is DEFAULT:
        return _registry().DefaultEmbeddingFunction()
    return embedding_function


def is_default(embedding_function: Any) -> bool:
    """Whether this is Chroma's default function (which defers to a persisted one)."""
    if embedding_function is DEFAULT:
        return True
    return embedding_function is not None and _name(embedding_function) == "default"


def _name(embedding_function: Any) -> Any:
    name = getattr(embedding_function, "name", None)
    if name is None:
        return NotImplemented
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return name()


def validate_signature(embedding_function: Any) -> None:
    """``__call__`` must take exactly ``(self, input)``, the protocol since Chroma 0.4.16."""
    if embedding_function is None or embedding_function is DEFAULT:
        return
    got = list(inspect.signature(type(embedding_function).__call__).parameters)
    expected = ["self", "input"]
    if got != expected:
        raise ValueError(
            f"Expected EmbeddingFunction.__call__ to have the following signature: {expected}, got {got}\n"
            "Please see https://docs.trychroma.com/guides/embeddings for details of the EmbeddingFunction "
            "interface.\n"
            "Please note the recent change to the EmbeddingFunction interface: "
            "https://docs.trychroma.com/deployment/migration#migration-to-0.4.16---november-7,-2023 \n"
        )


def _is_legacy(embedding_function: Any) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            name = embedding_function.name()
            config = embedding_function.get_config()
        except (AttributeError, NotImplementedError, TypeError):
            return True
    return name is NotImplemented or config is NotImplemented or not isinstance(name, str)


def persisted_ef_config(embedding_function: Any) -> dict[str, Any] | None:
    """What the collection configuration stores for ``embedding_function`` (``None`` for none)."""
    if embedding_function is None:
        return None
    return ef_config(embedding_function)


def ef_config(embedding_function: Any) -> dict[str, Any]:
    """What the collection configuration stores for a function (known by name, or legacy)."""
    if embedding_function is DEFAULT:
        return {"type": "known", "name": "default", "config": {}}
    if _is_legacy(embedding_function):
        return {"type": "legacy"}
    name = embedding_function.name()
    registry = _registry()
    if name not in registry.known_embedding_functions:
        registry.register_embedding_function(type(embedding_function))
    return {"type": "known", "name": name, "config": embedding_function.get_config()}


def ef_space_default(embedding_function: Any) -> str | None:
    """The EF's preferred space (``default_space()``), if it is a describable function."""
    if embedding_function is None or embedding_function is DEFAULT or _is_legacy(embedding_function):
        return None
    space = getattr(embedding_function, "default_space", None)
    return space() if callable(space) else None


def rebuild(config: dict[str, Any] | None) -> Any:
    """The embedding function a stored configuration describes, or ``None``."""
    if not config or config.get("type") != "known":
        return None
    name = config.get("name")
    if name is None:
        raise ValueError(f"Embedding function name not found in config: {config}")
    if name == "default":
        return DEFAULT  # resolved when first used, so the model loads only if it embeds something
    registry = _registry()
    # A schema's sparse vector index names a sparse function: one registry, as in Chroma's lookup.
    cls = registry.known_embedding_functions.get(name) or registry.sparse_known_embedding_functions.get(name)
    if cls is None:
        raise ValueError(
            f"Embedding function {name} not found. Add @register_embedding_function decorator to the class definition."
        )
    try:
        return cls.build_from_config(config.get("config") or {})
    except Exception as exc:
        raise ValueError(f"Could not build embedding function {name} from config {config.get('config')}: {exc}") from exc


def check_conflict_on_create(embedding_function: Any, configuration_ef: Any) -> None:
    """An EF argument and a different EF in ``configuration`` cannot both be given."""
    if embedding_function is None or configuration_ef is None or is_default(embedding_function):
        return
    if _name(embedding_function) != _name(configuration_ef):
        raise ValueError(
            "Multiple embedding functions provided. Please provide only one. Embedding function conflict: "
            f"{_name(embedding_function)} vs {_name(configuration_ef)}"
        )


def check_conflict_on_get(embedding_function: Any, persisted: dict[str, Any] | None) -> None:
    """A non-default EF passed to get must match the persisted one by name."""
    if persisted is None or embedding_function is None or is_default(embedding_function):
        return
    persisted_name = persisted.get("name")
    if persisted_name is not None and persisted_name != _name(embedding_function):
        raise ValueError(
            "An embedding function already exists in the collection configuration, and a new one is provided. "
            "If this is intentional, please embed documents separately. Embedding function conflict: "
            f"new: {_name(embedding_function)} vs persisted: {persisted_name}"
        )


def call(embedding_function: Any, inputs: list[Any], is_query: bool) -> list[np.ndarray]:
    """Run the function and hold its output to Chroma's embedding rules, once."""
    # Imported here, lazily, as the module docstring explains.
    from sedimentdb.utils.embedding_functions.base import returns_checked_embeddings

    if is_query and hasattr(embedding_function, "embed_query"):
        result = embedding_function.embed_query(input=inputs)
    else:
        result = embedding_function(input=inputs)
    if result is None:
        raise ValueError("Embedding function returned no embeddings")
    if returns_checked_embeddings(embedding_function, is_query):
        return result  # a subclass's wrapped __call__ normalised and validated it: once is enough
    return validate_embeddings(normalize_embeddings(result))
