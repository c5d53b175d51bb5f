"""Forged record payloads and file/frame headers: each well-checksummed lie is a typed refusal.

A payload reaches the codec only after its frame checksum passed, so these bytes model a bug
or a forged file, not disk damage; the decoder must answer ``CodecError`` (and the frame and
file-header parsers a reason string), never another exception.
"""

from __future__ import annotations

import json
import struct

import crc32c
import numpy as np
import pytest

from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import frames as FR
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.records import WriteBatch, WriteOp

ADD = int(WriteOp.ADD)
TEXT = json.dumps({"c": "c", "i": ["a"], "d": None, "m": None, "u": None}).encode()


def payload(text: bytes = TEXT, *, text_codec: int = F.TEXT_RAW, has_vectors: int = 0, raw_len: int | None = None,
            tail: bytes = b"") -> bytes:
    """A payload head (text codec, vector kind, lengths), the text, then ``tail``."""
    head = codec.PAYLOAD_HEAD.pack(text_codec, has_vectors, 0, len(text), len(text) if raw_len is None else raw_len)
    return head + text + tail


@pytest.mark.parametrize(("name", "blob", "message"), [
    ("unknown text codec", payload(text_codec=9), "unknown text codec 9"),
    ("text length lies", payload(raw_len=len(TEXT) - 1), "header says"),
    ("text is a JSON list", payload(b"[1, 2]"), "not an object"),
    ("unknown vector section", payload(has_vectors=2), "unknown vector section kind 2"),
    ("vector section too short", payload(has_vectors=1, tail=codec.VEC_HEAD.pack(1, 4) + b"\x00" * 8),
     "vector section holds 8 bytes, expected 16"),
])
def test_forged_payload_is_a_codec_error(name, blob, message):
    with pytest.raises(codec.CodecError, match=message):
        codec.decode(ADD, blob)


def test_a_forged_vector_section_of_the_right_size_decodes():
    vec = np.arange(4, dtype="<f4")
    out = codec.decode(ADD, payload(has_vectors=1, tail=codec.VEC_HEAD.pack(1, 4) + vec.tobytes()))
    assert isinstance(out, WriteBatch) and np.array_equal(out.embeddings, vec.reshape(1, 4))


def test_only_log_records_have_a_record_type():
    with pytest.raises(TypeError, match="not a log record: str"):
        codec.record_type("add")  # type: ignore[arg-type]


def test_a_file_header_of_another_format_version_is_refused():
    good = FR.encode_file_header(FR.FileHeader("00000000-0000-0000-0000-000000000001", 0, 1, 0))
    fields = list(F.FILE_HEADER.unpack_from(good, 0))
    fields[1] = F.FORMAT_VERSION + 1
    body = F.FILE_HEADER.pack(*fields)
    assert FR.decode_file_header(body + F.FILE_HEADER_CRC.pack(crc32c.crc32c(body))) == \
        f"unsupported log format version {F.FORMAT_VERSION + 1}"


def _frame(codec_byte: int = F.CODEC_RAW, flags: int = F.FLAG_FIRST | F.FLAG_LAST, chunk: bytes = b"abc") -> bytes:
    rest = F.FRAME_HEADER.pack(0, len(chunk), 1, ADD, codec_byte, flags, 0, len(chunk), crc32c.crc32c(chunk), 0)[4:]
    head = struct.pack("<I", crc32c.crc32c(rest)) + rest
    return (head + chunk).ljust(F.padded(len(head) + len(chunk)), b"\x00")


def test_a_frame_with_an_unknown_codec_or_an_empty_middle_is_refused():
    assert FR.parse_frame(_frame(), 0).payload == b"abc"
    assert FR.parse_frame(_frame(codec_byte=7), 0) == "unknown frame codec 7"
    assert FR.parse_frame(_frame(flags=0, chunk=b""), 0) == "empty continuation frame"
