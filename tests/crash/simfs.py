"""A simulated file system for crash and fault-injection tests.

:class:`SimFileSystem` implements the engine's ``FileSystem`` protocol in memory, with the
durability rules of a POSIX file system that promises nothing beyond what was synced
(the pessimistic model of ALICE and CrashMonkey, storage-anchors §6(f)):

* every file is an *inode*; its bytes become durable only through ``sync`` (fdatasync) or
  ``truncate`` (which syncs). Writes since the last sync are kept as an ordered list of
  pending operations;
* every directory is an inode with *current* entries and *durable* entries; ``fsync_dir``
  makes the current entries of that one directory durable. ``create``, ``rename``,
  ``unlink`` and ``rmtree`` change only the current entries;
* ``makedirs`` makes the entries of the directories it creates durable (the protocol says so).

It records every operation (``ops``), counts them per kind, calls ``on_persist`` before
every persistence point (sync, fsync_dir, rename, unlink, rmtree, truncate) so a test can
take a :meth:`snapshot`, and can fail the k-th operation of a kind with an injected
``StorageIOError`` (once, persistently, or as ENOSPC). :func:`crash_image` turns a snapshot
into a fresh file system holding one state a crash could have left.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from sedimentdb.engine.storage_errors import LockedError, StorageIOError

BLOCK = 4096
PERSIST_KINDS = ("sync", "fsync_dir", "rename", "unlink", "rmtree", "truncate")
FAULT_KINDS = ("write", "sync", "fsync_dir", "rename", "create", "truncate", "unlink")
CRASH_MODES = ("synced", "process", "subset", "torn_cut", "torn_zero", "torn_garbage", "meta_only")

_ids = itertools.count(1)


class Inode:
    """A file (``data``, ``synced``, ``pending``) or a directory (``entries``, ``durable``)."""

    def __init__(self, is_dir: bool) -> None:
        self.id = next(_ids)
        self.is_dir = is_dir
        self.data = bytearray()
        self.synced = b""
        self.pending: list[tuple] = []  # ("w", offset, bytes, seq) | ("t", size, seq)
        self.entries: dict[str, Inode] = {}
        self.durable: dict[str, Inode] = {}
        self.sync_failed = False


@dataclass
class Fault:
    """Fail the ``k``-th (1-based) operation of ``kind``; ``persistent`` fails every later one too."""

    kind: str
    k: int
    persistent: bool = False
    enospc: bool = False
    fired: list[str] = field(default_factory=list)


@dataclass
class FrozenFile:
    """A file's state at a snapshot."""

    data: bytes
    synced: bytes
    pending: tuple


@dataclass
class Snapshot:
    """The whole file system at one instant: inodes by id, and the root directory's id."""

    root: int
    files: dict[int, FrozenFile]
    dirs: dict[int, tuple[dict[str, int], dict[str, int]]]  # id -> (current, durable)
    last_write_inode: int | None
    label: str = ""


