"""Numbered, write-once, checksummed manifests (see FORMAT.md beside this file).

A manifest names everything a reopen needs besides the log: the catalog snapshot and the
LSN it covers, and per collection its live segments, their delete markers and the checkpoint
LSN below which the collection's records are all in those segments. Manifests are installed
atomically (temp file, fsync, rename, fsync directory) and never rewritten.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import crc32c
import zstandard

from sedimentdb.engine.fileio import FileSystem, write_file_atomically
from sedimentdb.engine.storage_errors import CorruptionError, FormatVersionError

MAGIC = b"SDBMANIF"
FORMAT_VERSION = 1
FLAG_ZSTD = 1
HEADER = struct.Struct("<8sIIQII")  # magic, version, flags, generation, payload length, payload crc
HEADER_CRC = struct.Struct("<I")
HEADER_SIZE = HEADER.size + HEADER_CRC.size  # 36 bytes
PREFIX = "MANIFEST-"
MAX_PAYLOAD = 1 << 30
COMPRESS_ABOVE = 4096


@dataclass
class Manifest:
    """The decoded content of one manifest file."""

    generation: int
    db_uuid: str
    epoch: int
    catalog_lsn: int
    catalog: dict[str, Any]
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: float = 0.0

    def replay_from(self) -> int:
        """The first LSN a reopen must replay."""
        ckpts = [c["checkpoint_lsn"] for c in self.collections.values()]
        return min([self.catalog_lsn, *ckpts]) + 1

    def files(self) -> set[str]:
        """Paths, relative to the data directory, of every file this manifest references."""
        out: set[str] = set()
        for entry in self.collections.values():
            for seg in entry["segments"]:
                out.add(f"segments/{seg['descriptor']['segment_id']}")
                if seg.get("marker"):
                    out.add(f"markers/{seg['marker']['file']}")
        return out

    def to_json(self) -> dict[str, Any]:
        """The payload object."""
        return {
            "generation": self.generation,
            "db_uuid": self.db_uuid,
            "epoch": self.epoch,
            "catalog_lsn": self.catalog_lsn,
            "created_at": self.created_at,
            "catalog": self.catalog,
            "collections": self.collections,
        }


def manifest_name(generation: int) -> str:
    """File name of manifest ``generation``."""
    return f"{PREFIX}{generation:020d}"


def encode(manifest: Manifest) -> bytes:
    """Manifest bytes: 36-byte header, then the (maybe zstd-compressed) JSON payload."""
    payload = json.dumps(manifest.to_json(), separators=(",", ":"), sort_keys=True).encode()
    flags = 0
    if len(payload) > COMPRESS_ABOVE:
        payload = zstandard.ZstdCompressor(level=3).compress(payload)
        flags |= FLAG_ZSTD
    head = HEADER.pack(MAGIC, FORMAT_VERSION, flags, manifest.generation, len(payload),
                       crc32c.crc32c(payload))
    return head + HEADER_CRC.pack(crc32c.crc32c(head)) + payload


def decode(data: bytes, path: str) -> Manifest:
    """Parse and verify manifest bytes; CorruptionError names what is wrong."""
    if len(data) < HEADER_SIZE:
        raise CorruptionError("manifest shorter than its header", path=path, offset=len(data),
                              hint="an older manifest is used if one validates")
    head = data[: HEADER.size]
    magic, version, flags, gen, length, pcrc = HEADER.unpack(head)
    (hcrc,) = HEADER_CRC.unpack_from(data, HEADER.size)
    if magic != MAGIC:
        raise CorruptionError("not a manifest (bad magic)", path=path, offset=0)
    if crc32c.crc32c(head) != hcrc:
        raise CorruptionError("manifest header checksum mismatch", path=path, offset=HEADER.size)
    if version > FORMAT_VERSION:
        raise FormatVersionError(f"manifest format version {version} is newer than this build ({FORMAT_VERSION})",
                                 path=path, offset=8, hint="upgrade sedimentdb")
    payload = data[HEADER_SIZE:]
    if length > MAX_PAYLOAD or len(payload) != length:
        raise CorruptionError(f"manifest payload is {len(payload)} bytes, header says {length}",
                              path=path, offset=HEADER_SIZE)
    if crc32c.crc32c(payload) != pcrc:
        raise CorruptionError("manifest payload checksum mismatch", path=path, offset=HEADER_SIZE)
    return _parse_payload(payload, flags, gen, path)


def _parse_payload(payload: bytes, flags: int, gen: int, path: str) -> Manifest:
    try:
        if flags & FLAG_ZSTD:
            payload = zstandard.ZstdDecompressor().decompress(payload, max_output_size=MAX_PAYLOAD)
        obj = json.loads(payload)
        m = Manifest(
            generation=int(obj["generation"]), db_uuid=str(obj["db_uuid"]), epoch=int(obj["epoch"]),
            catalog_lsn=int(obj["catalog_lsn"]), catalog=obj["catalog"],
            collections=obj["collections"], created_at=float(obj.get("created_at", 0.0)),
        )
    except (ValueError, KeyError, TypeError, OverflowError, zstandard.ZstdError) as exc:
        # OverflowError: json reads Infinity, and int(inf) overflows (found by the manifest fuzzer).
        raise CorruptionError(f"manifest payload does not parse: {exc}", path=path, offset=HEADER_SIZE) from exc
    if m.generation != gen:
        raise CorruptionError(f"manifest header says generation {gen}, payload {m.generation}", path=path)
    if not _well_formed(m):
        raise CorruptionError("manifest payload has the wrong shape (catalog, collections or segments)",
                              path=path, offset=HEADER_SIZE)
    missing = _collection_without_entry(m)
    if missing is not None:
        raise CorruptionError(f"manifest catalog lists a collection it has no entry for: "
                              f"no entry for collection {missing}", path=path, offset=HEADER_SIZE)
    return m


def _collection_without_entry(m: Manifest) -> str | None:
    """The id of a collection the catalog lists but ``collections`` lacks, if any.

    The compactor writes an entry for every collection; a manifest without one would reopen
    that collection empty and delete its segments as orphans, so it is refused instead.
    """
    listed = m.catalog.get("collections")
    for info in listed if isinstance(listed, list) else []:
        cid = info.get("id") if isinstance(info, dict) else None
        if cid not in m.collections:
            return str(cid)
    return None


def _well_formed(m: Manifest) -> bool:
    """Whether the parts every reader indexes blindly have the types it expects."""
    if not isinstance(m.catalog, dict) or not isinstance(m.collections, dict):
        return False
    for entry in m.collections.values():
        if not isinstance(entry, dict) or type(entry.get("checkpoint_lsn")) is not int:
            return False
        segs = entry.get("segments")
        if not isinstance(segs, list):
            return False
        for seg in segs:
            if not isinstance(seg, dict) or not isinstance(seg.get("descriptor"), dict):
                return False
            if not isinstance(seg["descriptor"].get("segment_id"), str):
                return False
            marker = seg.get("marker")
            if marker is not None and not (isinstance(marker, dict) and isinstance(marker.get("file"), str)):
                return False
    return True


def list_manifests(fs: FileSystem, directory: str) -> list[tuple[int, str]]:
    """(generation, path) of every manifest file in ``directory``, oldest first."""
    out = []
    for name in fs.listdir(directory):
        suffix = name[len(PREFIX):]
        if name.startswith(PREFIX) and suffix.isdigit() and len(suffix) == 20:
            out.append((int(suffix), os.path.join(directory, name)))
    return sorted(out)


def read_manifest(fs: FileSystem, path: str) -> Manifest:
    """Read and verify one manifest file."""
    m = decode(fs.read_bytes(path), path)
    expected = int(os.path.basename(path)[len(PREFIX):])
    if m.generation != expected:
        raise CorruptionError(f"manifest file name says generation {expected}, content {m.generation}", path=path)
    return m


def write_manifest(fs: FileSystem, directory: str, manifest: Manifest) -> str:
    """Install ``manifest`` atomically; return its path. Never overwrites an existing one."""
    path = os.path.join(directory, manifest_name(manifest.generation))
    if fs.exists(path):
        raise CorruptionError("refusing to overwrite an existing manifest", path=path,
                              hint="manifests are write-once; this is a bug")
    data = encode(manifest)
    write_file_atomically(fs, path, data)
    # Read back before anything older is deleted: the new generation must be readable, since
    # by default (keep_manifests=1) it is the only one left once garbage is collected.
    if fs.read_bytes(path) != data:
        raise CorruptionError("manifest reads back different bytes than were written", path=path,
                              hint="the disk or file system lost or changed the write; check it")
    return path
