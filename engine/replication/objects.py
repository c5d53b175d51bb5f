"""Archive objects: names and the self-verifying envelope every log unit and snapshot carries.

An object is ``MAGIC | u32 header_len | u32 header_crc32c | header JSON | body``. The header
names the database UUID, the epoch and the LSN range, the SHA-256 of the body (the object's
checksum) and the checksum of its predecessor (the previous log unit, or the previous
snapshot), so a reader can check integrity, identity and continuity of every object on its
own. Names repeat the identity and range so a listing alone shows gaps and overlaps; the
header must agree with the name, which catches renamed, copied or reordered objects.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import crc32c

from sedimentdb.engine.storage_errors import CorruptionError

MAGIC = b"SDBREPL1"
PREFIX = struct.Struct("<8sII")
LOG_DIR = "log"
SNAP_DIR = "snapshots"
FILES_DIR = "files"
_LOG_NAME = re.compile(r"^(\d{20})-(\d{20})\.e(\d{10})\.sdbl$")
_SNAP_NAME = re.compile(r"^(\d{20})\.e(\d{10})\.g(\d{20})\.sdbs$")


@dataclass
class ObjectHeader:
    """What an archive object says about itself."""

    kind: str  # "log" or "snapshot"
    db_uuid: str
    epoch: int
    first_lsn: int
    last_lsn: int
    checksum: str  # sha256 of the body
    prev_checksum: str  # checksum of the predecessor object of the same kind ("" for the first)
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def encode_object(header: ObjectHeader, body: bytes) -> bytes:
    """The bytes of an archive object."""
    head = json.dumps(asdict(header), sort_keys=True, separators=(",", ":")).encode()
    return PREFIX.pack(MAGIC, len(head), crc32c.crc32c(head)) + head + body


def decode_object(data: bytes, name: str) -> tuple[ObjectHeader, bytes]:
    """Parse and verify an object: envelope checksum, body checksum. CorruptionError if bad."""
    if len(data) < PREFIX.size:
        raise CorruptionError("archive object shorter than its envelope", path=name, offset=len(data))
    magic, hlen, hcrc = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CorruptionError("not a SedimentDB archive object (bad magic)", path=name, offset=0)
    head = data[PREFIX.size: PREFIX.size + hlen]
    if len(head) != hlen or crc32c.crc32c(head) != hcrc:
        raise CorruptionError("archive object header checksum mismatch", path=name, offset=PREFIX.size)
    try:
        header = ObjectHeader(**json.loads(head))
    except (ValueError, TypeError) as exc:
        raise CorruptionError(f"archive object header does not parse: {exc}", path=name) from exc
    body = data[PREFIX.size + hlen:]
    if sha256(body) != header.checksum:
        raise CorruptionError("archive object body checksum mismatch (damaged or truncated)", path=name,
                              offset=PREFIX.size + hlen, lsn=header.first_lsn,
                              hint="restore the object from another copy or ship a new snapshot")
    return header, body


def log_name(db_uuid: str, first: int, last: int, epoch: int) -> str:
    """Archive key of a log unit."""
    return f"{db_uuid}/{LOG_DIR}/{first:020d}-{last:020d}.e{epoch:010d}.sdbl"


def snapshot_name(db_uuid: str, lsn: int, epoch: int, generation: int) -> str:
    """Archive key of a snapshot (a manifest plus the list of files it needs)."""
    return f"{db_uuid}/{SNAP_DIR}/{lsn:020d}.e{epoch:010d}.g{generation:020d}.sdbs"


def file_name(db_uuid: str, relpath: str) -> str:
    """Archive key of a segment or marker file (``segments/<id>/<file>``, ``markers/<file>``)."""
    return f"{db_uuid}/{FILES_DIR}/{relpath}"


@dataclass(frozen=True)
class LogName:
    """A log unit as its name describes it."""

    key: str
    first_lsn: int
    last_lsn: int
    epoch: int


@dataclass(frozen=True)
class SnapName:
    """A snapshot as its name describes it."""

    key: str
    lsn: int
    epoch: int
    generation: int


def parse_log_name(key: str) -> LogName | None:
    """The log unit a key names, or None if it is not a log unit name."""
    m = _LOG_NAME.match(key.rsplit("/", 1)[-1])
    return LogName(key, int(m[1]), int(m[2]), int(m[3])) if m else None


def parse_snapshot_name(key: str) -> SnapName | None:
    """The snapshot a key names, or None."""
    m = _SNAP_NAME.match(key.rsplit("/", 1)[-1])
    return SnapName(key, int(m[1]), int(m[2]), int(m[3])) if m else None


def check_name(header: ObjectHeader, key: str, db_uuid: str) -> None:
    """Raise CorruptionError unless the header agrees with the key it was stored under."""
    if header.db_uuid != db_uuid:
        raise CorruptionError(f"object belongs to database {header.db_uuid}, not {db_uuid}", path=key,
                              hint="an object of another database was copied here")
    if header.kind == "log":
        named = parse_log_name(key)
        ok = named is not None and (named.first_lsn, named.last_lsn, named.epoch) == (
            header.first_lsn, header.last_lsn, header.epoch)
    else:
        snap = parse_snapshot_name(key)
        ok = snap is not None and (snap.lsn, snap.epoch) == (header.last_lsn, header.epoch)
    if not ok:
        raise CorruptionError(f"object header (LSN {header.first_lsn}..{header.last_lsn}, epoch {header.epoch}) "
                              "does not match its name", path=key,
                              hint="the object was renamed, copied or reordered")
