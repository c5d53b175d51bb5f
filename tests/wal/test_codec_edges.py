"""Codec edge cases that an arbitrary-value round trip must keep exact."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.records import WriteBatch, WriteOp


def roundtrip(batch: WriteBatch) -> WriteBatch:
    out = codec.decode(*codec.encode(batch))
    assert isinstance(out, WriteBatch)
    return out


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (2, 0)])
def test_empty_embedding_arrays_stay_arrays(shape):
    # ``None`` means "no embeddings given"; an empty array is a different value and must stay one.
    ids = [str(i) for i in range(shape[0])]
    out = roundtrip(WriteBatch(WriteOp.ADD, "c", ids, np.zeros(shape, np.float32), None, None, None))
    assert out.embeddings is not None and out.embeddings.shape == shape


def test_no_embeddings_stays_none():
    assert roundtrip(WriteBatch(WriteOp.UPDATE, "c", ["a"], None, ["d"], None, None)).embeddings is None


def test_lone_surrogates_round_trip():
    # Python strings may hold them (e.g. from os.fsdecode); the log must neither crash nor alter them.
    doc, key = "bad \ud800 half", "k\udfff"
    out = roundtrip(WriteBatch(WriteOp.ADD, "c", ["\udc80"], None, [doc], [{key: doc}], None))
    assert out.ids == ["\udc80"] and out.documents == [doc] and out.metadatas == [{key: doc}]


def test_one_dimensional_embeddings_are_rejected_before_logging():
    with pytest.raises(ValueError, match="2-d"):
        codec.encode(WriteBatch(WriteOp.ADD, "c", ["a"], np.zeros(3, np.float32), None, None, None))


def test_stray_bytes_after_the_text_section_do_not_decode():
    rtype, payload = codec.encode(WriteBatch(WriteOp.ADD, "c", ["a"], None, None, None, None))
    with pytest.raises(codec.CodecError, match="stray"):
        codec.decode(rtype, payload + b"\0\0\0\0\0\0\0\0")
