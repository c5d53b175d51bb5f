"""``sediment wal``: list log files, decode records, follow a live log.

Reading goes through the engine's log reader (``sedimentdb.engine.wal``): every frame's
checksums are checked as it is read. Nothing here writes.
"""

from __future__ import annotations

import base64
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import (
    DAMAGED,
    FILE_HEADER_SIZE,
    HEADER,
    IDENTITY,
    RECORD_OPS,
    STRICT,
    TORN,
    TORN_HEADER,
    LogCursor,
    LogFileState,
    ScannedRecord,
    name_lsn,
    read_log_files,
    scan,
)
from sedimentdb.engine.wal.records import (
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    DeleteRecords,
    ForkCollection,
    ModifyCollection,
    NewEpoch,
    Reset,
    WriteBatch,
)
from sedimentdb.tools.ops.common import canonical_uuid, check_data_dir

OP_NAMES = RECORD_OPS
OPS = tuple(OP_NAMES.values())
PREVIEW_VALUES = 4
PREVIEW_IDS = 3


@dataclass
class LogFileReport:
    """One log file as ``wal ls`` shows it."""

    name: str
    path: str
    first_lsn: int
    last_lsn: int
    records: int
    size: int
    valid_bytes: int
    epoch: int | None
    database_uuid: str | None
    status: str  # ok | torn-tail | damaged | bad-header
    problem: str | None = None
    problem_offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


def wal_dir(path: str) -> str:
    """The log directory of the data directory ``path``."""
    return os.path.join(check_data_dir(path), "wal")


def list_log(path: str) -> list[LogFileReport]:
    """Every log file of ``path`` with its LSN range, size and state, oldest first.

    Read by the engine's check of the log (a salvaging cursor); a file's records and valid
    bytes are those before its first damaged place, which names the state.
    """
    return [_file_report(lf) for lf in read_log_files(OsFileSystem(), wal_dir(path))]


def _file_report(lf: LogFileState) -> LogFileReport:
    name, first, size = os.path.basename(lf.path), name_lsn(lf.path), len(lf.data)
    if lf.header is None:
        bad = next((d for d in lf.damage if d.kind in (HEADER, TORN_HEADER)), None)
        return LogFileReport(name, lf.path, first, first - 1, 0, size, 0, None, None, "bad-header",
                             bad.reason if bad else None, 0)
    found = next((d for d in lf.damage if d.kind in (TORN, DAMAGED, IDENTITY)), None)
    good = [r for r in lf.records if found is None or r.offset < found.offset]
    last = good[-1].lsn if good else lf.header.first_lsn - 1
    end = good[-1].offset + good[-1].size if good else FILE_HEADER_SIZE
    status = "ok" if found is None else ("torn-tail" if found.kind == TORN else "damaged")
    return LogFileReport(name, lf.path, lf.header.first_lsn, last, len(good), size, end, lf.header.epoch,
                         canonical_uuid(lf.header.db_uuid), status, found.reason if found else None,
                         found.offset if found else None)


def collection_names(path: str) -> dict[str, str]:
    """Collection id -> name from every readable manifest (the log adds the rest as it is read)."""
    fs = OsFileSystem()
    names: dict[str, str] = {}
    for _gen, mpath in list_manifests(fs, os.path.abspath(path)):
        try:
            m = read_manifest(fs, mpath)
        except CorruptionError:
            continue
        for c in m.catalog.get("collections", []):
            names[c["id"]] = c["name"]
    return names


class RecordFilter:
    """Which records ``wal dump``/``tail`` show: by collection (name or id) and by op."""

    def __init__(self, names: dict[str, str], collection: str | None = None,
                 ops: Iterable[str] = ()) -> None:
        self.names = names
        self.collection = collection
        self.ops = set(ops)

    def observe(self, rec: ScannedRecord) -> None:
        """Learn collection names from catalog records as the log is read."""
        r = rec.record
        if isinstance(r, (CreateCollection, ForkCollection)):
            self.names[r.id] = r.name
        elif isinstance(r, ModifyCollection) and r.name is not None:
            self.names[r.id] = r.name

    def __call__(self, rec: ScannedRecord) -> bool:
        self.observe(rec)
        if self.ops and OP_NAMES.get(rec.record_type, "damaged") not in self.ops:
            return False
        if self.collection is None:
            return True
        cid = collection_of(rec)
        return cid is not None and (cid == self.collection or self.names.get(cid) == self.collection)


def collection_of(rec: ScannedRecord) -> str | None:
    """The collection id a record is about, if any."""
    r = rec.record
    if isinstance(r, (WriteBatch, DeleteRecords)):
        return r.collection_id
    if isinstance(r, (CreateCollection, ModifyCollection, DeleteCollection, ForkCollection)):
        return r.id
    return None


def encode_vectors(vectors: np.ndarray, form: str) -> Any:
    """Vectors for JSON: lists of floats (exact: float32 -> float64 -> repr) or base64 of LE float32."""
    if form == "base64":
        return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).decode("ascii")
    return vectors.astype(np.float64).tolist()


