"""Name -> class registry, so a persisted ``{"name", "config"}`` pair rebuilds its function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from sedimentdb.utils.embedding_functions.base import EmbeddingFunction

known_embedding_functions: dict[str, type[EmbeddingFunction[Any]]] = {}
"""Every registered embedding function class, by its ``name()``."""

EF = TypeVar("EF", bound=type)


@overload
def register_embedding_function(ef_class: EF) -> EF: ...
@overload
def register_embedding_function(ef_class: None = None) -> Callable[[EF], EF]: ...


def register_embedding_function(ef_class: EF | None = None) -> EF | Callable[[EF], EF]:
    """Register a class under its ``name()``; use as ``@register_embedding_function`` or call it.

    A later registration under the same name replaces the earlier one, as in Chroma, so a
    user can override a built-in.
    """

    def _register(cls: EF) -> EF:
        try:
            name = cls.name()  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - any failure means the class cannot be registered
            raise ValueError(f"Failed to register embedding function {cls.__name__}: {e}") from e
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"Failed to register embedding function {cls.__name__}: name() must return a string"
            )
        known_embedding_functions[name] = cls  # type: ignore[assignment]
        return cls

    if ef_class is not None:
        return _register(ef_class)
    return _register


def config_to_embedding_function(
    name: str | Mapping[str, Any], config: Mapping[str, Any] | None = None
) -> EmbeddingFunction[Any]:
    """Rebuild a registered function: ``(name, config)``, or Chroma's ``({"name": ..., "config": ...})``.

    Raises ``ValueError`` naming the unknown function and the registered ones.
    """
    if isinstance(name, Mapping):
        if "name" not in name:
            raise ValueError("Config must contain a 'name' field.")
        return config_to_embedding_function(name["name"], name.get("config") or {})
    cls = known_embedding_functions.get(name)
    if cls is None:
        known = ", ".join(sorted(known_embedding_functions)) or "none"
        raise ValueError(
            f"Unsupported embedding function: {name!r} is not registered (known: {known}). "
            "Import the module that defines it and decorate the class with @register_embedding_function."
        )
    ef_config = dict(config or {})
    cls.validate_config(ef_config)
    return cls.build_from_config(ef_config)
