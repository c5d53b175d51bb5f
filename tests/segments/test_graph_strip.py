"""The stripped graph file (format version 2): hnswlib's level-0 vectors are left out of
graph.hnsw and refilled from vectors.f32 on open, bit for bit; version-1 files still open."""

from __future__ import annotations

import os
import shutil

import crc32c
import hnswlib
import numpy as np
import pytest

from sedimentdb.engine.segments import HnswParams, Segment, SegmentDescriptor, write_segment
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bundle import unpack
from sedimentdb.engine.segments.framing import Identity, decode_file, encode_file
from sedimentdb.engine.segments.graph import (
    build_graph,
    encode_graph,
    encode_graph_full,
    load_graph,
    normalize_like_hnswlib,
)
from sedimentdb.engine.storage_errors import CorruptionError, FormatVersionError

SPACES = ["l2", "ip", "cosine"]
N, DIM = 1500, 16


def _vectors(h, space: str) -> np.ndarray:
    v = h.clustered(N, DIM, 12, seed=3)
    # rows of very different norms, a zero row and a subnormal row: the cosine refill must
    # reproduce hnswlib's normalisation of each of them exactly
    v[:100] *= np.logspace(-20, 20, 100, dtype=np.float32)[:, None]
    v[100] = 0.0
    v[101] = np.float32(1e-44)
    return v


def _write(fs, directory: str, h, space: str) -> SegmentDescriptor:
    return write_segment(fs, directory, "s", "c", h.make_data(_vectors(h, space)), space=space,
                         hnsw=HnswParams(space=space, num_threads=1), min_lsn=1, max_lsn=N,
                         build_graph_index=True)


def _ident(desc: SegmentDescriptor) -> Identity:
    return Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)


def _replace(directory: str, desc: SegmentDescriptor, name: str, content: bytes) -> SegmentDescriptor:
    """Put ``content`` in place of the segment's file ``name`` and describe it in the descriptor."""
    with open(os.path.join(directory, desc.segment_id, name), "wb") as f:
        f.write(content)
    files = {**desc.files, name: {"size": len(content), "crc32c": crc32c.crc32c(content)}}
    return SegmentDescriptor(**{**desc.__dict__, "files": files})


def _as_version1(fs, source: str, directory: str, desc: SegmentDescriptor) -> SegmentDescriptor:
    """A copy of the segment in ``directory`` whose graph.hnsw is a version-1 file (vectors
    inside), as builds before the stripped format wrote it."""
    shutil.copytree(os.path.join(source, desc.segment_id), os.path.join(directory, desc.segment_id))
    graph = Segment.open(fs, source, desc).graph
    return _replace(directory, desc, F.FILE_GRAPH, encode_file(F.KIND_GRAPH, _ident(desc), encode_graph_full(graph)))


def _version(directory: str, desc: SegmentDescriptor, name: str) -> int:
    with open(os.path.join(directory, desc.segment_id, name), "rb") as f:
        return int.from_bytes(f.read(10)[8:10], "little")


def _level0(index) -> np.ndarray:
    (state,) = index.__getstate__()
    return np.asarray(state["data_level0"]).view(np.uint8)


@pytest.mark.parametrize("space", SPACES)
def test_stripped_graph_searches_like_the_unstripped_one(fs, tmp_path, h, space):
    stripped_dir, full_dir = str(tmp_path / "stripped"), str(tmp_path / "full")
    desc = _write(fs, stripped_dir, h, space)
    full_desc = _as_version1(fs, stripped_dir, full_dir, desc)
    assert _version(stripped_dir, desc, F.FILE_GRAPH) == F.FORMAT_VERSION_GRAPH_STRIPPED
    assert _version(full_dir, full_desc, F.FILE_GRAPH) == F.FORMAT_VERSION
    # the stripped file lacks the vector bytes, less one float32 factor per row for cosine
    saved = full_desc.files[F.FILE_GRAPH]["size"] - desc.files[F.FILE_GRAPH]["size"]
    assert abs(saved - N * DIM * 4 + (N * 4 if space == "cosine" else 0)) < 512
    stripped, full = Segment.open(fs, stripped_dir, desc), Segment.open(fs, full_dir, full_desc)
    # the refilled level-0 array is byte for byte the one hnswlib serialised
    assert np.array_equal(_level0(stripped.graph), _level0(full.graph))
    queries = h.clustered(50, DIM, 12, seed=9)
    for mask in (None, np.arange(N) % 3 != 0):
        rows_s, dist_s = stripped.search(queries, 10, allowed=mask)
        rows_f, dist_f = full.search(queries, 10, allowed=mask)
        np.testing.assert_array_equal(rows_s, rows_f)
        np.testing.assert_array_equal(dist_s, dist_f)
    labels_s, dist_s = stripped.graph.knn_query(queries, k=10)
    labels_f, dist_f = full.graph.knn_query(queries, k=10)
    np.testing.assert_array_equal(labels_s, labels_f)
    np.testing.assert_array_equal(dist_s, dist_f)


