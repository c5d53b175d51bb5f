"""The seal: what the writer knew durable, kept outside the log (FORMAT.md §10).

A log cut back at a record boundary, replaced by another database's log, or deleted looks
like a shorter, different or empty log: the log alone cannot tell (FORMAT.md §9). The seal
is a small checksummed file, written atomically, that names the database and an LSN through
which every record was fdatasynced when it was written. Opening checks the log against it:

* no log file at all, while the seal exists: the log is missing (corruption);
* a log file of another database: the identity check of the header fails (the seal supplies
  the database's UUID when no manifest does);
* damage at or before the seal's LSN is never a torn tail: those records were synced;
* a log that ends before the seal's LSN lost durable records (corruption).

The seal is written only after the log it describes is synced (after a writer's recovery, at
a clean close), so a crash at any point leaves a seal that the log satisfies; a crash can
only leave an older, lower seal. ``recovery_mode="point_in_time"`` (disks that lie about
flushes) ignores the seal's LSN: such a disk may have lost what both claim was synced.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass

import crc32c

from sedimentdb.engine.fileio import FileSystem, write_file_atomically
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import format as F

REASONS = {F.SEAL_OPENED: "when a writer last opened the database",
           F.SEAL_CLOSED: "at the last clean close", F.SEAL_REPAIRED: "by `sediment repair`"}


@dataclass(frozen=True)
class Seal:
    """The contents of a seal file: database identity and an LSN known durable."""

    db_uuid: str  # 32 lower-case hex digits
    lsn: int  # every record with an LSN up to this one was fdatasynced in the log
    reason: int = F.SEAL_CLOSED
    written_ms: int = 0

    def describe(self) -> str:
        """Why it was written, for messages."""
        return REASONS.get(self.reason, f"(reason {self.reason})")


def encode_seal(seal: Seal) -> bytes:
    """The bytes of a seal file."""
    body = F.SEAL.pack(F.SEAL_MAGIC, F.SEAL_VERSION, seal.reason, 0, uuidlib.UUID(seal.db_uuid).bytes,
                       seal.lsn, seal.written_ms)
    return body + F.SEAL_CRC.pack(crc32c.crc32c(body))


def decode_seal(data: bytes, path: str) -> Seal:
    """Parse and check a seal file's bytes; CorruptionError naming the offset if they are bad."""
    if len(data) != F.SEAL_SIZE:
        raise CorruptionError(f"seal file is {len(data)} bytes, expected {F.SEAL_SIZE}", path=path,
                              offset=min(len(data), F.SEAL_SIZE), hint=_HINT)
    (crc,) = F.SEAL_CRC.unpack_from(data, F.SEAL.size)
    if crc32c.crc32c(data[: F.SEAL.size]) != crc:
        raise CorruptionError("seal file checksum mismatch", path=path, offset=F.SEAL.size, hint=_HINT)
    magic, version, reason, _r, raw_uuid, lsn, written = F.SEAL.unpack_from(data)
    if magic != F.SEAL_MAGIC:
        raise CorruptionError("not a seal file (bad magic)", path=path, offset=0, hint=_HINT)
    if version != F.SEAL_VERSION:
        raise CorruptionError(f"seal file version {version} is not supported (this build reads "
                              f"{F.SEAL_VERSION})", path=path, offset=8, hint="open it with a newer sedimentdb")
    return Seal(uuidlib.UUID(bytes=raw_uuid).hex, lsn, reason, written)


_HINT = "run `sediment verify`; `sediment repair` rewrites the seal from the log"


def read_seal(fs: FileSystem, path: str) -> Seal | None:
    """The seal at ``path``, or None when there is none (a new database, or one from before seals)."""
    if not fs.exists(path):
        return None
    return decode_seal(fs.read_bytes(path), path)


def write_seal(fs: FileSystem, path: str, db_uuid: str, lsn: int, reason: int) -> None:
    """Install a seal atomically. Call only once every record up to ``lsn`` is fdatasynced."""
    seal = Seal(uuidlib.UUID(db_uuid).hex, lsn, reason, int(time.time() * 1000))
    write_file_atomically(fs, path, encode_seal(seal))


def same_database(seal: Seal, db_uuid: str) -> bool:
    """Whether ``db_uuid`` (any spelling) names the seal's database."""
    return seal.db_uuid == db_uuid.replace("-", "").lower()


def missing_log(seal: Seal, directory: str) -> CorruptionError:
    """The error for a log directory without a log file while a seal exists."""
    return CorruptionError(f"the log is missing: no log file, but the seal says database {seal.db_uuid} had "
                           f"records through LSN {seal.lsn} durable {seal.describe()}", path=directory,
                           lsn=1, hint="restore the log files from a backup or a replica; `sediment repair` "
                           "starts an empty log and says what is lost")


def damaged_durable(seal: Seal, path: str, offset: int | None, lsn: int, reason: str) -> CorruptionError:
    """The error for damage at or before the seal's LSN: synced records, never a torn tail."""
    return CorruptionError(f"damaged log record ({reason}) at LSN {lsn}, which was durable {seal.describe()} "
                           f"(the seal says through LSN {seal.lsn}): not a torn tail", path=path, offset=offset,
                           lsn=lsn, hint="acknowledged writes are damaged; run `sediment verify`, then `sediment "
                           "repair` (it says what is lost) or restore this file from a replica")


def ends_early(seal: Seal, path: str, end_offset: int, last_lsn: int) -> CorruptionError | None:
    """The error for a log that ends (at ``last_lsn``) before the seal's LSN, or None."""
    if last_lsn >= seal.lsn:
        return None
    span = f"LSN {seal.lsn}" if last_lsn + 1 == seal.lsn else f"LSNs {last_lsn + 1}..{seal.lsn}"
    return CorruptionError(f"the log ends at LSN {last_lsn}, but records through LSN {seal.lsn} were durable "
                           f"{seal.describe()}: {span} are missing (the file was cut short or replaced)",
                           path=path, offset=end_offset, lsn=last_lsn + 1,
                           hint="restore the log from a backup or a replica; `sediment repair` accepts the "
                           "loss and says what is lost")
