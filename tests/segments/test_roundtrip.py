"""A written segment reads back bit for bit: every column, every odd value."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, SegmentDescriptor, write_segment
from sedimentdb.engine.storage_errors import InvalidArgumentError

ODD_METADATA = [
    {"int": 1, "float": 1.0, "bool": True, "str": "x"},
    None,
    {"nested": {"a": [1, 2.5, {"b": None}], "c": "ünïcødé ✓ 😀"}, "neg0": -0.0},
    {"big": 2**70, "small": -(2**63), "max": 2**63 - 1, "tiny": 5e-324, "huge": 1.7976931348623157e308},
    {"arr_s": ["a", "b"], "arr_i": [1, 2, 3], "arr_f": [0.1, 0.2], "arr_b": [True, False]},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf},
    {"surrogate": "\ud800 lone", "nul": "a\x00b", "": "empty key"},
    {"order": 1, "matters": 2, "a": 3},
]
ODD_DOCS = ["plain", None, "", "ünïcødé ✓ 😀", "\ud83d half", "a\x00b\nc", "x" * 5000, None]
ODD_URIS = [None, "s3://b/k", "", "file:///ü", None, "\udfff", "http://x", "u"]
ODD_IDS = ["a", "ü", "😀", "\ud800", "with space", "a\x00b", "x" * 300, "-"]


def _same_json(a, b) -> bool:
    return json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)


def test_every_field_round_trips_bit_exact(fs, tmp_path, h):
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((8, 5)).astype(np.float32)
    vectors[0] = [0.0, -0.0, np.float32(1e-45), np.finfo(np.float32).max, -np.finfo(np.float32).tiny]
    data = h.make_data(vectors, metadatas=ODD_METADATA, documents=ODD_DOCS, uris=ODD_URIS)
    data.ids = list(ODD_IDS)
    data.versions = np.array([2**64 - 1, 0, 1, 2, 3, 4, 5, 6], dtype=np.uint64)
    seg = h.write_and_open(fs, str(tmp_path), data)
    assert seg.ids == ODD_IDS
    assert seg.vectors.tobytes() == vectors.tobytes()
    assert seg.vectors.dtype == np.float32 and seg.vectors.flags.c_contiguous
    assert seg.ordinals.tolist() == data.ordinals.tolist() and seg.ordinals.dtype == np.uint64
    assert seg.versions.tolist() == data.versions.tolist() and seg.versions.dtype == np.uint64
    for row in range(8):
        assert seg.document(row) == ODD_DOCS[row]
        assert seg.uri(row) == ODD_URIS[row]
        assert _same_json(seg.metadata(row), ODD_METADATA[row])
        assert seg.row_of(ODD_IDS[row]) == row
    assert seg.row_of("missing") is None
    # int stays int and float stays float (1 vs 1.0), bool stays bool
    m0 = seg.metadata(0)
    assert type(m0["int"]) is int and type(m0["float"]) is float and type(m0["bool"]) is bool
    assert math.copysign(1, seg.metadata(2)["neg0"]) == -1
    assert seg.metadata(3)["big"] == 2**70
    assert math.isnan(seg.metadata(5)["nan"])
    assert seg.documents([3, 1]) == [ODD_DOCS[3], None]
    assert seg.uris(np.array([1, 0])) == [ODD_URIS[1], ODD_URIS[0]]
    assert [json.dumps(m) for m in seg.metadatas([0, 1])] == [json.dumps(ODD_METADATA[0]), "null"]


def test_large_columns_are_compressed_and_round_trip(fs, tmp_path, h):
    n = 3000
    docs = [f"the quick brown fox number {i} jumps over the lazy dog" for i in range(n)]
    metas = [{"category": f"c{i % 7}", "n": i, "score": i / 7} for i in range(n)]
    data = h.make_data(np.random.default_rng(2).standard_normal((n, 16)), metadatas=metas, documents=docs)
    seg = h.write_and_open(fs, str(tmp_path), data)
    raw_docs = sum(len(d) for d in docs)
    assert seg.descriptor.files["documents.col"]["size"] < raw_docs / 3  # zstd paid off
    assert seg.documents(range(n)) == docs
    assert seg.metadatas(range(n)) == metas
    assert seg.descriptor.has_graph


def test_descriptor_is_json_and_matches_the_files(fs, tmp_path, h):
    data = h.make_data(np.eye(4, dtype=np.float32))
    desc = write_segment(fs, str(tmp_path), "s1", "c1", data, space="cosine",
                         hnsw=HnswParams(space="cosine"), min_lsn=10, max_lsn=20)
    again = SegmentDescriptor.from_dict(json.loads(json.dumps(desc.to_dict())))
    assert again == desc
    assert (desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.space) == ("s1", "c1", 4, 4, "cosine")
    assert (desc.min_lsn, desc.max_lsn) == (10, 20)
    seg_dir = tmp_path / "s1"
    assert sorted(os.listdir(seg_dir)) == sorted(desc.files)
    for name, info in desc.files.items():
        assert (seg_dir / name).stat().st_size == info["size"]
    assert not (tmp_path / "s1.tmp").exists()
    assert not desc.has_graph  # 4 rows: searched exactly
    summary = (seg_dir / "segment.json").read_bytes()
    assert b'"collection_id": "c1"' in summary


def test_open_without_verify_still_reads_everything(fs, tmp_path, h):
    data = h.make_data(np.random.default_rng(3).standard_normal((50, 4)))
    desc = write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=2)
    seg = Segment.open(fs, str(tmp_path), desc, verify=False)
    assert seg.ids == data.ids and seg.metadata(49) == {"i": 49}


def test_writing_an_existing_segment_id_is_refused(fs, tmp_path, h):
    data = h.make_data(np.ones((2, 3), dtype=np.float32))
    write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)
    with pytest.raises(InvalidArgumentError):
        write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)


def test_leftover_tmp_directory_is_replaced(fs, tmp_path, h):
    (tmp_path / "s.tmp").mkdir()
    (tmp_path / "s.tmp" / "junk").write_bytes(b"half written")
    data = h.make_data(np.ones((2, 3), dtype=np.float32))
    desc = write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)
    assert not (tmp_path / "s.tmp").exists()
    assert "junk" not in os.listdir(tmp_path / "s")
    Segment.open(fs, str(tmp_path), desc)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: setattr(d, "ids", d.ids[:-1]),
        lambda d: setattr(d, "vectors", d.vectors[:, :0]),
        lambda d: setattr(d, "ids", ["same"] * len(d.ids)),
        lambda d: setattr(d, "documents", d.documents + ["extra"]),
    ],
    ids=["short-ids", "zero-dim", "duplicate-ids", "long-documents"],
)
def test_inconsistent_input_is_rejected(fs, tmp_path, h, mutate):
    data = h.make_data(np.ones((3, 2), dtype=np.float32))
    mutate(data)
    with pytest.raises(InvalidArgumentError):
        write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)


def test_empty_segment_is_rejected(fs, tmp_path, h):
    data = SegmentData([], np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros((0, 3), np.float32), [], [], [])
    with pytest.raises(InvalidArgumentError):
        write_segment(fs, str(tmp_path), "s", "c", data, space="l2", hnsw=HnswParams(), min_lsn=1, max_lsn=1)


def test_graph_survives_reopen_with_same_answers(fs, tmp_path, h):
    vectors = np.random.default_rng(4).standard_normal((1500, 8)).astype(np.float32)
    desc = write_segment(fs, str(tmp_path), "s", "c", h.make_data(vectors), space="l2",
                         hnsw=HnswParams(num_threads=1), min_lsn=1, max_lsn=1)
    assert desc.has_graph
    a = Segment.open(fs, str(tmp_path), desc)
    b = Segment.open(fs, str(tmp_path), desc)
    q = vectors[:20] + 0.01
    ra, da = a.search(q, 10)
    rb, db = b.search(q, 10)
    assert np.array_equal(ra, rb) and np.array_equal(da, db)
    assert ra[:, 0].tolist() == list(range(20))
