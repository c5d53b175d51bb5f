"""Property tests of the record codec (every record type round-trips exactly) and of the whole
log under random single-byte damage (never a wrong record, never an unexpected exception)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.memfs import MemoryFileSystem
from sedimentdb.engine.storage_errors import CorruptionError
from sedimentdb.engine.wal import Wal
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.records import (
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    DeleteRecords,
    ModifyCollection,
    NewEpoch,
    Reset,
    WriteBatch,
    WriteOp,
)

from .walkit import batch, canon, log_files, read, write_log

# Any text at all: the codec passes lone surrogates through (UTF-8 "surrogatepass").
text = st.text(max_size=40)
big_ints = st.integers(min_value=-(10**300), max_value=10**300)
leaf = (st.none() | st.booleans() | st.integers() | big_ints
        | st.floats(allow_nan=True, allow_infinity=True) | st.just(-0.0) | text)
value = st.recursive(leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
                     max_leaves=20)
metadata = st.dictionaries(text, value, max_size=5)
ids = st.lists(text, max_size=12)


@st.composite
def write_batches(draw: st.DrawFn) -> WriteBatch:
    op = draw(st.sampled_from(list(WriteOp)))
    n = draw(st.integers(0, 12))
    row_ids = draw(st.lists(text, min_size=n, max_size=n))
    embeddings = None
    if draw(st.booleans()):
        dim = draw(st.integers(1, 16))
        # arbitrary float32 bit patterns: NaN payloads, signed zeros, subnormals, infinities
        raw = draw(st.binary(min_size=n * dim * 4, max_size=n * dim * 4))
        embeddings = np.frombuffer(raw, dtype="<f4").reshape(n, dim).astype(np.float32)

    def column(elem: st.SearchStrategy) -> list | None:
        return draw(st.none() | st.lists(st.none() | elem, min_size=n, max_size=n))

    return WriteBatch(op, draw(text), row_ids, embeddings, column(text), column(metadata), column(text))


records = st.one_of(
    st.builds(CreateTenant, text),
    st.builds(CreateDatabase, text, text, text),
    st.builds(DeleteDatabase, text, text),
    st.builds(CreateCollection, text, text, text, text, st.none() | metadata, metadata,
              st.none() | st.integers(0, 1 << 20)),
    st.builds(ModifyCollection, text, st.none() | text, st.none() | metadata, st.none() | metadata),
    st.builds(DeleteCollection, text),
    st.builds(Reset),
    write_batches(),
    st.builds(DeleteRecords, text, ids),
    st.builds(NewEpoch, st.integers(0, 1 << 62)),
)

TYPE_NUMBERS = {CreateTenant: 1, CreateDatabase: 2, DeleteDatabase: 3, CreateCollection: 4, ModifyCollection: 5,
                DeleteCollection: 6, Reset: 7, DeleteRecords: 13, NewEpoch: 20}


def expected_type(rec) -> int:
    return int(rec.op) if isinstance(rec, WriteBatch) else TYPE_NUMBERS[type(rec)]


@settings(max_examples=200, deadline=None)
@given(records)
def test_every_record_round_trips_exactly(rec):
    rtype, payload = codec.encode(rec)
    assert rtype == expected_type(rec) == codec.record_type(rec)
    back = codec.decode(rtype, payload)
    assert type(back) is type(rec)
    assert canon(back) == canon(rec)
    if isinstance(rec, WriteBatch) and rec.embeddings is not None:
        assert back.embeddings.dtype == np.float32 and back.embeddings.shape == rec.embeddings.shape
        assert back.embeddings.tobytes() == rec.embeddings.tobytes()  # bit-exact, NaN payloads too


def test_record_type_numbers_never_change():
    assert (F.REC_CREATE_TENANT, F.REC_CREATE_DATABASE, F.REC_DELETE_DATABASE, F.REC_CREATE_COLLECTION,
            F.REC_MODIFY_COLLECTION, F.REC_DELETE_COLLECTION, F.REC_RESET, F.REC_ADD, F.REC_UPDATE,
            F.REC_UPSERT, F.REC_DELETE_RECORDS, F.REC_NEW_EPOCH) == (1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 20)
    assert [int(op) for op in WriteOp] == [10, 11, 12]


def test_metadata_scalars_keep_their_exact_type_and_value():
    meta = {"int": 1, "float": 1.0, "bool": True, "none": None, "neg0": -0.0, "inf": math.inf,
            "ninf": -math.inf, "nan": math.nan, "big": 2**200, "small": 5e-324, "nested": {"l": [1, 1.0, False]}}
    back = codec.decode(*codec.encode(CreateTenant("t")))
    assert back.name == "t"
    rec = codec.decode(*codec.encode(ModifyCollection("c", None, meta, None)))
    m = rec.metadata
    assert type(m["int"]) is int and type(m["float"]) is float and m["bool"] is True and m["none"] is None
    assert math.copysign(1.0, m["neg0"]) == -1.0 and m["inf"] == math.inf and m["ninf"] == -math.inf
    assert math.isnan(m["nan"]) and m["big"] == 2**200 and m["small"] == 5e-324
    assert canon(m["nested"]) == canon({"l": [1, 1.0, False]})


def test_an_int_too_long_for_json_is_refused_before_it_gets_an_lsn(tmp_path):
    wal = Wal.open(str(tmp_path / "wal"), fs=OsFileSystem())
    with pytest.raises(ValueError):  # Python's int-to-text limit (4300 digits)
        wal.submit(ModifyCollection("c", None, {"huge": 10**5000}, None))
    assert wal.last_lsn == 0
    wal.close()


def test_metadata_given_as_json_texts_is_written_as_the_maps_would_be():
    metas = [{"a": 1, "f": 0.1, "s": "é\u2028\"x"}, None, {}, {"n": [1.5, True]}]
    texts = codec.JsonTexts([None if m is None else json.dumps(m, ensure_ascii=False, separators=(",", ":"))
                             for m in metas])
    ids = ["\u0000raw\u0000", "b", "c", "d"]  # an id that looks like a placeholder changes nothing
    emb = np.arange(8, dtype=np.float32).reshape(4, 2)
    as_maps = WriteBatch(WriteOp.ADD, "c1", ids, emb, ["d", None, "x", None], metas, None)
    as_texts = WriteBatch(WriteOp.ADD, "c1", ids, emb, ["d", None, "x", None], texts, None)
    assert codec.encode(as_texts) == codec.encode(as_maps)
    back = codec.decode(*codec.encode(as_texts))
    assert back.metadatas == metas and back.ids == ids


def test_empty_batches_round_trip():
    for emb in (None, np.zeros((0, 8), np.float32)):
        rec = WriteBatch(WriteOp.ADD, "c", [], emb, [], [], None)
        back = codec.decode(*codec.encode(rec))
        assert canon(back) == canon(rec)


def test_large_batch_compresses_its_text_and_round_trips():
    n, dim = 3000, 64
    rng = np.random.default_rng(7)
    rec = WriteBatch(WriteOp.UPSERT, "c", [f"id-{i}" for i in range(n)], rng.random((n, dim), np.float32),
                     [f"document number {i} about things" for i in range(n)],
                     [{"i": i, "even": i % 2 == 0, "tag": "abc"} for i in range(n)], None)
    _, payload = codec.encode(rec)
    text_codec, has_vectors, _, stored_len, raw_len = codec.PAYLOAD_HEAD.unpack_from(payload)
    assert (text_codec, has_vectors) == (F.TEXT_ZSTD, 1)
    assert stored_len < raw_len // 4  # the text shrank
    assert len(payload) == codec.PAYLOAD_HEAD.size + stored_len + 8 + n * dim * 4  # the vectors did not
    assert canon(codec.decode(F.REC_UPSERT, payload)) == canon(rec)


def test_large_batch_through_the_log_in_several_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 64 << 10)
    n, dim = 2000, 96
    rec = WriteBatch(WriteOp.ADD, "c", [f"id-{i}" for i in range(n)],
                     np.random.default_rng(1).random((n, dim), np.float32), None, None, None)
    d = str(tmp_path / "wal")
    wal = Wal.open(d, fs=OsFileSystem())
    wal.append(rec)
    wal.close()
    assert os.path.getsize(log_files(d)[0]) > 10 * (64 << 10)  # many frames
    wal = Wal.open(d, fs=OsFileSystem())
    ((lsn, back),) = list(wal.replay(1))
    wal.close()
    assert lsn == 1 and back.embeddings.tobytes() == rec.embeddings.tobytes()


@pytest.mark.parametrize("fs_kind", ["os", "memory"])
def test_a_borrowed_record_writes_the_same_bytes_without_copying_its_vectors(tmp_path, monkeypatch, fs_kind):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 64 << 10)
    n, dim = 700, 96  # the frames' boundaries fall inside the text part and inside the vectors
    rec = WriteBatch(WriteOp.ADD, "c", [f"id-{i}" for i in range(n)],
                     np.random.default_rng(2).random((n, dim), np.float32), None, None, None)
    small = WriteBatch(WriteOp.ADD, "c", ["x"], np.ones((1, dim), np.float32), None, None, None)
    files = {}
    for borrow in (False, True):
        fs = OsFileSystem() if fs_kind == "os" else MemoryFileSystem()
        d = str(tmp_path / f"wal-{borrow}")
        wal = Wal.open(d, fs=fs)
        wal.submit(small, borrow=borrow)
        wal.wait(wal.submit(rec, borrow=borrow))
        (name,) = [n for n in fs.listdir(d) if n.endswith(F.FILE_SUFFIX)]
        files[borrow] = fs.read_bytes(os.path.join(d, name))[F.FILE_HEADER_SIZE:]  # after the uuid
        back = [r for _, r in wal.replay(1)] if fs_kind == "memory" else None
        wal.close()
        if back is None:
            wal = Wal.open(d, fs=fs)
            back = [r for _, r in wal.replay(1)]
            wal.close()
        assert [r.ids for r in back] == [["x"], rec.ids]
        assert back[1].embeddings.tobytes() == rec.embeddings.tobytes()
    assert files[True] == files[False] and len(files[True]) > 4 * (64 << 10)  # five frames


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoding_arbitrary_payload_bytes_raises_only_codec_error(payload):
    for rtype in (1, 4, 7, 10, 13, 20, 99):
        try:
            codec.decode(rtype, payload)
        except codec.CodecError:
            pass


# ---- random damage to a whole log -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A real log of three files (one holding a multi-frame record), as bytes."""
    d = str(tmp_path_factory.mktemp("pristine") / "wal")
    mp = pytest.MonkeyPatch()
    mp.setattr(F, "MAX_FRAME_PAYLOAD", 96)
    try:
        recs = write_log(d, 5, roll_bytes=600)
    finally:
        mp.undo()
    files = {os.path.basename(p): read(p) for p in log_files(d)}
    assert len(files) == 3
    return files, [canon(r) for r in recs]


