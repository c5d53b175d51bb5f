"""Chroma's ``SparseEmbeddingFunction`` protocol and its registry.

A sparse embedding function turns documents into :class:`sedimentdb.schema.SparseVector`s; a
collection schema's sparse vector index names one. SedimentDB stores such a schema but ships
no sparse function and does not search sparse vectors yet (``Collection.search``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

D = TypeVar("D", contravariant=True)
SEF = TypeVar("SEF", bound=type)

sparse_known_embedding_functions: dict[str, type] = {}


@runtime_checkable
class SparseEmbeddingFunction(Protocol[D]):
    """Documents in, one :class:`~sedimentdb.schema.SparseVector` per document out."""

    def __call__(self, input: D) -> list[Any]:
        """The sparse vectors of ``input``."""
        ...

    def embed_query(self, input: D) -> list[Any]:
        """The sparse vectors of query texts (by default, the same as ``__call__``)."""
        return self(input)

    @staticmethod
    def name() -> str:
        """The registry name the function is persisted under."""
        raise NotImplementedError("The SparseEmbeddingFunction class does not implement name().")

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SparseEmbeddingFunction[Any]:
        """Rebuild the function from :meth:`get_config`'s output."""
        raise NotImplementedError("The SparseEmbeddingFunction class does not implement build_from_config().")

    def get_config(self) -> dict[str, Any]:
        """What :meth:`build_from_config` needs to rebuild this function."""
        raise NotImplementedError(f"The class {type(self).__name__} does not implement get_config().")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse a configuration change the function cannot take; by default all are fine."""

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Refuse a malformed configuration; by default all are fine."""


def register_sparse_embedding_function(cls: SEF | None = None) -> SEF | Callable[[SEF], SEF]:
    """Class decorator (bare or called): make ``cls`` rebuildable by its ``name()``."""

    def _register(ef_class: SEF) -> SEF:
        name = ef_class.name()  # type: ignore[attr-defined]
        if name in sparse_known_embedding_functions and sparse_known_embedding_functions[name] is not ef_class:
            raise ValueError(f"Sparse embedding function with name {name} is already registered.")
        sparse_known_embedding_functions[name] = ef_class
        return ef_class

    return _register(cls) if cls is not None else _register
