"""Checking an archived snapshot as restore would use it: its manifest and every file it lists.

A snapshot object names, for every segment and marker file its manifest needs, the file's
size and SHA-256 (``extra["files"]``). Restore refuses a file that does not match; verification
reads every file and compares the same figures, so a flipped, truncated, swapped or missing
file is found before anyone needs the archive. Files are shared between snapshots (they are
immutable): each is read once per run.
"""

from __future__ import annotations

from typing import Any

from sedimentdb.engine.compactor.manifest import decode as decode_manifest
from sedimentdb.engine.replication.destination import Destination
from sedimentdb.engine.replication.objects import check_name, decode_object, file_name, sha256
from sedimentdb.engine.storage_errors import CorruptionError, StorageError


def check_archived_file(rel: str, meta: dict[str, Any], data: bytes) -> None:
    """CorruptionError unless ``data`` has the size and SHA-256 the snapshot records for ``rel``."""
    if len(data) != meta["size"]:
        raise CorruptionError(f"archived file {rel} is {len(data)} bytes, the snapshot says {meta['size']}",
                              path=rel, offset=min(len(data), meta["size"]),
                              hint="the archive copy is damaged; restore from an older snapshot")
    if sha256(data) != meta["sha256"]:
        raise CorruptionError(f"archived file {rel} does not match the snapshot's checksum", path=rel,
                              hint="the archive copy is damaged; restore from an older snapshot")


class SnapshotChecker:
    """Verifies snapshots of one database in one archive, reading each shared file once."""

    def __init__(self, dest: Destination, db_uuid: str) -> None:
        self.dest = dest
        self.db_uuid = db_uuid
        self._seen: dict[tuple[str, str], str | None] = {}  # (rel, sha256) -> problem or None

    def check(self, key: str) -> list[str]:
        """Problems of the snapshot at ``key`` (empty = restore could use it)."""
        try:
            header, body = decode_object(self.dest.get(key), key)
            check_name(header, key, self.db_uuid)
            manifest = decode_manifest(body, key)
            files: dict[str, dict[str, Any]] = header.extra["files"]
        except (CorruptionError, StorageError) as exc:
            return [str(exc)]
        except (KeyError, TypeError) as exc:
            return [f"{key}: snapshot header lists no files ({exc})"]
        problems = [f"{key}: its manifest needs {need}, which the snapshot does not list"
                    for need in sorted(manifest.files()) if not _listed(need, files)]
        for rel, meta in sorted(files.items()):
            problem = self._check_file(rel, meta)
            if problem is not None:
                problems.append(f"{key}: {problem}")
        return problems

    def _check_file(self, rel: str, meta: dict[str, Any]) -> str | None:
        ident = (rel, str(meta.get("sha256")))
        if ident not in self._seen:
            self._seen[ident] = self._read_and_check(rel, meta)
        return self._seen[ident]

    def _read_and_check(self, rel: str, meta: dict[str, Any]) -> str | None:
        key = file_name(self.db_uuid, rel)
        if not self.dest.exists(key):
            return f"needs {rel}, which is missing"
        try:
            check_archived_file(rel, meta, self.dest.get(key))
        except (CorruptionError, StorageError) as exc:
            return str(exc)
        except (KeyError, TypeError):
            return f"the entry for {rel} records no size and checksum"
        return None


def _listed(need: str, files: dict[str, Any]) -> bool:
    """Whether a manifest's path (a segment directory or a marker file) is among ``files``."""
    return need in files or any(rel.startswith(need + "/") for rel in files)
