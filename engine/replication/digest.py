"""A cheap, order-independent digest of a database's logical state.

Per live record ``H = blake2b-128(collection id ‖ id ‖ float32 vector bytes ‖ document ‖
metadata ‖ uri)`` (text fields as canonical JSON, so ``1`` and ``1.0`` differ), summed modulo
2^128 — a sum rather than XOR so two equal records cannot cancel out — and combined with a
hash of the catalog (tenants, databases, collections with their metadata). Two databases have
the same digest exactly when they hold the same collections and records, however the records
are laid out (tail or segments, compacted or not), so a replica or a restore can be compared
with its primary at an LSN.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sedimentdb.engine.engine_types import Include

_MOD = 1 << 128
_ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True, distances=False)


@dataclass(frozen=True)
class Digest:
    """A database's digest at an LSN."""

    lsn: int
    epoch: int
    records: int
    collections: int
    digest: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def _canon(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(collection_id: str, rid: str, vector: bytes, document: Any, metadata: Any, uri: Any) -> int:
    """The 128-bit hash of one live record."""
    h = hashlib.blake2b(digest_size=16)
    for part in (collection_id.encode(), rid.encode(), vector, _canon(document), _canon(metadata), _canon(uri)):
        h.update(len(part).to_bytes(8, "little"))  # length-prefixed: fields cannot run into each other
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def catalog_hash(catalog: dict[str, Any]) -> bytes:
    """Hash of a catalog snapshot, independent of list order."""
    parts = sorted(_canon(x) for key in ("tenants", "databases", "collections") for x in catalog[key])
    return hashlib.blake2b(b"\n".join(parts), digest_size=16).digest()


def state_digest(db: Any) -> Digest:
    """The digest of an open Database at its current LSN (taken under its lock: consistent)."""
    with db.lock:
        total, count = 0, 0
        catalog = db.catalog.to_dict()
        for cid in sorted(db.collections):
            recs = db.get(cid, include=_ALL)
            for i, rid in enumerate(recs.ids):
                vec = recs.embeddings[i].astype("<f4").tobytes() if recs.embeddings is not None else b""
                total = (total + record_hash(cid, rid, vec, _col(recs.documents, i), _col(recs.metadatas, i),
                                             _col(recs.uris, i))) % _MOD
                count += 1
        final = hashlib.blake2b(catalog_hash(catalog) + total.to_bytes(16, "little"), digest_size=16)
        return Digest(db.last_lsn, db.epoch, count, len(db.collections), final.hexdigest())


def _col(values: list[Any] | None, i: int) -> Any:
    return None if values is None else values[i]
