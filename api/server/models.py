"""Request bodies of Chroma's v2 routes, as pydantic models (they also describe ``/openapi.json``).

Types are checked here (wrong types are a 400, not a 500); values are left to the embedded
layer's validation, which owns Chroma's rules and messages. Unknown fields are ignored, as
Chroma's server ignores them.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator, model_validator

# Numbers (strictly: JSON true/false and numeric strings are not numbers; lax parsing read
# [true, false, 1] as [1.0, 0.0, 1.0]), or base64 of packed little-endian float32.
Embedding = Annotated[Union[list[StrictFloat], str], Field(union_mode="left_to_right")]

# Numbers or base64 text: the embedding decoder rejects anything else, so the walk below can
# skip them (they are most of a large body).
NUMERIC_FIELDS = frozenset({"embeddings", "query_embeddings"})


def find_lone_surrogate(value: Any) -> str | None:
    """The first string in ``value`` (keys included) holding a lone UTF-16 surrogate, or None.

    JSON's ``\\ud800`` escape decodes to such a string; it cannot be encoded as UTF-8, so a
    record holding one could be written but never answered again (every read of it failed).
    """
    found = find_unstorable(value)
    return found[1] if found is not None and found[0] == "surrogate" else None


def find_unstorable(value: Any) -> tuple[str, Any, str] | None:
    """The first value of a request body that JSON cannot carry back: (kind, value, where), or None.

    Kinds: ``surrogate``, a string with a lone UTF-16 surrogate (``\\ud800``); ``number``, a
    NaN, an Infinity or a number beyond float64's range (``1e400`` reads as infinity). Python's
    JSON parser accepts both; Chroma's server (serde_json) refuses them when parsing, and stored
    they would come back as something else (a non-finite number is answered as ``null``) or
    make the record unreadable. One walk for both: it visits every value of the body but the
    vectors, which the embedding checks cover.
    """
    stack: list[tuple[Any, str]] = [(value, "body")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return "surrogate", item, where
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "number", item, where
        elif isinstance(item, dict):
            stack.extend((k, where) for k in item.keys())
            stack.extend((v, f"{where}.{k}") for k, v in item.items() if k not in NUMERIC_FIELDS)
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable_only(cls, data: Any) -> Any:
        found = find_unstorable(data)
        if found is None:
            return data
        kind, bad, where = found
        if kind == "surrogate":
            # Chroma's server (serde_json) refuses these escapes at parse time; so do we.
            shown = bad.encode("utf-8", "backslashreplace").decode()[:64]
            raise ValueError(f"lone surrogate in string \"{shown}\"")
        where = where.removeprefix("body.")
        raise ValueError(f"{where} is {bad}: NaN, Infinity and numbers beyond float64's range are not valid "
                         "JSON numbers and cannot be stored")


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


class ForkRequest(_Body):
    """POST .../collections/{collection_id}/fork."""

    new_name: str


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

    query_embeddings: list[list[StrictFloat]]
    ids: list[str] | None = None
    n_results: int = 10
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    include: list[str] | None = None  # None: Chroma's default for query

    @field_validator("query_embeddings")
    @classmethod
    def _finite(cls, value: list[list[float]]) -> list[list[float]]:
        # Chroma's server refuses NaN/Infinity when parsing; a non-finite query ranks nothing.
        for i, row in enumerate(value):
            if not all(map(math.isfinite, row)):
                raise ValueError(f"query_embeddings[{i}] holds NaN or Infinity: query embeddings must be finite")
        return value


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
