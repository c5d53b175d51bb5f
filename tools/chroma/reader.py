"""Read a whole Chroma persist directory into memory, without chromadb: catalog and records.

:func:`read_chroma` opens the SQLite file read-only inside one read transaction, detects the
format, reads tenants, databases and collections, then for each collection rebuilds its
records (:mod:`records`) from the metadata tables, the HNSW files (:mod:`hnsw_files`,
:mod:`id_map`) and the log tail. Nothing in the source directory is written.

Damage is reported as :class:`DamagedSourceError` naming the file. With ``skip_damaged`` a
damaged collection or record is left out instead and described in ``ChromaSnapshot.skipped``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np

from sedimentdb.tools.chroma.collection_config import index_configuration
from sedimentdb.tools.chroma.formats import SourceFormat, detect
from sedimentdb.tools.chroma.hnsw_files import FILES, read_vectors
from sedimentdb.tools.chroma.id_map import PICKLE_FILE, read_id_map
from sedimentdb.tools.chroma.metadata_text import SQL_VALUE, decode_texts, encode_maps
from sedimentdb.tools.chroma.records import (
    LogRow,
    MetadataView,
    VectorView,
    decode_value,
    parse_log_metadata,
    split_all,
)
from sedimentdb.tools.chroma.source_errors import DamagedSourceError, SourceBusyError, UnsupportedFormatError
from sedimentdb.tools.chroma.sqlite_source import SQLITE_FILE, open_snapshot, quick_check
from sedimentdb.tools.diskusage import tree_bytes

VECTOR_SEGMENT = "urn:chroma:segment/vector/hnsw-local-persisted"
METADATA_SEGMENT = "urn:chroma:segment/metadata/sqlite"
Progress = Callable[[str, int, "int | None"], None]


def _no_progress(label: str, done: int, total: int | None) -> None:
    pass


@dataclass
class ChromaCollection:
    """One collection as Chroma's API shows it, records in ``get()`` order."""

    id: str
    name: str
    tenant: str
    database: str
    dimension: int | None
    metadata: dict[str, Any] | None
    configuration: dict[str, Any]  # as Chroma's configuration_json shows it (collection_config.py)
    schema: dict[str, Any] | None  # 1.1+: the raw schema (kept for the record; not migrated)
    index_dir: str | None
    ids: list[str] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    documents: list[str | None] = field(default_factory=list)
    # Each record's metadata as compact JSON text (metadata_text.py), None for none; what
    # ``metadatas`` decodes on first use. Kept as text so it can be written as it is.
    metadata_texts: list[str | None] = field(default_factory=list)
    uris: list[str | None] = field(default_factory=list)
    log_records: int = 0  # operations replayed from the log
    _metadatas: list[dict[str, Any] | None] | None = field(default=None, repr=False, compare=False)

    @property
    def metadatas(self) -> list[dict[str, Any] | None]:
        """Each record's metadata as Chroma's ``get`` returns it (decoded on first use; the
        list may then be changed in place, and :meth:`current_metadata_texts` follows it)."""
        if self._metadatas is None:
            self._metadatas = decode_texts(self.metadata_texts)
        return self._metadatas

    @metadatas.setter
    def metadatas(self, value: list[dict[str, Any] | None]) -> None:
        self._metadatas = list(value)

    def current_metadata_texts(self) -> list[str | None]:
        """The metadata as texts: re-encoded from :attr:`metadatas` if that was read (and so
        may have been changed), else the texts as read."""
        return self.metadata_texts if self._metadatas is None else encode_maps(self._metadatas)

    @property
    def space(self) -> str:
        """The distance space: ``l2``, ``ip`` or ``cosine``."""
        return str(self.configuration["hnsw"]["space"])

    @property
    def count(self) -> int:
        """Number of records."""
        return len(self.ids)


@dataclass
class ChromaSnapshot:
    """Everything a Chroma directory holds."""

    path: str
    format: SourceFormat
    tenants: list[str]
    databases: list[tuple[str, str, str]]  # (tenant, name, id)
    collections: list[ChromaCollection]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    source_bytes: int = 0


def _json(text: str | None, what: str, path: str) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DamagedSourceError(f"{what} is not valid JSON: {exc}", path=path) from None