def test_version1_graph_file_still_opens_and_is_not_taken_for_stripped(fs, tmp_path, h):
    stripped_dir, full_dir = str(tmp_path / "stripped"), str(tmp_path / "full")
    desc = _write(fs, stripped_dir, h, "cosine")
    full_desc = _as_version1(fs, stripped_dir, full_dir, desc)
    for verify in (True, False):
        seg = Segment.open(fs, full_dir, full_desc, verify=verify)
        assert seg.graph.get_current_count() == N
    # a stripped body under a version-1 header is refused before hnswlib sees it
    body = bytes(decode_file("g", open(os.path.join(stripped_dir, "s", F.FILE_GRAPH), "rb").read(),
                             F.KIND_GRAPH, None))
    bad = _replace(full_dir, full_desc, F.FILE_GRAPH, encode_file(F.KIND_GRAPH, _ident(desc), body))
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, full_dir, bad)
    assert info.value.path == os.path.join(full_dir, "s", F.FILE_GRAPH)


def test_newer_versions_are_refused(fs, tmp_path, h):
    directory = str(tmp_path / "s")
    desc = _write(fs, directory, h, "l2")
    graph = open(os.path.join(directory, "s", F.FILE_GRAPH), "rb").read()
    body = bytes(decode_file("g", graph, F.KIND_GRAPH, None))
    newer = _replace(directory, desc, F.FILE_GRAPH, encode_file(F.KIND_GRAPH, _ident(desc), body, version=3))
    with pytest.raises(FormatVersionError):
        Segment.open(fs, directory, newer)
    # version 2 exists for the graph only: other kinds stay at version 1
    rows = open(os.path.join(directory, "s", F.FILE_ROWS), "rb").read()
    rows_body = bytes(decode_file("r", rows, F.KIND_ROWS, None))
    newer = _replace(directory, desc, F.FILE_ROWS, encode_file(F.KIND_ROWS, _ident(desc), rows_body, version=2))
    with pytest.raises(FormatVersionError):
        Segment.open(fs, directory, newer)


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("name", [F.FILE_GRAPH, F.FILE_VECTORS])
@pytest.mark.parametrize("where", [0.3, 0.9])
def test_damage_names_the_file(fs, tmp_path, h, name, where, verify):
    directory = str(tmp_path / "s")
    desc = _write(fs, directory, h, "cosine")
    path = os.path.join(directory, "s", name)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:  # a bit flip inside the body (links, patches or vectors)
        f.seek(int(size * where))
        byte = f.read(1)
        f.seek(int(size * where))
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, desc, verify=verify)
    assert info.value.path == path, str(info.value)


def test_vectors_that_do_not_reproduce_the_graph_are_refused(fs, tmp_path, h):
    """vectors.f32 replaced by a well-formed file with one vector changed (checksums and
    descriptor consistent): the refilled graph fails its level-0 checksum, naming the graph."""
    directory = str(tmp_path / "s")
    desc = _write(fs, directory, h, "l2")
    vectors = _vectors(h, "l2")
    vectors[700, 3] += 1.0
    changed = _replace(directory, desc, F.FILE_VECTORS, encode_file(F.KIND_VECTORS, _ident(desc), vectors.tobytes()))
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, changed)
    assert info.value.path == os.path.join(directory, "s", F.FILE_GRAPH)
    assert F.FILE_VECTORS in str(info.value)


@pytest.mark.parametrize("space", SPACES)
def test_records_the_refill_cannot_reproduce_are_stored_whole(h, space):
    """If hnswlib ever held other vector bytes than the refill computes, the writer stores
    those records whole and the reader still rebuilds hnswlib's exact state."""
    vectors = _vectors(h, space)
    index = build_graph(vectors, HnswParams(space=space, num_threads=1))
    (state,) = index.__getstate__()
    state = dict(state)
    level0 = np.array(state["data_level0"]).view(np.uint8).reshape(N, -1)
    off = int(state["offset_data"])
    level0[[5, 1200], off:off + 4] ^= np.uint8(1)  # flip the lowest bit of a float in two records
    state["data_level0"] = level0.reshape(-1).view(np.int8)
    index = hnswlib.Index.__new__(hnswlib.Index)
    index.__setstate__((state,))
    body = encode_graph(index, vectors, space)
    assert len(unpack("g", body)[1]["patch_rows"]) == 2
    loaded = load_graph("g", memoryview(body), N, DIM, space, version=F.FORMAT_VERSION_GRAPH_STRIPPED,
                        vectors=vectors)
    assert np.array_equal(_level0(loaded), level0.reshape(-1))


def test_normalisation_is_hnswlibs_bit_for_bit(h):
    """The refill reproduces hnswlib's cosine normalisation (no patches) over extreme inputs."""
    rng = np.random.default_rng(4)
    rows = [rng.standard_normal(384) * 10.0 ** e for e in range(-44, 39)]
    rows += [np.zeros(384), np.full(384, 1e20), np.full(384, 1e-30)]
    vectors = np.asarray(rows, dtype=np.float32)
    index = build_graph(vectors, HnswParams(space="cosine", num_threads=1))
    (state,) = index.__getstate__()
    off = int(state["offset_data"])
    level0 = np.asarray(state["data_level0"]).view(np.uint8).reshape(len(vectors), -1)
    labels = np.ascontiguousarray(level0[:, off + 384 * 4:]).view("<u8").ravel().astype(np.intp)
    expected = normalize_like_hnswlib(vectors[labels])
    assert np.array_equal(level0[:, off:off + 384 * 4], expected.view(np.uint8))
