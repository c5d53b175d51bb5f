"""A SedimentDB database: one data directory (or an in-memory store).

Layout of a data directory::

    LOCK                      writer lock (one writing process per directory)
    wal/<first-lsn>.log       the write-ahead log (engine/wal/FORMAT.md)
    segments/<segment-id>/    immutable segment files (engine/segments/FORMAT.md)
    markers/<seg>.<gen>.del   write-once delete markers of sealed segments
    MANIFEST-<generation>     numbered, write-once manifests (engine/compactor/FORMAT.md)

Every mutation is appended to the log, and applied to the in-memory state only once the log
record is durable (per the durability mode): readers never see a write that a failed
fdatasync could still take back (finding F-9). Open = newest valid manifest + its segments +
replay of the log after its checkpoints.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.bulk import bulk_ingest
from sedimentdb.engine.catalog import CATALOG_RECORDS, Catalog
from sedimentdb.engine.collection import CollectionState
from sedimentdb.engine.compactor.compactor import Compactor
from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, read_manifest
from sedimentdb.engine.engine_types import CollectionInfo, DatabaseInfo, Include, Records
from sedimentdb.engine.fileio import FileSystem, OsFileSystem
from sedimentdb.engine.foreign import refuse_chroma_directory
from sedimentdb.engine.fork import Heirs, fork_state, heirs_of, inheriting
from sedimentdb.engine.hnsw_config import index_settings
from sedimentdb.engine.indexer import TailIndexer, catch_up
from sedimentdb.engine.memfs import MemoryFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.parts import SegmentPart
from sedimentdb.engine.read_levels import INDEX_AND_WAL, read_lsn, visible
from sedimentdb.engine.segments import Segment, SegmentDescriptor, read_delete_marker
from sedimentdb.engine.storage_errors import (
    AlreadyExistsError,
    ClosedError,
    CorruptionError,
    InvalidArgumentError,
    NotFoundError,
    ReadOnlyError,
    StorageError,
    WriterFailedError,
)
from sedimentdb.engine.wal import SEAL_CLOSED, SEAL_FILE, SEAL_OPENED, Wal
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
    Record,
    Reset,
    WriteBatch,
    WriteOp,
)
from sedimentdb.engine.wal.seal import Seal, read_seal, same_database, write_seal

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"
REPLICATION_HOLD = "replication/hold"  # see log_release_limit
REFRESH_ATTEMPTS = 5  # a refresh racing the writer's garbage collection starts over this often



class Database:
    """Catalog and collections over one log and its segments. Thread-safe."""

    def __init__(self, path: str, fs: FileSystem, options: DatabaseOptions,
                 clock: Callable[[], float], logger: Any) -> None:
        self.path = path
        self.fs = fs
        self.options = options
        self.clock = clock
        self.log = logger
        self.lock = threading.RLock()
        self.catalog = Catalog()
        self.collections: dict[str, CollectionState] = {}
        self._heirs: Heirs = {}  # forks inheriting records on replay (engine/fork.py)
        self.manifests: list[Manifest] = []
        self.last_lsn = 0
        self.epoch = 0
        self.uuid = ""
        self.closed = False
        self._failed: StorageError | None = None
        # Logged but not yet durable, in LSN order: applied by the first writer whose wait
        # covers them. A failed sync leaves its records here, never applied.
        self._unapplied: list[tuple[int, Record]] = []
        self._lock_handle: object | None = None
        self._refresh_lock = threading.Lock()
        self._manifest_seen = 0  # newest manifest generation listed when the state was loaded
        self._replay_bytes = 0  # while the log is replayed at open: its size in bytes (see _Replay)
        self.wal: Wal
        self.compactor: Compactor

    # ---- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str, options: DatabaseOptions | None = None, *, fs: FileSystem | None = None,
             clock: Callable[[], float] = time.time, logger: Any = None) -> Database:
        """Open or create the database at ``path``, recovering from the log.

        Raises LockedError if another process writes there, CorruptionError if files are damaged.
        """
        fs = fs or OsFileSystem()
        options = options or DatabaseOptions()
        # A reader takes no lock, so the writer may delete a file it is about to read (a log
        # file or segment a newer manifest released): start over a few times before failing.
        attempts = REFRESH_ATTEMPTS if options.read_only else 1
        failed = 0
        while True:
            db = cls(os.path.abspath(path), fs, options, clock, logger or K.get_logger("sedimentdb.engine"))
            try:
                db._open()
                return db
            except StorageError:
                db._abandon()
                failed += 1
                if failed == attempts:
                    raise
                time.sleep(0.01 * failed)
            except BaseException:
                db._abandon()
                raise

    @classmethod
    def in_memory(cls, options: DatabaseOptions | None = None) -> Database:
        """A database with no files: the same code over an in-memory file system, never synced."""
        opts = options or DatabaseOptions(durability="off")
        if opts.durability != "off":
            opts = DatabaseOptions(**{**opts.__dict__, "durability": "off"})
        return cls.open("/memory", opts, fs=MemoryFileSystem())

    def _open(self) -> None:
        started = self.clock()
        refuse_chroma_directory(self.path, self.fs.exists)  # before anything is created there
        self.fs.makedirs(self.path)
        if not self.options.read_only:
            self._lock_handle = self.fs.lock(os.path.join(self.path, "LOCK"))
        manifest = self._load_manifests()
        seal = self._read_seal(manifest)
        if manifest is not None:
            self._restore(manifest)
        # The log is read once: recovery hands each record it has checked to the replay.
        replay = self._replayer(manifest.replay_from() if manifest else 1)
        self.wal = Wal.open(
            os.path.join(self.path, "wal"), fs=self.fs,
            db_uuid=manifest.db_uuid if manifest else seal.db_uuid if seal else None, seal=seal,
            epoch=manifest.epoch if manifest else 0,
            durability=self.options.durability, sync_interval_ms=self.options.sync_interval_ms,
            roll_bytes=self.options.wal_roll_bytes, read_only=self.options.read_only, logger=self.log,
            recovery_mode=self.options.recovery_mode,
            replay_from=manifest.replay_from() if manifest else 1,
            covered_lsn=manifest.catalog_lsn if manifest else 0,
            consume=replay.apply,
        )
        self.uuid, self.epoch = self.wal.uuid, self.wal.epoch
        replay.done()
        self.compactor = Compactor(self, self.log)
        self.indexer = TailIndexer(self)
        if self.options.background_compaction:
            self.indexer.start()
        if not self.options.read_only:
            self.compactor.remove_orphans()
            self._ensure_defaults()
            self._write_seal(SEAL_OPENED)
            if self.options.background_compaction:
                self.compactor.start()
        self.log.info("database opened", **{K.PATH: self.path, K.LSN: self.last_lsn,
                      K.DURATION_MS: round((self.clock() - started) * 1000, 1)})

    def _load_manifests(self) -> Manifest | None:
        found = list_manifests(self.fs, self.path)
        good: list[Manifest] = []
        for _gen, mpath in reversed(found):
            try:
                good.append(read_manifest(self.fs, mpath))
            except CorruptionError as exc:
                if good:  # an older, damaged manifest does not matter once a newer one is valid
                    continue
                self.log.warning("manifest invalid, falling back", **{K.MANIFEST: mpath, K.ERROR: str(exc)})
            if len(good) >= self.options.keep_manifests:
                break
        if found and not good:
            raise CorruptionError("no manifest validates", path=found[-1][1],
                                  hint="run `sediment verify` and `sediment repair` on this directory")
        self.manifests = list(reversed(good))
        self._manifest_seen = found[-1][0] if found else 0
        return good[0] if good else None

    def _read_seal(self, manifest: Manifest | None) -> Seal | None:
        """The seal (what the last writer knew durable); it and the manifest must name one database."""
        seal = read_seal(self.fs, os.path.join(self.path, SEAL_FILE))
        if seal is not None and manifest is not None and not same_database(seal, manifest.db_uuid):
            raise CorruptionError(f"the seal names database {seal.db_uuid}, the manifest {manifest.db_uuid}",
                                  path=os.path.join(self.path, SEAL_FILE), offset=16,
                                  hint="a file from another database was copied here; run `sediment verify`")
        return seal

    def _write_seal(self, reason: int) -> None:
        """Record outside the log what it holds durably (engine/wal/seal.py). Writers only.

        A failure is logged, not raised: the seal already there is older and lower, so still true.
        """
        if self.options.read_only or not self.wal.uuid:
            return
        try:
            write_seal(self.fs, os.path.join(self.path, SEAL_FILE), self.wal.uuid, self.wal.synced_lsn, reason)
        except StorageError as exc:
            self.log.warning("seal not written; the previous one stays", **{K.PATH: self.path, K.ERROR: str(exc)})

    def _restore(self, manifest: Manifest) -> None:
        self.catalog = Catalog.from_dict(manifest.catalog)
        opened: dict[str, Segment] = {}  # a segment shared by forks is opened (and mapped) once
        for cid, info in self.catalog.collections.items():
            cs = self._new_state(info)
            entry = manifest.collections[cid]  # decode refused a manifest without one
            cs.checkpoint_lsn = int(entry["checkpoint_lsn"])
            for seg in entry["segments"]:
                cs.add_segment(self._load_segment(seg, opened))
        self._heirs = heirs_of(self.catalog.collections, {c: s.checkpoint_lsn for c, s in self.collections.items()})
        self.last_lsn = manifest.catalog_lsn

    def _load_segment(self, entry: dict[str, Any], opened: dict[str, Segment]) -> SegmentPart:
        desc = SegmentDescriptor.from_dict(entry["descriptor"])
        seg = opened.get(desc.segment_id)
        if seg is None or seg.descriptor.to_dict() != desc.to_dict():
            seg = opened[desc.segment_id] = Segment.open(self.fs, os.path.join(self.path, "segments"), desc)
        marker = entry.get("marker")
        if marker:
            mpath = os.path.join(self.path, "markers", marker["file"])
            mask = read_delete_marker(self.fs, mpath, marker, seg.count)
            deleted_at = np.where(mask, np.uint64(marker["lsn"]), np.uint64(0)).astype(np.uint64)
        else:
            deleted_at = np.zeros(seg.count, dtype=np.uint64)
        return SegmentPart(seg, deleted_at, marker)

    def _new_state(self, info: CollectionInfo) -> CollectionState:
        s = index_settings(info)
        cs = CollectionState(info.id, s.space, info.dimension, (s.max_neighbors, s.ef_construction, s.ef_search))
        cs.replay_bytes = self._replay_bytes
        self.collections[info.id] = cs
        return cs

    def _replayer(self, from_lsn: int) -> _Replay:
        """What applies the log's records from ``from_lsn`` on while the log is opened."""
        return _Replay(self, from_lsn)

    def _ensure_defaults(self) -> None:
        if DEFAULT_TENANT not in self.catalog.tenants:
            self._log_and_apply(CreateTenant(DEFAULT_TENANT))
        if (DEFAULT_TENANT, DEFAULT_DATABASE) not in self.catalog.databases:
            self._log_and_apply(CreateDatabase(str(uuid.uuid4()), DEFAULT_TENANT, DEFAULT_DATABASE))

    # ---- applying ---------------------------------------------------------------------------

    def _apply(self, record: Record, lsn: int, catalog_lsn: int = 0) -> Any:
        """Apply one logged record to the in-memory state (live or during replay)."""
        if isinstance(record, CATALOG_RECORDS):
            if lsn > catalog_lsn:
                return self._apply_catalog(record, lsn)
            return None
        if isinstance(record, WriteBatch):
            for cs in self._targets(record.collection_id, lsn):
                cs.apply_write(record, lsn)
                if cs.dim is not None:
                    self.catalog.set_dimension(cs.id, cs.dim)
            return None
        if isinstance(record, DeleteRecords):
            own, deleted = self.collections.get(record.collection_id), 0
            for cs in self._targets(record.collection_id, lsn):
                n = cs.apply_delete(record.ids, lsn)
                deleted = n if cs is own else deleted
            return deleted
        if isinstance(record, NewEpoch):
            self.epoch = record.epoch
            if hasattr(self, "wal"):  # replayed while the log opens: _Replay.done() tells it
                # Log files created from here on must name the new epoch in their header.
                self.wal.epoch = max(self.wal.epoch, record.epoch)
            return None
        raise TypeError(f"unknown record {type(record).__name__}")

    def _targets(self, collection_id: str, lsn: int) -> list[CollectionState]:
        """The states a data record of ``collection_id`` at ``lsn`` applies to: the collection's
        own (unless its segments already hold it), then forks still inheriting it on replay."""
        out = []
        cs = self.collections.get(collection_id)
        if cs is not None and lsn > cs.checkpoint_lsn:
            out.append(cs)
        for fid in inheriting(self._heirs, collection_id, lsn):
            fork = self.collections.get(fid)
            if fork is not None and lsn > fork.checkpoint_lsn:
                out.append(fork)
        return out

    def _apply_catalog(self, record: Record, lsn: int) -> None:
        if isinstance(record, ForkCollection):
            source = self.collections.get(record.source_id)
            if source is None or record.source_id not in self.catalog.collections:
                raise CorruptionError(f"the log forks collection {record.source_id}, which does not exist there",
                                      path=os.path.join(self.path, "wal"), lsn=lsn,
                                      hint="run `sediment verify` on this directory")
            self.catalog.apply(record, lsn)
            self.collections[record.id] = fork_state(source, record.id)
            return
        for cid in self.catalog.apply(record, lsn):
            self.collections.pop(cid, None)
        if isinstance(record, CreateCollection):
            # Nothing logged before its creation belongs to it: a manifest written before its
            # first flush must not send the next open back to LSN 1 (released, or not in a
            # restored log).
            self._new_state(self.catalog.collections[record.id]).checkpoint_lsn = lsn

    def _log_and_apply(self, record: Record) -> int:
        """Append ``record``, wait until it is durable, and apply it."""
        with self.lock:
            return int(self._log_locked(record))

    def _submit(self, record: Record) -> int:
        """Give ``record`` its LSN and queue it for the log and, once durable, for the state."""
        lsn = self.wal.submit(record)
        if isinstance(record, NewEpoch):
            # Log files the coming flush creates must already name the new epoch.
            self.wal.epoch = max(self.wal.epoch, record.epoch)
        self._unapplied.append((lsn, record))
        return lsn

    def _apply_through(self, lsn: int) -> None:
        """Apply the queued records up to ``lsn`` (durable now), in LSN order."""
        queue = self._unapplied
        while queue and queue[0][0] <= lsn:
            rec_lsn, record = queue.pop(0)
            self._apply(record, rec_lsn)
            self.last_lsn = rec_lsn

    def _wait(self, lsn: int) -> None:
        try:
            self.wal.wait(lsn)
        except StorageError as exc:
            self._failed = exc if isinstance(exc, WriterFailedError) else WriterFailedError(
                f"the log could not be made durable: {exc.message}", path=exc.path, lsn=lsn,
                hint="the database refuses writes until it is reopened")
            raise
        if self.options.background_compaction:
            self.compactor.notify()
            self.indexer.notify()

    def _check_writable(self) -> None:
        if self.closed:
            raise ClosedError("the database is closed", path=self.path)
        if self.options.read_only:
            raise ReadOnlyError("the database is open read-only", path=self.path)
        if self._failed is not None:
            raise WriterFailedError(f"an earlier write failed: {self._failed.message}", path=self.path,
                                    hint="reopen the database; acknowledged writes are safe in the log")

    @property
    def write_failure(self) -> StorageError | None:
        """Why the database refuses every write until it is reopened (a failed log write or sync), or None."""
        wal = getattr(self, "wal", None)
        return self._failed or (wal.failure if wal is not None else None)

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError("the database is closed", path=self.path)

    # ---- catalog --------------------------------------------------------------------------------

    def create_tenant(self, name: str) -> None:
        """Create a tenant; AlreadyExistsError if it exists."""
        with self.lock:
            if name in self.catalog.tenants:
                raise AlreadyExistsError(f"Tenant [{name}] already exists")
            self._log_locked(CreateTenant(name))

    def _log_locked(self, record: Record, result: Callable[[], Any] | None = None) -> Any:
        """Log ``record`` for a caller that validated it under ``self.lock``; apply it once durable.

        For a write batch or delete the lock is let go while waiting, so concurrent writers
        share one fdatasync (group commit); their validation sees the queued records through
        :meth:`_dimension` and :meth:`_exists`. A catalog change keeps the lock until it is
        applied, as the catalog checks of the next caller depend on it. ``result`` is evaluated
        right after the apply, under the lock, and returned (the LSN when not given).
        """
        self._check_writable()
        lsn = self._submit(record)
        if isinstance(record, (WriteBatch, DeleteRecords)):
            self.lock.release()
            try:
                self._wait(lsn)
            finally:
                self.lock.acquire()
        else:
            self._wait(lsn)
        self._apply_through(lsn)
        return result() if result is not None else lsn

    def has_tenant(self, name: str) -> bool:
        """Whether tenant ``name`` exists."""
        with self.lock:
            return name in self.catalog.tenants

    def list_tenants(self) -> list[str]:
        """All tenant names, in creation order."""
        with self.lock:
            return list(self.catalog.tenants)

    def create_database(self, tenant: str, name: str, id: str | None = None) -> DatabaseInfo:
        """Create a database in ``tenant``."""
        with self.lock:
            self._require_tenant(tenant)
            if (tenant, name) in self.catalog.databases:
                raise AlreadyExistsError(f"Database [{name}] already exists")
            return self._log_locked(CreateDatabase(id or str(uuid.uuid4()), tenant, name),
                                    lambda: self.catalog.databases[(tenant, name)])

    def _require_tenant(self, tenant: str) -> None:
        if tenant not in self.catalog.tenants:
            raise NotFoundError(f"Tenant [{tenant}] not found")

    def _require_database(self, tenant: str, name: str) -> DatabaseInfo:
        self._require_tenant(tenant)
        info = self.catalog.databases.get((tenant, name))
        if info is None:
            raise NotFoundError(f"Database [{name}] not found. Are you sure it exists?")
        return info

    def get_database(self, tenant: str, name: str) -> DatabaseInfo:
        """The named database; NotFoundError if missing."""
        with self.lock:
            return self._require_database(tenant, name)

    def list_databases(self, tenant: str, limit: int | None = None, offset: int = 0) -> list[DatabaseInfo]:
        """Databases of ``tenant`` in creation order, paged."""
        with self.lock:
            self._require_tenant(tenant)
            found = [d for (t, _), d in self.catalog.databases.items() if t == tenant]
        return found[offset: None if limit is None else offset + limit]

    def delete_database(self, tenant: str, name: str) -> None:
        """Delete a database and all its collections."""
        with self.lock:
            self._require_database(tenant, name)
            self._log_locked(DeleteDatabase(tenant, name))

    def create_collection(self, tenant: str, database: str, name: str, *, id: str | None = None,
                          metadata: dict | None = None, configuration: dict | None = None,
                          dimension: int | None = None) -> CollectionInfo:
        """Create a collection; AlreadyExistsError if the name is taken in that database."""
        with self.lock:
            self._require_database(tenant, database)
            if self.catalog.collection_id(tenant, database, name) is not None:
                raise AlreadyExistsError(f"Collection [{name}] already exists")
            cid = id or str(uuid.uuid4())
            if cid in self.catalog.collections:
                raise AlreadyExistsError(f"Collection with id [{cid}] already exists")
            return self._log_locked(CreateCollection(cid, tenant, database, name, metadata or None,
                                                     dict(configuration or {}), dimension),
                                    lambda: self.catalog.collections[cid])

    def get_collection(self, tenant: str, database: str, name: str) -> CollectionInfo:
        """The named collection; NotFoundError if missing."""
        with self.lock:
            cid = self.catalog.collection_id(tenant, database, name)
            if cid is None:
                raise NotFoundError(f"Collection [{name}] does not exist")
            return self.catalog.collections[cid]

    def get_collection_by_id(self, collection_id: str) -> CollectionInfo:
        """The collection with this id; NotFoundError if missing."""
        with self.lock:
            info = self.catalog.collections.get(str(collection_id))
            if info is None:
                raise NotFoundError(f"Collection [{collection_id}] does not exist")
            return info

    def list_collections(self, tenant: str, database: str, limit: int | None = None,
                         offset: int = 0) -> list[CollectionInfo]:
        """Collections of a database, ordered by id as Chroma 1.x does, paged."""
        with self.lock:
            found = self.catalog.collections_in(tenant, database)
        return found[offset: None if limit is None else offset + limit]

    def count_collections(self, tenant: str, database: str) -> int:
        """Number of collections in a database."""
        with self.lock:
            return len(self.catalog.collections_in(tenant, database))

    def modify_collection(self, collection_id: str, *, name: str | None = None, metadata: dict | None = None,
                          configuration: dict | None = None) -> CollectionInfo:
        """Rename a collection or replace its metadata/configuration."""
        with self.lock:
            info = self.get_collection_by_id(collection_id)
            if name is not None and name != info.name:
                if self.catalog.collection_id(info.tenant, info.database, name) is not None:
                    raise AlreadyExistsError(f"Collection [{name}] already exists")
            return self._log_locked(ModifyCollection(info.id, name, metadata, configuration),
                                    lambda: self.catalog.collections[info.id])

    def fork_collection(self, collection_id: str, new_name: str, *, id: str | None = None) -> CollectionInfo:
        """Fork a collection under ``new_name`` in its database (engine/fork.py); the new
        collection shares the source's segment files, so the cost does not grow with its size.

        NotFoundError if the source is missing, AlreadyExistsError if the name is taken.
        """
        with self.lock:
            self._check_writable()
            source = self.catalog.collections.get(str(collection_id))
            if source is None:
                raise NotFoundError(f"Collection [{collection_id}] does not exist")
            if self.catalog.collection_id(source.tenant, source.database, new_name) is not None:
                raise AlreadyExistsError(f"Collection [{new_name}] already exists")
            cid = id or str(uuid.uuid4())
            if cid in self.catalog.collections:
                raise AlreadyExistsError(f"Collection with id [{cid}] already exists")
            # The fork's state is the source's once every queued write of it is applied: the
            # catalog path of _log_locked waits for the record, which applies them first.
            return self._log_locked(ForkCollection(cid, source.id, source.tenant, source.database, new_name),
                                    lambda: self.catalog.collections[cid])

    def fork_count(self, collection_id: str) -> int:
        """Forks made in the collection's lineage (Chroma's count: the root and every fork of
        it report the same number; deleting a fork does not lower it)."""
        with self.lock:
            if str(collection_id) not in self.catalog.collections:
                raise NotFoundError(f"Collection [{collection_id}] does not exist")
            return self.catalog.fork_count(str(collection_id))

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection; its files are freed by the next manifest."""
        with self.lock:
            info = self.get_collection_by_id(collection_id)
            self._log_locked(DeleteCollection(info.id))
        self.compactor.request_manifest()

    def reset(self) -> None:
        """Delete everything, then recreate the default tenant and database."""
        with self.lock:
            self._log_locked(Reset())
            self._ensure_defaults()
        self.compactor.request_manifest()

    # ---- records ----------------------------------------------------------------------------------

    def _state(self, collection_id: str) -> CollectionState:
        cs = self.collections.get(str(collection_id))
        if cs is None:
            raise NotFoundError(f"Collection [{collection_id}] does not exist")
        return cs

    def _check_dim(self, cs: CollectionState, embeddings: np.ndarray | None) -> None:
        if embeddings is None:
            return
        if embeddings.ndim != 2:
            raise InvalidArgumentError(f"embeddings must be a 2-D array, got shape {embeddings.shape}")
        dim = self._dimension(cs)
        if dim is not None and embeddings.shape[1] != dim:
            raise InvalidArgumentError(
                f"Collection expecting embedding with dimension of {dim}, got {embeddings.shape[1]}")

    def _queued_for(self, cs: CollectionState) -> list[Record]:
        """Records of ``cs`` logged by other writers and not yet applied, in LSN order."""
        return [r for _, r in self._unapplied
                if isinstance(r, (WriteBatch, DeleteRecords)) and r.collection_id == cs.id]

    def _dimension(self, cs: CollectionState) -> int | None:
        """The collection's dimension once the queued records are applied.

        The first add or upsert with embeddings into a collection without a dimension sets
        it (such a collection holds no record, so every id of that batch is new).
        """
        if cs.dim is not None:
            return cs.dim
        for r in self._queued_for(cs):
            if isinstance(r, WriteBatch) and r.op != WriteOp.UPDATE and r.embeddings is not None and r.ids:
                return int(r.embeddings.shape[1])
        return None

    def _exists(self, cs: CollectionState, ids: list[str]) -> dict[str, bool]:
        """Whether each id will be live once the queued records are applied."""
        live = {i: i in cs.loc for i in ids}
        for r in self._queued_for(cs):
            if isinstance(r, DeleteRecords):
                live.update((i, False) for i in r.ids if i in live)
            elif r.op != WriteOp.UPDATE and r.embeddings is not None:
                live.update((i, True) for i in r.ids if i in live)
        return live

    def _catch_up(self, collection_id: str, own: int) -> None:
        """With ``max_unindexed_rows`` = N, a write of ``own`` rows that left more than N of the
        collection's tail rows in no graph indexes them on its own thread before it returns
        (``indexer.catch_up``): no query scans more than about N rows."""
        limit = self.options.max_unindexed_rows
        if limit and not self.options.read_only:
            catch_up(self, collection_id, limit, own)

    def _write(self, op: WriteOp, collection_id: str, ids: list[str], embeddings: Any,
               documents: Any, metadatas: Any, uris: Any) -> int:
        emb = None if embeddings is None else np.ascontiguousarray(embeddings, dtype=np.float32)
        n = len(ids)
        for name, col in (("documents", documents), ("metadatas", metadatas), ("uris", uris)):
            if col is not None and len(col) != n:
                raise InvalidArgumentError(f"{name} has {len(col)} entries for {n} ids")
        if emb is not None and len(emb) != n:
            raise InvalidArgumentError(f"embeddings has {len(emb)} rows for {n} ids")
        with self.lock:
            self._check_writable()
            cs = self._state(collection_id)
            self._check_dim(cs, emb)
            if emb is None and op != WriteOp.UPDATE and not all(self._exists(cs, ids).values()):
                raise InvalidArgumentError(f"{op.name.lower()} of a new record needs an embedding")
            batch = WriteBatch(op, cs.id, list(ids), emb,
                               None if documents is None else list(documents),
                               None if metadatas is None else list(metadatas),
                               None if uris is None else list(uris))
            lsn = self._log_locked(batch)
        self._catch_up(cs.id, n)
        return int(lsn)

    def add(self, collection_id: str, ids: list[str], embeddings: Any, documents: Any = None,
            metadatas: Any = None, uris: Any = None) -> int:
        """Add records; ids that already exist are ignored (Chroma's rule). Returns the LSN."""
        if embeddings is None:
            raise InvalidArgumentError("add needs embeddings")
        return self._write(WriteOp.ADD, collection_id, ids, embeddings, documents, metadatas, uris)

    def bulk_ingest(self, collection_id: str, ids: list[str], embeddings: Any, documents: Any = None,
                    metadatas: Any = None, uris: Any = None) -> int:
        """Add records whose ids are all new straight into a segment (engine/bulk.py): one log
        record, one segment, one manifest. For loading a new collection; returns the LSN."""
        return bulk_ingest(self, collection_id, ids, embeddings, documents, metadatas, uris)

    def update(self, collection_id: str, ids: list[str], embeddings: Any = None, documents: Any = None,
               metadatas: Any = None, uris: Any = None) -> int:
        """Update records; missing ids are ignored, metadata merges (None deletes a key)."""
        return self._write(WriteOp.UPDATE, collection_id, ids, embeddings, documents, metadatas, uris)

    def upsert(self, collection_id: str, ids: list[str], embeddings: Any = None, documents: Any = None,
               metadatas: Any = None, uris: Any = None) -> int:
        """Insert new ids, update existing ones."""
        return self._write(WriteOp.UPSERT, collection_id, ids, embeddings, documents, metadatas, uris)

    def delete(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
               where_document: dict | None = None, limit: int | None = None) -> int:
        """Delete by ids and/or filters (intersected); returns how many records were deleted.

        Refused on a database that cannot write, even when nothing matches: after a failed
        write, what would match is not known until the database is reopened.
        """
        with self.lock:
            self._check_writable()
            cs = self._state(collection_id)
            if where is None and where_document is None:
                targets = list(dict.fromkeys(i for i in (ids or []) if i in cs.loc))
            else:
                hits = cs.matching(ids, where, where_document)
                targets = [p.id_at(r) for p, r in hits]
            if limit is not None:
                targets = targets[:limit]
            if not targets:
                return 0
            self._log_locked(DeleteRecords(cs.id, targets))
            return len(targets)

    def count(self, collection_id: str, read_level: str = INDEX_AND_WAL) -> int:
        """Live records in the collection (at ``read_level``: engine/read_levels.py)."""
        with self.lock:
            cs = self._state(collection_id)
            as_of = self._read_lsn(cs, read_level)
            if as_of is None:
                return cs.count()
            return sum(int(np.count_nonzero(visible(p, as_of))) for p in cs.parts if p.count)

    def _read_lsn(self, cs: CollectionState, read_level: str) -> int | None:
        """The LSN a read at ``read_level`` sees ``cs`` as of (None: now)."""
        return read_lsn(cs.parts, cs.checkpoint_lsn, read_level, self.options.bounded_wal_records)

    def get(self, collection_id: str, ids: list[str] | None = None, where: dict | None = None,
            where_document: dict | None = None, limit: int | None = None, offset: int = 0,
            include: Include = Include(), read_level: str = INDEX_AND_WAL) -> Records:
        """Records matching ids/filters in insertion order, paged by offset/limit; ``read_level``
        chooses which logged writes the read sees (engine/read_levels.py)."""
        with self.lock:
            self._check_open()
            cs = self._state(collection_id)
            return cs.get(ids, where, where_document, limit, offset or 0, include, self._read_lsn(cs, read_level))

    def query(self, collection_id: str, embeddings: Any, n_results: int, where: dict | None = None,
              where_document: dict | None = None, ids: list[str] | None = None,
              include: Include = Include(), read_level: str = INDEX_AND_WAL) -> list[Records]:
        """The ``n_results`` nearest live records for each query row, nearest first (at ``read_level``)."""
        q = np.ascontiguousarray(embeddings, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        with self.lock:
            self._check_open()
            cs = self._state(collection_id)
            if cs.dim is not None and q.shape[1] != cs.dim:
                raise InvalidArgumentError(
                    f"Collection expecting embedding with dimension of {cs.dim}, got {q.shape[1]}")
            # ids only restrict the candidates: an unknown id is simply not one (the API raises
            # Chroma's "Error finding id" where Chroma does, which depends on the filters).
            # No part returns more than its rows: sizing results by n_results (10**9) exhausted memory.
            n_results = min(n_results, max(1, sum(p.count for p in cs.parts)))
            return cs.query(q, n_results, where, where_document, ids, include, self._read_lsn(cs, read_level))

    def sparse_query(self, collection_id: str, key: str, indices: list[int], values: list[float], n_results: int,
                     where: dict | None = None, where_document: dict | None = None, ids: list[str] | None = None,
                     include: Include = Include(), read_level: str = INDEX_AND_WAL) -> Records:
        """The ``n_results`` live records whose sparse vector under metadata ``key`` has the largest
        dot product with the sparse query (``indices``, ``values``); distances are ``1 - dot``
        (at ``read_level``)."""
        if len(indices) != len(values):
            raise InvalidArgumentError(f"sparse query has {len(indices)} indices and {len(values)} values")
        with self.lock:
            self._check_open()
            cs = self._state(collection_id)
            return cs.sparse_query(key, list(indices), list(values), n_results, where, where_document, ids,
                                   include, self._read_lsn(cs, read_level))

    # ---- replication hooks ------------------------------------------------------------------------

    def apply_replicated(self, records: list[tuple[int, Record]]) -> int:
        """Log and apply records shipped from a primary under their own LSNs; return the last LSN.

        Each LSN must be the next one of this log: a follower never applies a gap.
        """
        if not records:
            return self.last_lsn
        with self.lock:
            self._check_writable()
            for lsn, record in records:
                if lsn != self.wal.last_lsn + 1:
                    raise CorruptionError(f"replicated record has LSN {lsn}, this log expects "
                                          f"{self.wal.last_lsn + 1}", path=self.path, lsn=lsn,
                                          hint="a follower applies records strictly in LSN order")
                self._submit(record)
        last = records[-1][0]
        self._wait(last)
        with self.lock:
            self._apply_through(last)
        # A follower's queries are bounded like the primary's (max_unindexed_rows).
        rows: dict[str, int] = {}
        for _, r in records:
            if isinstance(r, WriteBatch):
                rows[r.collection_id] = rows.get(r.collection_id, 0) + len(r.ids)
        for cid, own in rows.items():
            self._catch_up(cid, own)
        return last

    def begin_epoch(self, epoch: int) -> int:
        """Log a NewEpoch record and seal the log file, so later files name ``epoch``; return its LSN."""
        if epoch <= self.epoch:
            raise InvalidArgumentError(f"new epoch {epoch} must be above the current epoch {self.epoch}")
        lsn = self._log_and_apply(NewEpoch(epoch))
        self.wal.roll()
        return lsn

    def log_release_limit(self) -> int | None:
        """The highest LSN whose log may be released while replication is on (None: no hold).

        A replicator, in this process or another, records in ``replication/hold`` the LSN
        before the archive's newest unit (its first line); the log after it is kept, so
        nothing unshipped is lost and a restarted shipper can still verify that unit.
        """
        path = os.path.join(self.path, REPLICATION_HOLD)
        if not self.fs.exists(path):
            return None
        try:
            return int(self.fs.read_bytes(path).split()[0])
        except (ValueError, IndexError):
            return 0  # an unreadable hold keeps the whole log rather than guess

    # ---- reading beside a writer ------------------------------------------------------------------

    def refresh(self) -> bool:
        """Catch a read-only database up with what its writer has put on disk; True if anything changed.

        New complete log records are applied (an append in progress is left for the next
        call); if the writer installed a newer manifest or released log this reader has not
        read, the state is reloaded from the newest manifest and log and swapped in. The state
        only ever moves forward along the writer's log. A race with the writer deleting files
        is retried (REFRESH_ATTEMPTS times) before a StorageError is raised.
        """
        if not self.options.read_only:
            raise InvalidArgumentError("refresh() is for a database opened with read_only=True; "
                                       "a writable database is always current")
        with self._refresh_lock:
            last: StorageError | None = None
            for attempt in range(REFRESH_ATTEMPTS):
                self._check_open()
                try:
                    return self._refresh_once()
                except ClosedError:
                    raise
                except StorageError as exc:  # the writer deleted a file we were reading: start over
                    last = exc
                    time.sleep(0.01 * (attempt + 1))
            assert last is not None
            raise StorageError(f"could not catch up with the writer in {REFRESH_ATTEMPTS} attempts: {last.message}",
                               path=last.path or self.path, offset=last.offset, lsn=last.lsn,
                               hint=last.hint or "the files keep changing under the reader, or are damaged; "
                                                 "run `sediment verify` on the directory")

    def _refresh_once(self) -> bool:
        found = list_manifests(self.fs, self.path)
        newest = found[-1][0] if found else 0
        if newest > self._manifest_seen or not self.uuid or self.wal.last_lsn != self.last_lsn:
            return self._reload()
        tail = self.wal.read_new()
        if tail.released:
            return self._reload()
        with self.lock:
            for lsn, record in tail.records:
                self._apply(record, lsn)
                self.last_lsn = lsn
        if tail.records:
            self.indexer.notify()
            self.log.debug("caught up with the writer", **{K.FIRST_LSN: tail.records[0][0], K.LAST_LSN: self.last_lsn,
                                                            K.RECORDS: len(tail.records)})
        return bool(tail.records)

    def _reload(self) -> bool:
        """Load the newest manifest + log into a fresh state and swap it in if it is not behind."""
        fresh = type(self).open(self.path, self.options, fs=self.fs, clock=self.clock, logger=self.log)
        if self.uuid and fresh.uuid and fresh.uuid.replace("-", "") != self.uuid.replace("-", ""):
            fresh.close()
            raise StorageError(f"the directory now holds database {fresh.uuid}, not {self.uuid}", path=self.path,
                               hint="it was replaced (e.g. a replica bootstrapped again); open it anew")
        if fresh.last_lsn < self.last_lsn:  # never go back: keep what we have and try again later
            fresh.close()
            # Bytes a reader saw do not vanish from the files unless the writer lost them (a
            # power loss before they were synced): its history may now differ from ours.
            self.log.warning("the writer's log ends before what this reader applied",
                             **{K.PATH: self.path, K.LSN: self.last_lsn, K.LAST_LSN: fresh.last_lsn,
                                K.HINT: "if this persists, reopen the reader"})
            return False
        changed = fresh.last_lsn > self.last_lsn  # a compaction alone changes the layout, not the contents
        with self.lock:
            old = self.wal
            self.catalog, self.collections, self.manifests = fresh.catalog, fresh.collections, fresh.manifests
            self._heirs = fresh._heirs
            self.last_lsn, self.epoch, self.uuid, self.wal = fresh.last_lsn, fresh.epoch, fresh.uuid, fresh.wal
            self._manifest_seen = fresh._manifest_seen
        fresh.indexer.stop()  # this database's indexer takes over the tails
        fresh.closed = True  # its parts now belong to this database
        old.close()
        self.log.info("reloaded from the newest manifest", **{K.PATH: self.path, K.LSN: self.last_lsn,
                                                              K.GENERATION: self._manifest_seen})
        return changed

    # ---- maintenance ----------------------------------------------------------------------------

    def compact(self, collection_id: str | None = None) -> None:
        """Compact now (all collections, or one) and wait until the new manifest is installed.

        NotFoundError if ``collection_id`` names no collection.
        """
        self._check_writable()
        if collection_id is not None:
            with self.lock:
                collection_id = self._state(collection_id).id
        self.compactor.compact_now(collection_id)

    def close(self) -> None:
        """Stop the compactor, close the log, release the directory lock. Idempotent."""
        if self.closed:
            return
        self.compactor.stop()
        self.indexer.stop()
        with self.lock:
            self.closed = True
            self.wal.close()
            self._write_seal(SEAL_CLOSED)
        self._release_lock()
        self.log.info("database closed", **{K.PATH: self.path, K.LSN: self.last_lsn})

    def _abandon(self) -> None:
        """Undo a failed open: close the log if it was opened, then release the lock.

        Without this, each failed open leaked the log's file handle and, with durability
        ``normal``, its sync thread (which ran for the life of the process).
        """
        if hasattr(self, "compactor"):
            self.compactor.stop()
        if hasattr(self, "indexer"):
            self.indexer.stop()
        if hasattr(self, "wal"):
            self.wal.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            self.fs.unlock(self._lock_handle)
            self._lock_handle = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Replay:
    """Applies the records of the log after the manifest's checkpoint as the log is opened
    (``Wal.open(consume=...)``), so the log is read once at open, not once to check it and
    again to replay it. An open that fails discards the database, and so what was applied.
    """

    def __init__(self, db: Database, from_lsn: int) -> None:
        self.db = db
        self.from_lsn = from_lsn
        self.catalog_lsn = db.manifests[-1].catalog_lsn if db.manifests else 0
        self.count = 0
        self.epoch: int | None = None  # the last NewEpoch record's epoch, if one was replayed
        # No tail can hold more vector bytes than the log being replayed: each tail makes room
        # for that many rows at its first append, so its columns grow once (growable.py:
        # reserve; untouched room costs no memory). The files are listed before the log is
        # opened, so this bound also counts bytes recovery may cut as a torn tail.
        db._replay_bytes = Wal.stored_bytes(db.fs, os.path.join(db.path, "wal"))
        for cs in db.collections.values():
            cs.replay_bytes = db._replay_bytes

    def apply(self, lsn: int, record: Record) -> None:
        """Apply one record read by recovery (LSN order, from ``from_lsn`` on)."""
        db = self.db
        db._apply(record, lsn, self.catalog_lsn)
        db.last_lsn = max(db.last_lsn, lsn)
        if isinstance(record, NewEpoch):
            self.epoch = record.epoch
        self.count += 1

    def done(self) -> None:
        """The log is open: finish the replay and check it reached what the manifest covers."""
        db = self.db
        db._replay_bytes = 0
        for cs in db.collections.values():
            cs.replay_bytes = 0
        if self.epoch is not None:  # as if the record had been applied with the log open
            db.epoch = self.epoch
            db.wal.epoch = max(db.wal.epoch, self.epoch)
        if db.wal.last_lsn < db.last_lsn:
            raise CorruptionError(
                f"the log ends at LSN {db.wal.last_lsn} but the manifest covers LSN {db.last_lsn}",
                path=os.path.join(db.path, "wal"), lsn=db.wal.last_lsn,
                hint="log files are missing; restore them or use `sediment repair`")
        db.log.info("log replayed", **{K.FIRST_LSN: self.from_lsn, K.LAST_LSN: db.last_lsn, K.RECORDS: self.count})

