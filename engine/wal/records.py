"""The operations the log carries, one dataclass per record type.

Each API call becomes exactly one of these, appended as one atomic log record (a large batch
may span several frames of one transaction; see FORMAT.md). The numeric record types live in
:mod:`sedimentdb.engine.wal.format` and are never renumbered. The byte encoding of each
payload is in :mod:`sedimentdb.engine.wal.payload`.

Metadata values are JSON-like: ``None``, ``bool``, ``int``, ``float``, ``str``, lists and
``str``-keyed dicts of those. The codec round-trips them exactly (``1`` stays an ``int``,
``1.0`` a ``float``, ``True`` a ``bool``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

Metadata = dict[str, Any]


class WriteOp(enum.IntEnum):
    """The kinds of data batch. Values are the on-disk record types (never renumber)."""

    ADD = 10
    UPDATE = 11
    UPSERT = 12


@dataclass(frozen=True, eq=False)
class CreateTenant:
    """A tenant was created."""

    name: str


@dataclass(frozen=True, eq=False)
class CreateDatabase:
    """A database was created inside a tenant."""

    id: str
    tenant: str
    name: str


@dataclass(frozen=True, eq=False)
class DeleteDatabase:
    """A database and every collection in it were deleted."""

    tenant: str
    name: str


@dataclass(frozen=True, eq=False)
class CreateCollection:
    """A collection was created. ``configuration`` is the JSON-like collection configuration."""

    id: str
    tenant: str
    database: str
    name: str
    metadata: Metadata | None
    configuration: dict[str, Any]
    dimension: int | None


@dataclass(frozen=True, eq=False)
class ModifyCollection:
    """A collection was renamed, or its metadata/configuration replaced (``None`` = unchanged)."""

    id: str
    name: str | None
    metadata: Metadata | None
    configuration: dict[str, Any] | None


@dataclass(frozen=True, eq=False)
class DeleteCollection:
    """A collection and all its records were deleted."""

    id: str


@dataclass(frozen=True, eq=False)
class Reset:
    """Everything was deleted (client ``reset()``)."""


@dataclass(frozen=True, eq=False)
class WriteBatch:
    """An add, update or upsert of ``len(ids)`` records in one collection.

    ``embeddings`` is a C-contiguous float32 array of shape (n, dim), or ``None`` when the
    call gave no embeddings (update/upsert keep the stored ones). ``documents``, ``metadatas``
    and ``uris`` are lists of length n or ``None`` (= not given). In an update/upsert a
    metadata value ``None`` deletes that key.
    """

    op: WriteOp
    collection_id: str
    ids: list[str]
    embeddings: np.ndarray | None
    documents: list[str | None] | None
    metadatas: list[Metadata | None] | None
    uris: list[str | None] | None


class JsonTexts(list):
    """A WriteBatch metadata column whose entries are already compact JSON texts (or None),
    e.g. the texts a bulk ingest stores in its segment: ``payload.encode`` writes them into the
    record as they are instead of encoding the maps a second time. The record decodes to
    the maps, like any other."""


@dataclass(frozen=True, eq=False)
class DeleteRecords:
    """Records deleted by id (a delete by filter is resolved to ids before it is logged)."""

    collection_id: str
    ids: list[str]


@dataclass(frozen=True, eq=False)
class ForkCollection:
    """Collection ``id`` named ``name`` was forked from ``source_id``.

    The new collection's state is the source's state just before this record's LSN (its
    segments, shared, plus its log tail up to here); its metadata and configuration are the
    source's. Later records of either collection never reach the other.
    """

    id: str
    source_id: str
    tenant: str
    database: str
    name: str


@dataclass(frozen=True, eq=False)
class NewEpoch:
    """A replica was promoted: records after this one belong to ``epoch``."""

    epoch: int


Record = Union[
    CreateTenant,
    CreateDatabase,
    DeleteDatabase,
    CreateCollection,
    ModifyCollection,
    DeleteCollection,
    Reset,
    WriteBatch,
    DeleteRecords,
    NewEpoch,
    ForkCollection,
]
