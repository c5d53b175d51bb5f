"""FORMAT.md must match the code: its worked example is regenerated and compared byte for byte,
and its tables are checked against the constants."""

from __future__ import annotations

import os
import re

import numpy as np

import sedimentdb.engine.wal as wal_pkg
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.wal import Wal
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

DOC = os.path.join(os.path.dirname(wal_pkg.__file__), "FORMAT.md")


def doc() -> str:
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def test_the_worked_example_is_what_the_code_writes(tmp_path):
    d = str(tmp_path / "wal")
    wal = Wal.open(d, fs=OsFileSystem(), db_uuid="00112233-4455-6677-8899-aabbccddeeff", epoch=0)
    wal.append(WriteBatch(WriteOp.ADD, "c1", ["a"], np.array([[1.0, -2.0]], np.float32), ["hi"], [{"k": 1}], None))
    wal.close()
    with open(os.path.join(d, F.file_name(1)), "rb") as f:
        written = f.read()
    lines = re.findall(r"^([0-9a-f]{8}): ((?:[0-9a-f]{2} ){0,15}[0-9a-f]{2})", doc(), re.M)
    documented = b"".join(bytes.fromhex(hexes) for _, hexes in lines)
    assert [int(off, 16) for off, _ in lines] == list(range(0, len(documented), 16))
    assert documented == written


def test_the_documented_layout_matches_the_constants():
    text = doc()
    assert F.FILE_HEADER_SIZE == 64 and F.FRAME_HEADER_SIZE == 32 and F.ALIGN == 8
    assert F.FILE_MAGIC == b"SDBWAL\x00\x01" and "53 44 42 57 41 4c 00 01" in text
    assert F.MAX_FRAME_PAYLOAD == 32 << 20 and F.MAX_RECORD_BYTES == 2 << 30
    assert F.COMPRESS_TEXT_ABOVE == 1024 and "longer than 1024 bytes" in text
    assert F.file_name(1234) == "00000000000000001234.log" and "00000000000000001234.log" in text
    rows = dict(re.findall(r"^\| +(\d+) +\| ([a-z ]+?) +\|", text.split("## 5.")[1].split("## 6.")[0], re.M))
    names = {int(k): v for k, v in rows.items()}
    assert names == {F.REC_CREATE_TENANT: "create tenant", F.REC_CREATE_DATABASE: "create database",
                     F.REC_DELETE_DATABASE: "delete database", F.REC_CREATE_COLLECTION: "create collection",
                     F.REC_MODIFY_COLLECTION: "modify collection", F.REC_DELETE_COLLECTION: "delete collection",
                     F.REC_RESET: "reset", F.REC_ADD: "add", F.REC_UPDATE: "update", F.REC_UPSERT: "upsert",
                     F.REC_DELETE_RECORDS: "delete records", F.REC_NEW_EPOCH: "new epoch",
                     F.REC_FORK_COLLECTION: "fork collection"}