class _Reader:
    def __init__(self, conn: sqlite3.Connection, root: str, fmt: SourceFormat, skip_damaged: bool,
                 progress: Progress) -> None:
        self.conn, self.root, self.fmt = conn, root, fmt
        self.sqlite_path = os.path.join(root, SQLITE_FILE)
        self.skip_damaged, self.progress = skip_damaged, progress
        self.skipped: list[dict[str, Any]] = []
        self.maps: dict[int, dict[str, Any]] | None = None  # see _all_maps

    def q(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise DamagedSourceError(f"SQLite read failed: {exc}", path=self.sqlite_path) from None

    def catalog(self) -> tuple[list[str], list[tuple[str, str, str]], list[ChromaCollection]]:
        tenants = [r[0] for r in self.q("SELECT id FROM tenants ORDER BY rowid")]
        dbs = [(t, n, i) for i, n, t in self.q("SELECT id, name, tenant_id FROM databases ORDER BY rowid")]
        by_db = {i: (t, n) for t, n, i in dbs}
        schema_col = ", c.schema_str" if self.fmt.has_schema else ", NULL"
        cols = []
        meta_rows: dict[str, dict[str, Any]] = {}
        for cid, key, s, i, f, b in self.q("SELECT collection_id, key, str_value, int_value, float_value, "
                                           "bool_value FROM collection_metadata ORDER BY rowid"):
            meta_rows.setdefault(cid, {})[key] = decode_value(s, i, f, b)
        for cid, name, dim, db_id, config_text, schema_text in self.q(
                f"SELECT c.id, c.name, c.dimension, c.database_id, c.config_json_str{schema_col} "
                "FROM collections c ORDER BY c.rowid"):
            if db_id not in by_db:
                raise DamagedSourceError(f"collection {name!r} ({cid}) names database {db_id}, which does not "
                                         "exist", path=self.sqlite_path)
            tenant, database = by_db[db_id]
            config = _json(config_text, f"configuration of collection {name!r}", self.sqlite_path) or {}
            schema = _json(schema_text, f"schema of collection {name!r}", self.sqlite_path)
            metadata = meta_rows.get(cid) or None
            cols.append(ChromaCollection(cid, name, tenant, database, int(dim) if dim is not None else None,
                                         metadata, index_configuration(config, schema, metadata), schema, None))
        return tenants, dbs, cols

    def _segments(self, col: ChromaCollection) -> tuple[str | None, str | None]:
        meta_seg = vec_seg = None
        for sid, stype, _scope in self.q("SELECT id, type, scope FROM segments WHERE collection = ?", (col.id,)):
            if stype == METADATA_SEGMENT:
                meta_seg = sid
            elif stype == VECTOR_SEGMENT:
                vec_seg = sid
        if meta_seg is None:
            raise DamagedSourceError(f"collection {col.name!r} has no metadata segment", path=self.sqlite_path)
        return meta_seg, vec_seg

    def _max_seq(self, segment: str | None) -> int:
        if segment is None:
            return 0
        rows = self.q("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,))
        if not rows or rows[0][0] is None:
            return 0
        value = rows[0][0]
        return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value)

    def _all_maps(self) -> dict[int, dict[str, Any]]:
        """Every record's stored key/value map (document and uri included), by offset id: one
        scan of ``embedding_metadata`` for all collections, taken apart by :meth:`_metadata_view`.

        SQLite picks the value column (metadata_text.SQL_VALUE) and each record's map is one
        dict comprehension over its run of rows (itertools.groupby, in C), not one Python step
        per row. A table scan returns the rows in insertion order, which keeps a record's rows
        together (Chroma writes them in one statement); if a record's rows are split (runs
        outnumber records), they are read again in key order.
        """
        if self.maps is None:
            sql = f"SELECT m.id, m.key, {SQL_VALUE} FROM embedding_metadata m WHERE {SQL_VALUE} IS NOT NULL"
            kv = self.q(sql)
            runs = [(oid, {k: v for _, k, v in run}) for oid, run in groupby(kv, itemgetter(0))]
            if len(runs) != len(maps := dict(runs)):
                kv = self.q(sql + " ORDER BY m.id, m.key")
                maps = {oid: {k: v for _, k, v in run} for oid, run in groupby(kv, itemgetter(0))}
            self.maps = maps
        return self.maps

    def _records(self, segment: str) -> list[tuple[int, str]]:
        """(offset id, record id) of every record of a metadata segment, in offset (get()) order."""
        return self.q("SELECT id, embedding_id FROM embeddings WHERE segment_id = ? ORDER BY id", (segment,))

    def _metadata_view(self, col: ChromaCollection, segment: str, records: list[tuple[int, str]],
                       maps: dict[int, dict[str, Any]]) -> MetadataView:
        view = MetadataView()
        view.rows = {eid: maps.pop(oid, None) or {} for oid, eid in records}
        if len(view.rows) != len(records):
            raise DamagedSourceError(f"collection {col.name!r}: an id is stored twice in its metadata segment",
                                     path=self.sqlite_path)
        rows = view.rows
        if self.fmt.has_arrays:
            arrays: dict[str, dict[str, list[Any]]] = {}
            for eid, key, s, i, f, b in self.q(
                    "SELECT e.embedding_id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value "
                    "FROM embedding_metadata_array a JOIN embeddings e ON e.id = a.id WHERE e.segment_id = ? "
                    "ORDER BY a.id, a.key, a.rowid", (segment,)):
                arrays.setdefault(eid, {}).setdefault(key, []).append(decode_value(s, i, f, b))
            for eid, kv in arrays.items():
                if eid in rows:
                    rows[eid].update(kv)
        return view

    def _log(self, col: ChromaCollection, after: int) -> list[LogRow]:
        out = []
        for seq, op, eid, blob, encoding, meta_text in self.q(
                "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue "
                "WHERE topic LIKE ? AND seq_id > ? ORDER BY seq_id", ("%/" + col.id, after)):
            vec = None
            if blob is not None:
                if encoding not in (None, "FLOAT32") or len(blob) % 4:
                    raise DamagedSourceError(f"log row {seq} of collection {col.name!r} has a vector in "
                                             f"encoding {encoding!r} of {len(blob)} bytes", path=self.sqlite_path)
                vec = np.frombuffer(blob, dtype="<f4").astype(np.float32)
                if col.dimension is not None and vec.shape[0] != col.dimension:
                    raise DamagedSourceError(f"log row {seq} of collection {col.name!r} has a {vec.shape[0]}-"
                                             f"dimensional vector, the collection is {col.dimension}-dimensional",
                                             path=self.sqlite_path)
            try:
                meta = parse_log_metadata(meta_text)
            except ValueError as exc:
                raise DamagedSourceError(f"log row {seq} of collection {col.name!r}: metadata is not valid: {exc}",
                                         path=self.sqlite_path) from None
            if op not in (0, 1, 2, 3):
                continue  # 4 = BackfillFn: carries no record change
            out.append(LogRow(int(seq), int(op), str(eid), vec, meta))
        return out

    def _vector_view(self, col: ChromaCollection, segment: str | None, persisted_seq: int) -> VectorView:
        # 0.x returns replayed log vectors as written; 1.x gives them the index's round trip.
        view = VectorView(cosine=col.space == "cosine" and not self.fmt.python_era)
        normalized = col.space == "cosine"
        if segment is None:
            return view
        directory = os.path.join(self.root, segment)
        col.index_dir = directory
        id_map = read_id_map(directory) if os.path.isdir(directory) else None
        if id_map is None:
            if persisted_seq > 0:
                missing = directory if not os.path.isdir(directory) else os.path.join(directory, PICKLE_FILE)
                raise DamagedSourceError(f"collection {col.name!r}: Chroma recorded its HNSW index as persisted up "
                                         f"to log position {persisted_seq}, but the index is missing",
                                         path=missing)
            return view
        if not id_map.id_to_label:
            return view
        if col.dimension is None:
            raise DamagedSourceError(f"collection {col.name!r} has an HNSW index but no dimension",
                                     path=self.sqlite_path)
        before = _stat(directory)
        hv = read_vectors(directory, col.dimension)
        view.base, view.normalized = hv, normalized
        # Each id's live element, looked up in the sorted labels with numpy (not a dict per label).
        eids = list(id_map.id_to_label)
        wanted = np.fromiter(id_map.id_to_label.values(), dtype=np.uint64, count=len(eids))
        by_label = np.argsort(hv.labels, kind="stable")
        sorted_labels = hv.labels[by_label]
        at = np.minimum(np.searchsorted(sorted_labels, wanted), max(len(sorted_labels) - 1, 0))
        found = sorted_labels[at] == wanted if len(sorted_labels) else np.zeros(len(eids), dtype=bool)
        if not found.all():
            k = int(np.flatnonzero(~found)[0])
            raise DamagedSourceError(
                f"collection {col.name!r}: the id map gives record {eids[k]!r} label {int(wanted[k])}, which the "
                "index holds no live vector for (truncated or stale index)",
                path=os.path.join(directory, "data_level0.bin"))
        view.row = dict(zip(eids, by_label[at].tolist(), strict=True))
        self.index_stat = (directory, before)  # checked again once the vectors are copied out
        return view

    def collection(self, col: ChromaCollection) -> None:
        self.index_stat: tuple[str, list[tuple[str, int, int]]] | None = None
        meta_seg, vec_seg = self._segments(col)
        assert meta_seg is not None
        mt, h = self._max_seq(meta_seg), self._max_seq(vec_seg)
        log = self._log(col, min(mt, h))
        records = self._records(meta_seg)
        # Both cores: the metadata maps (SQLite's scan, then grouping) on a second thread while
        # this one reads the index files and copies out the vectors in get() order (numpy and
        # SQLite release the GIL for most of that). The copy is kept only if the records end
        # up exactly as listed (no log to replay, every record in the index).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-metadata") as pool:
            maps = pool.submit(self._all_maps)
            vectors = self._vector_view(col, vec_seg, h)
            early = self._early_matrix(col, records, vectors) if not log else None
            metadata = self._metadata_view(col, meta_seg, records, maps.result())
        for row in log:
            if row.seq_id > mt:
                metadata.apply(row)
            if row.seq_id > h:
                vectors.apply(row)
        vectors.finish()
        col.log_records = len(log)
        self._assemble(col, metadata, vectors, early)

    def _early_matrix(self, col: ChromaCollection, records: list[tuple[int, str]],
                      vectors: VectorView) -> tuple[list[str], np.ndarray] | None:
        """(ids, vectors) of ``records`` in their order, if the index holds every one of them."""
        ids = [eid for _, eid in records]
        if vectors.base is None or vectors.vectors or len(vectors.row) != len(ids) or not \
                vectors.row.keys() >= set(ids):
            return None
        return ids, vectors.matrix(ids, col.dimension or 0)

    def _assemble(self, col: ChromaCollection, metadata: MetadataView, vectors: VectorView,
                  early: tuple[list[str], np.ndarray] | None = None) -> None:
        rows, with_vector = metadata.rows, vectors.row.keys() | vectors.vectors.keys()
        # Set differences in C first; the ordered lists (for the messages) only when there is one.
        orphans = [i for i in vectors.ids() if i not in rows] if with_vector - rows.keys() else []
        lacking = [i for i in rows if i not in with_vector] if rows.keys() - with_vector else []
        index_file = os.path.join(col.index_dir, PICKLE_FILE) if col.index_dir else self.sqlite_path
        for ids, what, path in ((orphans, "in the HNSW index but not in SQLite", index_file),
                                (lacking, "in SQLite but have no vector in the HNSW index or the log", index_file)):
            if not ids:
                continue
            message = (f"collection {col.name!r}: {len(ids)} record(s) are {what} (first: "
                       f"{', '.join(repr(i) for i in ids[:3])})")
            if not self.skip_damaged:
                raise DamagedSourceError(message, path=path,
                                         hint="pass --skip-damaged to import the other records and list these")
            self.skipped.append({"collection": col.name, "collection_id": col.id, "file": path,
                                 "problem": message, "ids": ids})
        ids = [i for i in rows if i in with_vector] if lacking else list(rows)
        col.ids = ids
        col.embeddings = early[1] if early is not None and early[0] == ids else vectors.matrix(ids, col.dimension or 0)
        if self.index_stat is not None and _stat(self.index_stat[0]) != self.index_stat[1]:
            raise SourceBusyError("the HNSW files changed while they were read (Chroma is writing)",
                                  path=self.index_stat[0])
        col.documents, col.uris, metadatas = split_all([rows[i] for i in ids], self.fmt.python_era)
        col.metadata_texts = encode_maps(metadatas)


def _stat(directory: str) -> list[tuple[str, int, int]]:
    out = []
    for name in (*FILES, PICKLE_FILE):
        try:
            st = os.stat(os.path.join(directory, name))
            out.append((name, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append((name, -1, -1))
    return out


def read_chroma(path: str, *, skip_damaged: bool = False, check_sqlite: bool = True,
                progress: Progress = _no_progress) -> ChromaSnapshot:
    """Everything the Chroma directory at ``path`` holds, as Chroma's API would show it.

    Raises DamagedSourceError / UnsupportedFormatError / SourceBusyError (all naming a file).
    """
    root = os.path.abspath(path)
    sqlite_path = os.path.join(root, SQLITE_FILE)
    if not os.path.isfile(sqlite_path):
        # The wrong directory, not a damaged one: exit 1 (bad input), not 4 (run verify/repair).
        raise UnsupportedFormatError("not a Chroma directory: chroma.sqlite3 is missing", path=sqlite_path,
                                     hint="pass the directory given to chromadb.PersistentClient(path=...) "
                                          "or `chroma run --path`")
    with open_snapshot(root) as conn:
        if check_sqlite:
            quick_check(conn, sqlite_path)
        fmt = detect(conn, sqlite_path)
        reader = _Reader(conn, root, fmt, skip_damaged, progress)
        tenants, dbs, cols = reader.catalog()
        kept = []
        for n, col in enumerate(cols):
            progress("reading Chroma collections", n, len(cols))
            try:
                reader.collection(col)
            except DamagedSourceError as exc:
                if not skip_damaged:
                    raise
                reader.skipped.append({"collection": col.name, "collection_id": col.id, "file": exc.path,
                                       "problem": str(exc), "ids": None})
                continue
            kept.append(col)
        progress("reading Chroma collections", len(cols), len(cols))
    return ChromaSnapshot(root, fmt, tenants, dbs, kept, reader.skipped, tree_bytes(root))
