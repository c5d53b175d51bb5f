"""Request bodies of Chroma's v2 routes, as pydantic models (they also describe ``/openapi.json``).

Types are checked here (wrong types are a 400, not a 500); values are left to the embedded
layer's validation, which owns Chroma's rules and messages. Unknown fields are ignored, as
Chroma's server ignores them.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Embedding = Union[list[float], str]  # numbers, or base64 of packed little-endian float32

# Numbers or base64 text: the embedding decoder rejects anything else, so the walk below can
# skip them (they are most of a large body).
NUMERIC_FIELDS = frozenset({"embeddings", "query_embeddings"})


def find_lone_surrogate(value: Any) -> str | None:
    """The first string in ``value`` (keys included) holding a lone UTF-16 surrogate, or None.

    JSON's ``\\ud800`` escape decodes to such a string; it cannot be encoded as UTF-8, so a
    record holding one could be written but never answered again (every read of it failed).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(v for k, v in item.items() if k not in NUMERIC_FIELDS)
        elif isinstance(item, list):
            stack.extend(item)
    return None


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _utf8_only(cls, data: Any) -> Any:
        # Chroma's server (serde_json) refuses these escapes at parse time; so do we.
        bad = find_lone_surrogate(data)
        if bad is not None:
            shown = bad.encode("utf-8", "backslashreplace").decode()[:64]
            raise ValueError(f"lone surrogate in string \"{shown}\"")
        return data


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


class SearchRequest(_Body):
    """POST .../search: Chroma's Search payloads (each ``Search.to_dict()``) and the read level."""

    searches: list[Any]
    read_level: str = "index_and_wal"


class DeleteRequest(_Body):
    """POST .../delete."""

    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=0)
