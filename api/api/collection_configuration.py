"""``chromadb.api.collection_configuration``: the typed dictionaries a collection's configuration is given as."""

from typing import Any, Optional, TypedDict


class CreateHNSWConfiguration(TypedDict, total=False):
    """HNSW settings accepted at creation."""

    space: str
    ef_construction: int
    max_neighbors: int
    ef_search: int
    num_threads: int
    batch_size: int
    sync_threshold: int
    resize_factor: float


class UpdateHNSWConfiguration(TypedDict, total=False):
    """HNSW settings a ``modify`` may change."""

    ef_search: int
    num_threads: int
    batch_size: int
    sync_threshold: int
    resize_factor: float


class CreateCollectionConfiguration(TypedDict, total=False):
    """``configuration=`` of ``create_collection``: ``hnsw``, ``spann``, ``embedding_function``."""

    hnsw: Optional[CreateHNSWConfiguration]
    spann: Optional[dict[str, Any]]
    embedding_function: Optional[Any]


class UpdateCollectionConfiguration(TypedDict, total=False):
    """``configuration=`` of ``Collection.modify``."""

    hnsw: Optional[UpdateHNSWConfiguration]
    spann: Optional[dict[str, Any]]
    embedding_function: Optional[Any]
