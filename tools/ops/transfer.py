"""``sediment export`` / ``sediment import``: collections to and from JSON lines.

The stream is one header line per collection followed by its records::

    {"type": "collection", "format": "sedimentdb-export", "version": 1, "name": ..., "id": ...,
     "tenant": ..., "database": ..., "metadata": {...}, "configuration": {...}, "dimension": 384,
     "count": 1000, "embedding_encoding": "float"}
    {"type": "record", "id": "a", "embedding": [0.1, ...], "document": ..., "metadata": {...}, "uri": ...}

Embeddings are exact either way: ``float`` writes each float32 as the shortest decimal of its
(exactly equal) float64 value, which parses back to the same float32; ``base64`` writes the
little-endian float32 bytes. Metadata keeps int vs float, and NaN/Infinity (as JSON's common
extension). Records stream in batches: memory stays bounded by the batch size.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.storage_errors import AlreadyExistsError, InvalidArgumentError
from sedimentdb.tools.ops.common import Progress, no_progress, open_read_only, open_writer, resolve_collection

FORMAT = "sedimentdb-export"
VERSION = 1
ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True, distances=False)
ENCODINGS = ("float", "base64")
IF_EXISTS = ("fail", "append", "skip")


@dataclass
class TransferSummary:
    """What an export or import moved."""

    collections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records moved in total."""
        return sum(c["records"] for c in self.collections)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {**asdict(self), "records": self.records}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _embedding(vec: np.ndarray, encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(np.ascontiguousarray(vec, dtype="<f4").tobytes()).decode("ascii")
    return vec.astype(np.float64).tolist()


def export_collections(path: str, out: IO[str], collections: Iterable[str] | None = None, *,
                       batch_size: int = 1000, encoding: str = "float",
                       progress: Progress = no_progress) -> TransferSummary:
    """Write the collections of ``path`` (all, or those named/id'd) to ``out`` as JSON lines.

    Read-only: works while another process writes (the export is the state at open).
    """
    if encoding not in ENCODINGS:
        raise InvalidArgumentError(f"encoding must be one of {', '.join(ENCODINGS)}")
    db = open_read_only(path)
    summary = TransferSummary()
    try:
        ids = ([resolve_collection(db, c) for c in collections] if collections else
               sorted(db.collections, key=lambda c: (db.catalog.collections[c].tenant,
                                                     db.catalog.collections[c].database,
                                                     db.catalog.collections[c].name)))
        for cid in ids:
            info = db.catalog.collections[cid]
            cs = db.collections[cid]
            hits = cs.matching(None, None, None)  # (part, row) in insertion order: references only
            out.write(_dumps({"type": "collection", "format": FORMAT, "version": VERSION, "name": info.name,
                              "id": info.id, "tenant": info.tenant, "database": info.database,
                              "metadata": info.metadata, "configuration": info.configuration,
                              "dimension": cs.dim, "count": len(hits), "embedding_encoding": encoding}) + "\n")
            label = f"exporting {info.name}"
            for start in range(0, len(hits), batch_size):
                recs = cs.materialize(hits[start:start + batch_size], ALL)
                assert recs.embeddings is not None and recs.documents is not None
                assert recs.metadatas is not None and recs.uris is not None
                lines = [_dumps({"type": "record", "id": recs.ids[k], "embedding": _embedding(recs.embeddings[k],
                                                                                              encoding),
                                 "document": recs.documents[k], "metadata": recs.metadatas[k],
                                 "uri": recs.uris[k]}) for k in range(len(recs))]
                out.write("\n".join(lines) + "\n")
                progress(label, min(start + batch_size, len(hits)), len(hits))
            summary.collections.append({"name": info.name, "id": info.id, "records": len(hits)})
    finally:
        db.close()
    return summary


def _decode_embedding(value: Any, encoding: str, line_no: int) -> np.ndarray:
    if isinstance(value, str) or encoding == "base64":
        return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
    if not isinstance(value, list):
        raise InvalidArgumentError(f"line {line_no}: embedding is neither a list nor base64")
    return np.asarray(value, dtype=np.float64).astype(np.float32)


class _Importer:
    def __init__(self, db: Any, tenant: str | None, database: str | None, if_exists: str, batch_size: int,
                 progress: Progress) -> None:
        self.db, self.tenant, self.database = db, tenant, database
        self.if_exists, self.batch_size, self.progress = if_exists, batch_size, progress
        self.cid: str | None = None
        self.skip = False
        self.encoding = "float"
        self.batch: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None
        self.expected = 0
        self.summary = TransferSummary()

    def header(self, h: dict[str, Any], line_no: int) -> None:
        self.flush()
        if h.get("format") != FORMAT or int(h.get("version", 0)) > VERSION:
            raise InvalidArgumentError(f"line {line_no}: not a {FORMAT} stream of version <= {VERSION}")
        db = self.db
        tenant = self.tenant or h.get("tenant") or DEFAULT_TENANT
        database = self.database or h.get("database") or DEFAULT_DATABASE
        if not db.has_tenant(tenant):
            db.create_tenant(tenant)
        if (tenant, database) not in db.catalog.databases:
            db.create_database(tenant, database)
        self.encoding = h.get("embedding_encoding", "float")
        self.skip = False
        existing = db.catalog.collection_id(tenant, database, h["name"])
        if existing is not None:
            if self.if_exists == "fail":
                raise AlreadyExistsError(f"Collection [{h['name']}] already exists in {tenant}/{database}",
                                         hint="pass --if-exists append or --if-exists skip")
            self.skip = self.if_exists == "skip"
            self.cid = existing
        else:
            keep_id = h.get("id") if h.get("id") not in db.catalog.collections else None
            info = db.create_collection(tenant, database, h["name"], id=keep_id, metadata=h.get("metadata"),
                                        configuration=h.get("configuration") or {}, dimension=h.get("dimension"))
            self.cid = info.id
        self.current = {"name": h["name"], "id": self.cid, "records": 0, "skipped": self.skip}
        self.summary.collections.append(self.current)
        self.expected = int(h.get("count") or 0)

    def record(self, r: dict[str, Any], line_no: int) -> None:
        if self.current is None:
            raise InvalidArgumentError(f"line {line_no}: a record before any collection header")
        if self.skip:
            return
        r["_vec"] = _decode_embedding(r.get("embedding"), self.encoding, line_no)
        self.batch.append(r)
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.batch or self.current is None:
            return
        b, self.batch = self.batch, []
        self.db.add(self.cid, [r["id"] for r in b], np.stack([r["_vec"] for r in b]),
                    [r.get("document") for r in b], [r.get("metadata") for r in b], [r.get("uri") for r in b])
        self.current["records"] += len(b)
        self.progress(f"importing {self.current['name']}", self.current["records"], self.expected or None)


def import_collections(path: str, stream: IO[str], *, tenant: str | None = None, database: str | None = None,
                       if_exists: str = "fail", batch_size: int = 1000,
                       progress: Progress = no_progress) -> TransferSummary:
    """Read a JSON-lines export from ``stream`` into the database at ``path`` (created if missing).

    Takes the writer lock (LockedError if another process holds it). Collections keep their
    name, metadata, configuration and (when free) their id; records are added in order, in
    batches of ``batch_size``. ``if_exists`` decides what happens when the collection name
    is taken: ``fail``, ``append`` (add the records; existing ids are left alone), ``skip``.
    """
    if if_exists not in IF_EXISTS:
        raise InvalidArgumentError(f"if_exists must be one of {', '.join(IF_EXISTS)}")
    # Background compaction on: the engine turns the in-memory tail into segments as it grows,
    # so memory stays bounded however large the import is.
    db = open_writer(path, create=True, background_compaction=True)
    try:
        imp = _Importer(db, tenant, database, if_exists, batch_size, progress)
        for line_no, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise InvalidArgumentError(f"line {line_no}: not JSON: {exc}") from None
            kind = obj.get("type")
            if kind == "collection":
                imp.header(obj, line_no)
            elif kind == "record":
                imp.record(obj, line_no)
            else:
                raise InvalidArgumentError(f"line {line_no}: unknown line type {kind!r}")
        imp.flush()
        return imp.summary
    finally:
        db.close()
