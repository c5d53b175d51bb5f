"""Request bodies of Chroma's v2 routes, as pydantic models (they also describe ``/openapi.json``).

Types are checked here (wrong types are a 400, not a 500); values are left to the embedded
layer's validation, which owns Chroma's rules and messages. Unknown fields are ignored, as
Chroma's server ignores them.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field

Embedding = Union[list[float], str]  # numbers, or base64 of packed little-endian float32


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateTenant(_Body):
    """POST /tenants."""

    name: str


class UpdateTenant(_Body):
    """PATCH /tenants/{tenant}."""

    resource_name: str | None = None


class CreateDatabase(_Body):
    """POST /tenants/{tenant}/databases."""

    name: str


class CreateCollection(_Body):
    """POST .../collections."""

    name: str
    metadata: dict[str, Any] | None = None
    configuration: dict[str, Any] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    get_or_create: bool = False


class UpdateCollection(_Body):
    """PUT .../collections/{collection_id}."""

    new_name: str | None = None
    new_metadata: dict[str, Any] | None = None
    new_configuration: dict[str, Any] | None = None


class RecordSet(_Body):
    """POST .../add, /update, /upsert."""

    ids: list[str]
    embeddings: list[Embedding | None] | None = None
    metadatas: list[dict[str, Any] | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class GetRequest(_Body):
    """POST .../get."""

    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    include: list[str] | None = None  # None: Chroma's default for get


class QueryRequest(_Body):
    """POST .../query."""

    query_embeddings: list[list[float]]
    ids: list[str] | None = None
    n_results: int = 10
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    include: list[str] | None = None  # None: Chroma's default for query


class DeleteRequest(_Body):
    """POST .../delete."""

    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=0)
