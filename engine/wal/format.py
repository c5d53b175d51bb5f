"""On-disk constants of the write-ahead log. See FORMAT.md beside this file.

Numbers here are part of the file format: never renumber, only add.
"""

from __future__ import annotations

import struct

FILE_MAGIC = b"SDBWAL\x00\x01"
FORMAT_VERSION = 1
FILE_SUFFIX = ".log"
FILE_NAME_DIGITS = 20

# File header: magic, version, flags, reserved, uuid(16), epoch, first_lsn, prev_last_lsn, reserved, crc
FILE_HEADER = struct.Struct("<8sHHI16sQQQI")
FILE_HEADER_CRC = struct.Struct("<I")
FILE_HEADER_SIZE = FILE_HEADER.size + FILE_HEADER_CRC.size  # 64

# Frame header: header_crc, payload_len, lsn, type, codec, flags, reserved, raw_len, payload_crc, reserved
FRAME_HEADER = struct.Struct("<IIQBBBBIII")
FRAME_HEADER_SIZE = FRAME_HEADER.size  # 32
ALIGN = 8
MAX_FRAME_PAYLOAD = 32 << 20  # a larger record is split into frames of one transaction
MAX_RECORD_BYTES = 1 << 31

# Frame flags: a record is one frame (FIRST|LAST) or a transaction of several.
FLAG_FIRST = 1
FLAG_LAST = 2

# Frame codecs (of the stored payload bytes).
CODEC_RAW = 0

# Record types.
REC_CREATE_TENANT = 1
REC_CREATE_DATABASE = 2
REC_DELETE_DATABASE = 3
REC_CREATE_COLLECTION = 4
REC_MODIFY_COLLECTION = 5
REC_DELETE_COLLECTION = 6
REC_RESET = 7
REC_ADD = 10
REC_UPDATE = 11
REC_UPSERT = 12
REC_DELETE_RECORDS = 13
REC_NEW_EPOCH = 20
REC_FORK_COLLECTION = 21

# Payload text-section codecs (see codec.py).
TEXT_RAW = 0
TEXT_ZSTD = 1
COMPRESS_TEXT_ABOVE = 1024


def padded(n: int) -> int:
    """``n`` rounded up to the frame alignment."""
    return (n + ALIGN - 1) // ALIGN * ALIGN


def file_name(first_lsn: int) -> str:
    """Log file name for a file whose first record has ``first_lsn``."""
    return f"{first_lsn:0{FILE_NAME_DIGITS}d}{FILE_SUFFIX}"

# The seal (SEAL in the data directory, FORMAT.md §10): what the writer knew durable outside the log.
SEAL_FILE = "SEAL"
SEAL_MAGIC = b"SDBSEAL\x01"
SEAL_VERSION = 1
# magic, version, reason, reserved, uuid(16), durable LSN, written at (unix ms), crc
SEAL = struct.Struct("<8sHHI16sQQ")
SEAL_CRC = struct.Struct("<I")
SEAL_SIZE = SEAL.size + SEAL_CRC.size  # 52
# Why a seal was written (never renumbered).
SEAL_OPENED = 1  # after a writer's recovery: every record it read is durable
SEAL_CLOSED = 2  # at a clean close: every record synced
SEAL_REPAIRED = 3  # by `sediment repair`, lowered to where the repaired log ends

def name_lsn(path: str) -> int:
    """The first LSN a log file's name claims (0 for a name that is not a log file's)."""
    stem = path.rsplit("/", 1)[-1][: -len(FILE_SUFFIX)]
    return int(stem) if path.endswith(FILE_SUFFIX) and stem.isdigit() else 0


# Each record type's short name, as tools show and filter records.
RECORD_OPS = {
    REC_CREATE_TENANT: "create-tenant",
    REC_CREATE_DATABASE: "create-database",
    REC_DELETE_DATABASE: "delete-database",
    REC_CREATE_COLLECTION: "create-collection",
    REC_MODIFY_COLLECTION: "modify-collection",
    REC_DELETE_COLLECTION: "delete-collection",
    REC_RESET: "reset",
    REC_ADD: "add",
    REC_UPDATE: "update",
    REC_UPSERT: "upsert",
    REC_DELETE_RECORDS: "delete",
    REC_NEW_EPOCH: "new-epoch",
    REC_FORK_COLLECTION: "fork-collection",
}
