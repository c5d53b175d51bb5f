"""sparse.idx: written when records hold sparse vectors, read back exactly, and every broken
invariant of a body whose checksums are good is a CorruptionError naming the file, the key, the
offset of the damaged bytes and (for a row's posting) the row's LSN."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import zstandard

from sedimentdb.engine.segments import HnswParams, Segment, write_segment
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bundle import pack
from sedimentdb.engine.segments.compression import compress_payload
from sedimentdb.engine.segments.framing import Identity, encode_file_parts
from sedimentdb.engine.segments.sparse import SparsePostings
from sedimentdb.engine.segments.sparsestore import encode_sparse_index
from sedimentdb.engine.storage_errors import CorruptionError

from .conftest import make_data


def sv(indices, values):
    return {"#type": "sparse_vector", "indices": indices, "values": values}


METAS = [{"sv": sv([1, 5], [0.5, 2.0])}, {"other": 1}, {"sv": sv([5], [1.0]), "w": sv([2], [3.0])},
         None, {"sv": sv([0, 1], [-1.0, 4.0])}]


@pytest.fixture
def written(fs, tmp_path):
    directory = str(tmp_path)
    data = make_data(np.zeros((len(METAS), 2), dtype=np.float32), metadatas=METAS)
    desc = write_segment(fs, directory, "s", "c", data, space="l2", hnsw=HnswParams(num_threads=1),
                         min_lsn=1, max_lsn=5)
    return directory, desc


def test_written_and_read_back(fs, written):
    directory, desc = written
    assert F.FILE_SPARSE in desc.files
    seg = Segment.open(fs, directory, desc)
    rows, dots = seg.sparse("sv").dots([1, 5], [1.0, 1.0])
    assert rows.tolist() == [0, 2, 4] and dots.tolist() == [2.5, 1.0, 4.0]
    assert seg.sparse("w").dots([2], [2.0])[1].tolist() == [6.0]
    assert seg.sparse("absent").dots([1], [1.0])[0].tolist() == []


def test_filter_index_keeps_no_copy_of_the_sparse_vectors(fs, written):
    """metadata.col and sparse.idx hold the numbers; filter.idx only that the key holds an object
    (no filter looks inside one), so a filter on the key still answers as on the metadata."""
    directory, desc = written
    seg = Segment.open(fs, directory, desc)
    assert F.FILE_FILTER in desc.files
    assert [v for _, v in seg._filter_index.keys["sv"].values.other] == [{}, {}, {}]
    assert seg.metadata(0)["sv"] == METAS[0]["sv"]
    assert seg.match({"sv": {"$ne": 1}}, None).tolist() == [True] * len(METAS)
    assert seg.match({"sv": {"$in": [0.5, 2.0]}}, None).tolist() == [False] * len(METAS)


def test_segment_without_sparse_vectors_has_no_file_and_still_answers(fs, tmp_path):
    data = make_data(np.zeros((3, 2), dtype=np.float32))
    desc = write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(num_threads=1),
                         min_lsn=1, max_lsn=3)
    assert F.FILE_SPARSE not in desc.files
    assert Segment.open(fs, str(tmp_path), desc).sparse("sv").dots([1], [1.0])[0].tolist() == []


def test_older_segment_without_the_file_builds_the_index_from_metadata(fs, written):
    directory, desc = written
    files = {k: v for k, v in desc.files.items() if k != F.FILE_SPARSE}
    seg = Segment.open(fs, directory, dataclasses.replace(desc, files=files))
    assert seg.sparse("sv").dots([1, 5], [1.0, 1.0])[1].tolist() == [2.5, 1.0, 4.0]


def _good() -> SparsePostings:
    return SparsePostings.build(METAS, "sv")


def _arrays(p: SparsePostings) -> dict[str, np.ndarray]:
    return {"dims": p.dims, "starts": p.starts, "rows": p.rows, "values": p.values}


def _install(fs, directory, desc, body: bytes):
    """Replace sparse.idx by ``body`` in a valid envelope, with a descriptor that matches it."""
    ident = Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)
    raw = b"".join(bytes(p) for p in encode_file_parts(F.KIND_SPARSE, ident, body))
    path = os.path.join(directory, desc.segment_id, F.FILE_SPARSE)
    with open(path, "wb") as f:
        f.write(raw)
    import crc32c

    files = {**desc.files, F.FILE_SPARSE: {"size": len(raw), "crc32c": crc32c.crc32c(raw)}}
    return dataclasses.replace(desc, files=files), path


def _raw(payload: bytes) -> bytes:
    """An uncompressed body: every payload byte has a file offset the error can name."""
    return F.COLUMN_HEADER.pack(F.CODEC_RAW, len(payload)) + payload


def _body(arrays: dict[str, np.ndarray], n: int = len(METAS), keys=("sv",)) -> bytes:
    return _raw(pack({"n": n, "keys": list(keys)}, [(f"0.{k}", v) for k, v in arrays.items()]))


def _broken(name: str) -> tuple[bytes, dict[str, np.ndarray]]:
    """A body with ``name`` broken, and the arrays it holds."""
    a = {k: np.array(v) for k, v in _arrays(_good()).items()}
    if name == "rows count":
        return _body(a, n=len(METAS) + 1), a
    if name == "keys not a list":
        return _raw(pack({"n": len(METAS), "keys": "sv"}, list(a.items()))), a
    if name == "missing array":
        return _body({k: v for k, v in a.items() if k != "values"}), a
    if name == "dtype":
        a["rows"] = a["rows"].astype("<i4")
    elif name == "lengths":
        a["values"] = a["values"][:-1]
    elif name == "dims order":
        a["dims"] = a["dims"][::-1].copy()
    elif name == "negative dim":
        a["dims"][0] = -1
    elif name == "offsets":
        a["starts"][1] = a["starts"][2]
    elif name == "offset end":
        a["starts"][-1] -= 1
    elif name == "row range":
        a["rows"][0] = len(METAS)
    elif name == "rows order":
        lo = _two_row_list()
        a["rows"][lo], a["rows"][lo + 1] = a["rows"][lo + 1], a["rows"][lo]
    elif name == "non-finite":
        a["values"][0] = np.nan
    return _body(a), a


def _two_row_list() -> int:
    p = _good()
    return int(p.starts[int(np.flatnonzero(np.diff(p.starts) > 1)[0])])


FAILURES = {
    "rows count": "covers 6 rows",
    "keys not a list": "list of distinct strings",
    "missing array": "0.values",
    "dtype": "dtype",
    "lengths": "lengths disagree",
    "dims order": "strictly ascending non-negative",
    "negative dim": "strictly ascending non-negative",
    "offsets": "offsets",
    "offset end": "offsets",
    "row range": "outside",
    "rows order": "rows of a list",
    "non-finite": "finite",
}


# Where each failure is: (array, element, whether the error names that row's LSN); None: the JSON
# block of scalars and the array table.
LOCATIONS = {
    "dims order": ("dims", 1, False),
    "negative dim": ("dims", 0, False),
    "offsets": ("starts", 2, False),
    "offset end": ("starts", len(_good().starts) - 1, False),
    "row range": ("rows", 0, False),  # not a row of the segment: no LSN
    "rows order": ("rows", _two_row_list() + 1, True),
    "non-finite": ("values", 0, True),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_inconsistent_body_is_corruption(fs, written, failure):
    directory, desc = written
    versions = Segment.open(fs, directory, desc).versions
    body, arrays = _broken(failure)
    desc, path = _install(fs, directory, desc, body)
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, desc)
    err = info.value
    assert err.path == path
    assert FAILURES[failure] in str(err)
    assert err.hint
    with open(path, "rb") as f:
        raw = f.read()
    located = LOCATIONS.get(failure)
    if located is None:  # the JSON block: the offset points at its opening brace
        assert raw[err.offset:err.offset + 1] == b"{", failure
        assert err.lsn is None
        return
    field, element, names_lsn = located
    assert f"0.{field}[{element}]" in str(err)
    assert raw[err.offset:err.offset + 8] == arrays[field][element].tobytes()  # the damaged bytes themselves
    assert err.lsn == (int(versions[arrays["rows"][element]]) if names_lsn else None)


def test_error_in_a_compressed_body_names_the_frame_and_the_payload_byte(fs, written):
    """zstd payload bytes have no file offset: the error gives the frame's, and the payload byte."""
    directory, desc = written
    a = {k: np.array(v) for k, v in _arrays(_good()).items()}
    a["values"][1] = np.inf
    payload = pack({"n": len(METAS), "keys": ["sv"]}, [(f"0.{k}", v) for k, v in a.items()])
    body = F.COLUMN_HEADER.pack(F.CODEC_ZSTD, len(payload)) + zstandard.ZstdCompressor().compress(payload)
    desc, path = _install(fs, directory, desc, body)
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, desc)
    frame = desc.files[F.FILE_SPARSE]["size"] - F.TRAILER.size - len(body) + F.COLUMN_HEADER.size
    assert info.value.offset == frame
    at = payload.index(a["values"].tobytes())
    assert f"payload byte {at + 8}, 0.values[1] of the zstd frame" in str(info.value)


def test_undecodable_payload_names_the_body_offset(fs, written):
    directory, desc = written
    body = F.COLUMN_HEADER.pack(99, 10) + b"0123456789"
    desc, path = _install(fs, directory, desc, body)
    with pytest.raises(CorruptionError, match="unknown codec 99") as info:
        Segment.open(fs, directory, desc)
    assert info.value.offset == desc.files[F.FILE_SPARSE]["size"] - F.TRAILER.size - len(body)


def test_unreadable_bundle_is_corruption(fs, written):
    directory, desc = written
    desc, path = _install(fs, directory, desc, compress_payload(b"\xff\xff\xff\x7f garbage"))
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, desc)
    assert info.value.path == path


def test_reencoding_the_good_index_opens(fs, written):
    """The helpers above produce files the reader accepts when nothing is broken."""
    directory, desc = written
    desc, _ = _install(fs, directory, desc, encode_sparse_index(len(METAS), {"sv": _good()}))
    assert Segment.open(fs, directory, desc).sparse("sv").nnz() == 5
