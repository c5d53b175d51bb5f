"""The catalog: tenants, databases and collections, rebuilt by replaying catalog records.

The catalog is event-sourced like the data: a manifest stores a snapshot of it (``to_dict``)
at an LSN, and the log records after that LSN are applied on top (``apply``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sedimentdb.engine.engine_types import CollectionInfo, DatabaseInfo
from sedimentdb.engine.wal.records import (
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    ForkCollection,
    ModifyCollection,
    Reset,
)

CATALOG_RECORDS = (CreateTenant, CreateDatabase, DeleteDatabase, CreateCollection, ModifyCollection,
                   DeleteCollection, Reset, ForkCollection)


class Catalog:
    """In-memory catalog state. Mutated only through :meth:`apply` (and ``set_dimension``)."""

    def __init__(self) -> None:
        self.tenants: dict[str, None] = {}
        self.databases: dict[tuple[str, str], DatabaseInfo] = {}
        self.collections: dict[str, CollectionInfo] = {}
        self._by_name: dict[tuple[str, str, str], str] = {}
        # Forks ever made in each lineage, by the lineage's root collection id (Chroma's
        # fork_count counts the root's lineage file, which deleting a fork does not shrink).
        self.forks: dict[str, int] = {}

    # ---- queries --------------------------------------------------------------------------

    def collection_id(self, tenant: str, database: str, name: str) -> str | None:
        """The id of the named collection, or None."""
        return self._by_name.get((tenant, database, name))

    def fork_count(self, cid: str) -> int:
        """Forks made in the lineage of collection ``cid`` (its root and every fork of it)."""
        return self.forks.get(lineage_root(self.collections[cid]), 0)

    def collections_in(self, tenant: str, database: str) -> list[CollectionInfo]:
        """Collections of one database, ordered by id (Chroma 1.x lists them that way)."""
        found = [c for c in self.collections.values() if c.tenant == tenant and c.database == database]
        return sorted(found, key=lambda c: c.id)

    # ---- applying records -----------------------------------------------------------------------

    def apply(self, record: Any, lsn: int = 0) -> list[str]:
        """Apply one catalog record (logged at ``lsn``); return the ids of collections it removed."""
        if isinstance(record, ForkCollection):
            self._fork(record, lsn)
        elif isinstance(record, CreateTenant):
            self.tenants[record.name] = None
        elif isinstance(record, CreateDatabase):
            self.databases[(record.tenant, record.name)] = DatabaseInfo(record.id, record.tenant, record.name)
        elif isinstance(record, DeleteDatabase):
            self.databases.pop((record.tenant, record.name), None)
            gone = [c.id for c in self.collections.values()
                    if c.tenant == record.tenant and c.database == record.name]
            for cid in gone:
                self._drop(cid)
            return gone
        elif isinstance(record, CreateCollection):
            self._put(CollectionInfo(record.id, record.tenant, record.database, record.name,
                                     record.metadata, dict(record.configuration), record.dimension))
        elif isinstance(record, ModifyCollection):
            self._modify(record)
        elif isinstance(record, DeleteCollection):
            if record.id in self.collections:
                self._drop(record.id)
                return [record.id]
        elif isinstance(record, Reset):
            gone = list(self.collections)
            self.__init__()  # type: ignore[misc]
            return gone
        else:
            raise TypeError(f"not a catalog record: {type(record).__name__}")
        return []

    def _fork(self, record: ForkCollection, lsn: int) -> None:
        source = self.collections[record.source_id]
        lineage = [list(step) for step in source.lineage or []] + [[source.id, lsn]]
        self._put(dataclasses.replace(source, id=record.id, tenant=record.tenant, database=record.database,
                                      name=record.name, lineage=lineage))
        root = str(lineage[0][0])
        self.forks[root] = self.forks.get(root, 0) + 1

    def _put(self, info: CollectionInfo) -> None:
        self.collections[info.id] = info
        self._by_name[(info.tenant, info.database, info.name)] = info.id

    def _drop(self, cid: str) -> None:
        info = self.collections.pop(cid)
        self._by_name.pop((info.tenant, info.database, info.name), None)

    def _modify(self, record: ModifyCollection) -> None:
        info = self.collections.get(record.id)
        if info is None:
            return
        self._drop(record.id)
        changes: dict[str, Any] = {}
        if record.name is not None:
            changes["name"] = record.name
        if record.metadata is not None:
            changes["metadata"] = record.metadata or None
        if record.configuration is not None:
            changes["configuration"] = dict(record.configuration)
        self._put(dataclasses.replace(info, **changes))

    def set_dimension(self, cid: str, dim: int) -> None:
        """Record the dimension fixed by a collection's first embedding."""
        info = self.collections[cid]
        if info.dimension is None:
            self.collections[cid] = dataclasses.replace(info, dimension=dim)

    # ---- snapshots ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (stored in the manifest)."""
        return {
            "tenants": list(self.tenants),
            "databases": [dataclasses.asdict(d) for d in self.databases.values()],
            "collections": [_collection_dict(c) for c in self.collections.values()],
            "forks": dict(self.forks),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        """Rebuild a catalog from :meth:`to_dict` output."""
        cat = cls()
        for t in data["tenants"]:
            cat.tenants[t] = None
        for d in data["databases"]:
            info = DatabaseInfo(**d)
            cat.databases[(info.tenant, info.name)] = info
        for c in data["collections"]:
            cat._put(CollectionInfo(**c))
        cat.forks = {str(k): int(v) for k, v in data.get("forks", {}).items()}
        return cat


def _collection_dict(info: CollectionInfo) -> dict[str, Any]:
    """One collection of the snapshot; ``lineage`` only for forks, so a directory without forks
    keeps the manifest shape earlier builds read."""
    out = dataclasses.asdict(info)
    if out.get("lineage") is None:
        out.pop("lineage", None)
    return out


def lineage_root(info: CollectionInfo) -> str:
    """The id of the collection a fork descends from at the top (its own id if not a fork)."""
    return str(info.lineage[0][0]) if info.lineage else info.id