def record_dict(rec: ScannedRecord, names: dict[str, str], vectors: bool = False) -> dict[str, Any]:
    """A record as a JSON-ready dict; vectors abbreviated to a preview unless ``vectors``."""
    out: dict[str, Any] = {"lsn": rec.lsn, "op": OP_NAMES.get(rec.record_type, "damaged" if rec.error else
                                                             f"type-{rec.record_type}"),
                           "file": os.path.basename(rec.path), "offset": rec.offset, "size": rec.size}
    if rec.error:
        out["error"] = rec.error
    r = rec.record
    if r is None:
        return out
    cid = collection_of(rec)
    if cid is not None:
        out["collection_id"] = cid
        out["collection"] = names.get(cid)
    if isinstance(r, WriteBatch):
        out["count"] = len(r.ids)
        out["ids"] = r.ids
        if r.embeddings is not None:
            out["dim"] = int(r.embeddings.shape[1])
            if vectors:
                out["embeddings"] = encode_vectors(r.embeddings, "float")
            else:
                out["embeddings_preview"] = [float(x) for x in r.embeddings[0, :PREVIEW_VALUES]]
        out["documents"] = r.documents
        out["metadatas"] = r.metadatas
        out["uris"] = r.uris
    elif isinstance(r, DeleteRecords):
        out["count"] = len(r.ids)
        out["ids"] = r.ids
    elif isinstance(r, (CreateTenant, CreateDatabase, DeleteDatabase, CreateCollection, ModifyCollection,
                        NewEpoch, ForkCollection)):
        out.update({k: v for k, v in r.__dict__.items() if k != "id"})
    elif isinstance(r, (DeleteCollection, Reset)):
        pass
    return out


def _short_list(values: list[Any], n: int = PREVIEW_IDS) -> str:
    shown = ", ".join(str(v) for v in values[:n])
    more = f", … +{len(values) - n}" if len(values) > n else ""
    return f"[{shown}{more}]"


def record_text(d: dict[str, Any]) -> str:
    """One line of text for a record dict from :func:`record_dict`."""
    head = f"{d['lsn']:>8}  {d['op']:<17}"
    where = f"  @{d['file']}:{d['offset']}"
    if "error" in d:
        return f"{head} ERROR {d['error']}{where}"
    coll = ""
    if "collection_id" in d:
        coll = f" {d.get('collection') or '?'}({d['collection_id'][:8]})"
    if d["op"] in ("add", "update", "upsert"):
        body = f"{coll} n={d['count']} ids={_short_list(d['ids'])}"
        if "dim" in d:
            if "embeddings" in d:
                body += f" dim={d['dim']} vectors={d['embeddings']}"
            else:
                body += f" dim={d['dim']} v0={_short_list([f'{x:.4g}' for x in d['embeddings_preview']], 99)}…"
        if d.get("documents") is not None:
            doc = next((x for x in d["documents"] if x is not None), None)
            if doc is not None:
                body += f" doc0={(doc[:32] + '…') if len(doc) > 32 else doc!r}"
        if d.get("metadatas") is not None:
            body += " +metadata"
        return head + body + where
    if d["op"] == "delete":
        return f"{head}{coll} n={d['count']} ids={_short_list(d['ids'])}{where}"
    extras = {k: v for k, v in d.items() if k not in ("lsn", "op", "file", "offset", "size", "collection_id",
                                                      "collection")}
    text = " ".join(f"{k}={v!r}" for k, v in extras.items())
    return f"{head}{coll} {text}".rstrip() + where


def read_records(path: str, *, from_lsn: int = 1, to_lsn: int | None = None, salvage: bool = False,
                 collection: str | None = None, ops: Iterable[str] = ()) -> Iterator[ScannedRecord]:
    """Records of the log of ``path`` in LSN order, filtered (see :class:`RecordFilter`).

    With ``salvage`` damaged regions are reported (``error`` set) and reading resumes at the
    next valid frame; without it damage raises CorruptionError (a torn tail just ends it).
    """
    directory = wal_dir(path)
    filt = RecordFilter(collection_names(path), collection, ops)
    fs = OsFileSystem()
    # Names must be learnt from catalog records before from_lsn too, so scan from the start
    # but only decode what is shown (scan decodes everything it yields: cheap for catalog ops).
    for rec in scan(directory, fs=fs, from_lsn=1 if collection else from_lsn, to_lsn=to_lsn, salvage=salvage):
        if rec.lsn and rec.lsn < from_lsn:
            filt.observe(rec)
            continue
        if rec.error and not rec.lsn:
            yield rec
            continue
        if filt(rec):
            yield rec


def last_records(path: str, n: int, **filters: Any) -> list[ScannedRecord]:
    """The last ``n`` records that pass the filters."""
    out: deque[ScannedRecord] = deque(maxlen=n)
    files = [f for f in list_log(path) if f.status != "bad-header"]
    start = 1
    if files and not filters.get("collection") and not filters.get("ops"):
        start = max(files[0].first_lsn, files[-1].last_lsn - n + 1)
    for rec in read_records(path, from_lsn=max(start, filters.pop("from_lsn", 1) or 1), **filters):
        out.append(rec)
    return list(out) if n else []


def follow(path: str, from_lsn: int, *, poll_interval: float = 0.5, stop: Callable[[], bool] = lambda: False,
           collection: str | None = None, ops: Iterable[str] = ()) -> Iterator[ScannedRecord]:
    """Yield records from ``from_lsn`` on as another process appends them (polls; never writes).

    Reads each file incrementally from where it stopped; an incomplete frame at the end is
    a write in progress and is read again on the next poll. Moves on to the next file when
    the writer rolls. Ends when ``stop()`` returns true.
    """
    directory = wal_dir(path)
    filt = RecordFilter(collection_names(path), collection, ops)
    cursor = LogCursor(OsFileSystem(), directory, from_lsn, STRICT, live=True)
    while not stop():
        progressed = False
        for rec in cursor:
            progressed = True
            try:
                scanned = ScannedRecord(rec.lsn, rec.rtype, rec.decode(), rec.path, rec.offset, rec.size)
            except CorruptionError as exc:
                scanned = ScannedRecord(rec.lsn, rec.rtype, None, rec.path, rec.offset, rec.size, exc.message)
            if filt(scanned):
                yield scanned
        if not progressed:
            time.sleep(poll_interval)