def open_damaged(files: dict[str, bytes], read_only: bool) -> list:
    fs = MemoryFileSystem()
    fs.makedirs("/db/wal")
    for name, data in files.items():
        f = fs.create(f"/db/wal/{name}")
        f.write(data)
        f.close()
    wal = Wal.open("/db/wal", fs=fs, read_only=read_only)
    try:
        return [(lsn, canon(r)) for lsn, r in wal.replay(1)]
    finally:
        wal.close()


def check_damage(pristine, name: str, offset: int, mask: int) -> None:
    files, originals = pristine
    damaged = dict(files)
    data = bytearray(damaged[name])
    data[offset % len(data)] ^= mask
    damaged[name] = bytes(data)
    for read_only in (True, False):
        try:
            got = open_damaged(damaged, read_only)
        except CorruptionError:
            continue
        assert [lsn for lsn, _ in got] == list(range(1, len(got) + 1))
        assert [r for _, r in got] == originals[: len(got)]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file_index=st.integers(0, 2), offset=st.integers(0, 1 << 16), mask=st.integers(1, 255))
def test_random_single_byte_damage_never_yields_a_wrong_record(pristine, monkeypatch, file_index, offset, mask):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 96)
    check_damage(pristine, sorted(pristine[0])[file_index], offset, mask)


def test_every_single_bit_flip_of_one_file_never_yields_a_wrong_record(pristine, monkeypatch):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 96)
    name = sorted(pristine[0])[-1]
    for offset in range(len(pristine[0][name])):
        check_damage(pristine, name, offset, 1 << (offset % 8))


def test_the_pristine_log_reads_back_whole(pristine, monkeypatch):
    monkeypatch.setattr(F, "MAX_FRAME_PAYLOAD", 96)
    files, originals = pristine
    assert [r for _, r in open_damaged(files, True)] == originals
    assert len(originals) == 5 and canon(batch(1)) == originals[0]