class SimWritableFile:
    """An append handle bound to an inode (it follows the file across renames)."""

    def __init__(self, fs: SimFileSystem, path: str, inode: Inode) -> None:
        self.path = path
        self._fs = fs
        self._inode = inode
        self._sync_failed = False

    def write(self, data: bytes) -> None:
        """Append ``data``; an injected fault writes nothing (EIO) or half of it (ENOSPC)."""
        fs = self._fs
        with fs.mutex:
            fs._record("write", self.path, len(data))
            fault = fs._fault_for("write", self.path)
            if fault is not None and fault.enospc:
                data = bytes(data)[: len(data) // 2]
            if data:
                ino = self._inode
                fs._seq += 1
                ino.pending.append(("w", len(ino.data), bytes(data), fs._seq))
                ino.data.extend(data)
                fs.last_write_inode = ino.id
            if fault is not None:
                fs._raise(fault, "write", self.path)

    def sync(self) -> None:
        """fdatasync: the inode's bytes become durable. A failure loses the pending writes."""
        fs = self._fs
        with fs.mutex:
            fs._record("sync", self.path)
            fs._persist_point("sync", self.path)
            ino = self._inode
            if self._sync_failed:
                fs.violations.append(f"sync retried on {self.path} after a failed sync")
            elif ino.sync_failed:
                # another handle (a reopen in the same boot) syncs a file whose sync failed: the
                # lost pages are not rewritten, yet this sync reports success (fsyncgate)
                fs.resynced_after_failure.append(self.path)
            fault = fs._fault_for("sync", self.path)
            if fault is not None:
                ino.sync_failed = self._sync_failed = True
                ino.pending = []  # fsyncgate: the dirty pages are dropped, the error reported once
                fs._raise(fault, "fdatasync", self.path)
            ino.synced = bytes(ino.data)
            ino.pending = []

    def tell(self) -> int:
        """Size of the file."""
        with self._fs.mutex:
            return len(self._inode.data)

    def close(self) -> None:
        """Closing does not sync."""
        with self._fs.mutex:
            self._fs._record("close", self.path)


class SimFileSystem:
    """See the module docstring. Thread-safe (one re-entrant mutex)."""

    def __init__(self) -> None:
        self.root = Inode(True)
        self.mutex = threading.RLock()
        self.ops: list[tuple] = []
        self.counts: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.violations: list[str] = []
        self.resynced_after_failure: list[str] = []
        self.on_persist: Callable[[str, str], None] | None = None
        self.last_write_inode: int | None = None
        self._locks: set[str] = set()
        self._seq = 0

    # ---- bookkeeping -------------------------------------------------------------------------

    def _record(self, kind: str, path: str, *extra: object) -> None:
        self.ops.append((kind, path, *extra))
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _persist_point(self, kind: str, path: str) -> None:
        if self.on_persist is not None:
            self.on_persist(kind, path)

    def _fault_for(self, kind: str, path: str) -> Fault | None:
        n = self.counts.get(kind, 0)
        for f in self.faults:
            if f.kind == kind and (n == f.k or (f.persistent and n > f.k)):
                f.fired.append(path)
                return f
        return None

    @staticmethod
    def _raise(fault: Fault, op: str, path: str) -> None:
        if fault.enospc:
            raise StorageIOError(f"{op} failed: No space left on device (injected)", path=path,
                                 hint="the disk is full; free space and reopen")
        raise StorageIOError(f"{op} failed: Input/output error (injected)", path=path,
                             hint="check the disk and permissions, then reopen the database")

    def inject(self, kind: str, k: int, *, persistent: bool = False, enospc: bool = False) -> Fault:
        """Arrange for the k-th ``kind`` operation (counted from now on) to fail."""
        fault = Fault(kind, self.counts.get(kind, 0) + k, persistent, enospc)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.mutex:
            self.faults = []

    # ---- path resolution -----------------------------------------------------------------------

    @staticmethod
    def _parts(path: str) -> list[str]:
        return [p for p in os.path.normpath(path).split("/") if p]

    def _lookup(self, path: str) -> Inode | None:
        node = self.root
        for name in self._parts(path):
            if not node.is_dir or name not in node.entries:
                return None
            node = node.entries[name]
        return node

    def _parent(self, path: str) -> tuple[Inode, str]:
        parts = self._parts(path)
        parent = self._lookup("/" + "/".join(parts[:-1]))
        if parent is None or not parent.is_dir:
            raise StorageIOError("open failed: No such file or directory (parent missing)", path=path)
        return parent, parts[-1]

    def _file(self, path: str) -> Inode:
        node = self._lookup(path)
        if node is None or node.is_dir:
            raise StorageIOError("read failed: No such file or directory", path=path)
        return node

    # ---- the FileSystem protocol -----------------------------------------------------------------

    def create(self, path: str) -> SimWritableFile:
        """Create or truncate ``path`` (O_TRUNC keeps the inode)."""
        with self.mutex:
            self._record("create", path)
            fault = self._fault_for("create", path)
            if fault is not None:
                self._raise(fault, "open", path)
            parent, name = self._parent(path)
            node = parent.entries.get(name)
            if node is None or node.is_dir:
                node = Inode(False)
                parent.entries[name] = node
            else:
                if node.data:
                    self._seq += 1
                    node.pending.append(("t", 0, self._seq))
                    node.data = bytearray()
                node.sync_failed = False  # O_TRUNC discards the data whose sync failed
            return SimWritableFile(self, path, node)

    def open_append(self, path: str) -> SimWritableFile:
        """Open an existing file for appending."""
        with self.mutex:
            self._record("open_append", path)
            return SimWritableFile(self, path, self._file(path))

    def read_bytes(self, path: str) -> bytes:
        """The file's current bytes (what the page cache holds)."""
        with self.mutex:
            return bytes(self._file(path).data)

    def open_read(self, path: str) -> BinaryIO:
        """A reader over a copy of the bytes."""
        return io.BytesIO(self.read_bytes(path))

    def size(self, path: str) -> int:
        """Current size."""
        with self.mutex:
            return len(self._file(path).data)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists now."""
        with self.mutex:
            return self._lookup(path) is not None

    def listdir(self, path: str) -> list[str]:
        """Sorted names; a missing directory lists as empty."""
        with self.mutex:
            node = self._lookup(path)
            if node is None or not node.is_dir:
                return []
            return sorted(node.entries)

    def makedirs(self, path: str) -> None:
        """Create missing directories and make their entries durable."""
        with self.mutex:
            node = self.root
            for name in self._parts(path):
                child = node.entries.get(name)
                if child is None:
                    self._record("mkdir", name)
                    child = Inode(True)
                    node.entries[name] = child
                    node.durable[name] = child
                elif not child.is_dir:
                    raise StorageIOError("mkdir failed: File exists", path=path)
                node = child

    def rename(self, src: str, dst: str) -> None:
        """Move an entry; durable only after fsync_dir of the parent."""
        with self.mutex:
            self._record("rename", src, dst)
            self._persist_point("rename", src)
            fault = self._fault_for("rename", src)
            if fault is not None:
                self._raise(fault, "rename", src)
            sp, sname = self._parent(src)
            dp, dname = self._parent(dst)
            if sname not in sp.entries:
                raise StorageIOError("rename failed: No such file or directory", path=src)
            dp.entries[dname] = sp.entries.pop(sname)

    def unlink(self, path: str) -> None:
        """Remove a file entry; missing is not an error."""
        with self.mutex:
            self._record("unlink", path)
            self._persist_point("unlink", path)
            fault = self._fault_for("unlink", path)
            if fault is not None:
                self._raise(fault, "unlink", path)
            node = self._lookup(path)
            if node is not None and not node.is_dir:
                parent, name = self._parent(path)
                del parent.entries[name]

    def rmtree(self, path: str) -> None:
        """Remove a directory entry (and so its tree); missing is not an error."""
        with self.mutex:
            self._record("rmtree", path)
            self._persist_point("rmtree", path)
            if self._lookup(path) is not None:
                parent, name = self._parent(path)
                del parent.entries[name]

    def truncate(self, path: str, size: int) -> None:
        """ftruncate + fsync: the cut (and everything else in the file) is durable."""
        with self.mutex:
            self._record("truncate", path, size)
            self._persist_point("truncate", path)
            fault = self._fault_for("truncate", path)
            if fault is not None:
                self._raise(fault, "truncate", path)
            node = self._file(path)
            del node.data[size:]
            node.synced = bytes(node.data)
            node.pending = []

    def fsync_dir(self, path: str) -> None:
        """The directory's current entries become its durable entries."""
        with self.mutex:
            self._record("fsync_dir", path)
            self._persist_point("fsync_dir", path)
            fault = self._fault_for("fsync_dir", path)
            if fault is not None:
                self._raise(fault, "fsync of directory", path)
            node = self._lookup(path)
            if node is None or not node.is_dir:
                raise StorageIOError("fsync of directory failed: No such directory", path=path)
            node.durable = dict(node.entries)

    def lock(self, path: str) -> object:
        """An exclusive lock held in memory (a crash image starts with none)."""
        p = os.path.normpath(path)
        with self.mutex:
            if p in self._locks:
                raise LockedError("another writer holds this simulated directory", path=path)
            self._locks.add(p)
            if self._lookup(p) is None:
                parent, name = self._parent(p)
                parent.entries[name] = parent.durable[name] = Inode(False)
        return p

    def unlock(self, handle: object) -> None:
        """Release a lock."""
        with self.mutex:
            self._locks.discard(str(handle))

    # ---- snapshots and inspection ------------------------------------------------------------------

    def snapshot(self, label: str = "") -> Snapshot:
        """Freeze every inode reachable through current or durable entries."""
        with self.mutex:
            files: dict[int, FrozenFile] = {}
            dirs: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
            stack = [self.root]
            while stack:
                node = stack.pop()
                if node.is_dir:
                    if node.id in dirs:
                        continue
                    dirs[node.id] = ({k: v.id for k, v in node.entries.items()},
                                     {k: v.id for k, v in node.durable.items()})
                    stack.extend(node.entries.values())
                    stack.extend(node.durable.values())
                elif node.id not in files:
                    files[node.id] = FrozenFile(bytes(node.data), node.synced, tuple(node.pending))
            return Snapshot(self.root.id, files, dirs, self.last_write_inode, label)

    def walk(self, path: str = "/") -> list[str]:
        """Every file path under ``path`` (current namespace), sorted."""
        with self.mutex:
            out: list[str] = []
            start = self._lookup(path)

            def rec(node: Inode, prefix: str) -> None:
                for name, child in node.entries.items():
                    p = f"{prefix}/{name}"
                    if child.is_dir:
                        rec(child, p)
                    else:
                        out.append(p)

            if start is not None and start.is_dir:
                rec(start, os.path.normpath(path).rstrip("/"))
            return sorted(out)

    def unsynced_bytes(self) -> int:
        """Bytes written but not yet synced, over all files."""
        snap = self.snapshot()
        return sum(len(p[2]) for f in snap.files.values() for p in f.pending if p[0] == "w")


# ---- crash images -------------------------------------------------------------------------------

@dataclass
class CrashInfo:
    """What a crash image dropped: used to classify a refusal to open."""

    mode: str
    hole_in_unsynced: bool = False  # some unsynced bytes dropped while later ones were kept


def _apply(content: bytearray, op: tuple) -> None:
    if op[0] == "t":
        del content[op[1]:]
        return
    _, off, data, _seq = op
    if len(content) < off:
        content.extend(b"\0" * (off - len(content)))
    content[off: off + len(data)] = data


def _file_content(f: FrozenFile, mode: str, rng: random.Random, torn: bool, info: CrashInfo) -> bytes:
    if mode == "process":
        return f.data
    if mode in ("synced", "meta_only") or not f.pending:
        return f.synced
    content = bytearray(f.synced)
    if mode == "subset":
        dropped = False
        for op in f.pending:
            if op[0] == "t":
                if rng.random() < 0.5:
                    _apply(content, op)
                continue
            _, off, data, seq = op
            for b in range(off - off % BLOCK, off + len(data), BLOCK):
                lo, hi = max(b, off), min(b + BLOCK, off + len(data))
                if rng.random() < 0.5:
                    _apply(content, ("w", lo, data[lo - off: hi - off], seq))
                    if dropped:
                        info.hole_in_unsynced = True
                else:
                    dropped = True
        return bytes(content)
    # torn modes: every pending op kept, the file's last write torn (only in the torn file)
    ops = list(f.pending)
    last = ops.pop() if torn and ops and ops[-1][0] == "w" else None
    for op in ops:
        _apply(content, op)
    if last is not None:
        _, off, data, seq = last
        cut = rng.randrange(0, len(data)) if len(data) > 1 else 0
        _apply(content, ("w", off, data[:cut], seq))
        rest = len(data) - cut
        if mode == "torn_zero":
            _apply(content, ("w", off + cut, b"\0" * rest, seq))
        elif mode == "torn_garbage":
            _apply(content, ("w", off + cut, rng.randbytes(rest), seq))
    return bytes(content)


def crash_image(snap: Snapshot, mode: str, seed: int = 0) -> tuple[SimFileSystem, CrashInfo]:
    """A fresh file system holding what a crash at ``snap`` could leave, per ``mode``.

    * ``synced``: only synced bytes, only durable directory entries (power loss);
    * ``process``: everything as the process left it (kill -9: the page cache survives);
    * ``subset``: synced bytes plus a random subset of the unsynced 4 KiB blocks; each
      directory randomly keeps its durable or its current entries;
    * ``torn_cut`` / ``torn_zero`` / ``torn_garbage``: unsynced writes kept, except that the
      very last write is cut short, or its tail is zeros, or garbage; durable entries only;
    * ``meta_only``: current directory entries (renames, creates, unlinks all happened) but
      only synced data (journalled metadata, data lost: ext4 data=writeback).
    """
    if mode not in CRASH_MODES:
        raise ValueError(f"unknown crash mode {mode!r}")
    rng = random.Random(seed)
    info = CrashInfo(mode)
    fs = SimFileSystem()
    built: dict[int, Inode] = {}

    def build(iid: int) -> Inode:
        if iid in built:
            return built[iid]
        if iid in snap.dirs:
            node = Inode(True)
            built[iid] = node
            cur, dur = snap.dirs[iid]
            if mode in ("process", "meta_only"):
                use_current = True
            elif mode == "subset":
                use_current = rng.random() < 0.5
            else:
                use_current = False
            for name, cid in sorted((cur if use_current else dur).items()):
                child = build(cid)
                node.entries[name] = node.durable[name] = child
            return node
        f = snap.files[iid]
        node = Inode(False)
        node.data = bytearray(_file_content(f, mode, rng, iid == snap.last_write_inode, info))
        node.synced = bytes(node.data)
        built[iid] = node
        return node

    fs.root = build(snap.root)
    return fs, info


def fresh_copy(fs: SimFileSystem) -> SimFileSystem:
    """The current state of ``fs`` (as the process sees it) as a new, fully durable file system."""
    return crash_image(fs.snapshot(), "process")[0]
