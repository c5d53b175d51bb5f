"""Every kind of damage to a segment file is a CorruptionError naming that file, never a crash."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, SegmentDescriptor, write_segment
from sedimentdb.engine.storage_errors import CorruptionError

FILES = ["vectors.f32", "rows.bin", "documents.col", "metadata.col", "uris.col", "graph.hnsw", "filter.idx",
         "sparse.idx", "segment.json"]


def _meta(i: int) -> dict:
    meta = {"k": i % 3, "s": "x" * (i % 5)}
    if i % 4:  # most rows hold a sparse vector, so the segment has a sparse.idx to damage
        meta["sv"] = {"#type": "sparse_vector", "indices": [i % 7, 7 + i % 5], "values": [0.5, float(i % 3)]}
    return meta


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Two segments of the same shape (so files can be swapped) with graphs, written once."""
    from sedimentdb.engine.fileio import OsFileSystem

    fs = OsFileSystem()
    directory = str(tmp_path_factory.mktemp("pristine"))
    rng = np.random.default_rng(20)
    descs = []
    for sid in ("a", "b"):
        n = 1100
        data = SegmentData(
            ids=[f"{sid}{i}" for i in range(n)], ordinals=np.arange(n, dtype=np.uint64),
            versions=np.ones(n, dtype=np.uint64), vectors=rng.standard_normal((n, 8)).astype(np.float32),
            documents=[f"doc {i}" for i in range(n)], metadatas=[_meta(i) for i in range(n)],
            uris=[f"u{i}" for i in range(n)],
        )
        descs.append(write_segment(fs, directory, sid, "coll", data, space="l2",
                                   hnsw=HnswParams(num_threads=1), min_lsn=1, max_lsn=9))
    assert descs[0].has_graph
    return directory, descs[0], descs[1]


@pytest.fixture
def segment_dir(pristine, tmp_path):
    """A fresh copy of the pristine segments for one test to damage; returns (dir, a, b)."""
    source, a, b = pristine
    directory = str(tmp_path / "segments")
    shutil.copytree(source, directory)
    return directory, a, b


def _expect_corruption(fs, directory, desc, name, *, verify=True):
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, desc, verify=verify)
    assert info.value.path == os.path.join(directory, desc.segment_id, name), str(info.value)
    assert name in str(info.value)
    return info.value


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x10]))


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("where", ["header", "body", "trailer"])
def test_bit_flip(fs, segment_dir, name, where):
    directory, desc, _ = segment_dir
    path = os.path.join(directory, "a", name)
    size = os.path.getsize(path)
    offset = {"header": 9, "body": size // 2, "trailer": size - 6}[where]
    _flip(path, offset)
    _expect_corruption(fs, directory, desc, name)


@pytest.mark.parametrize("name", FILES)
def test_bit_flip_without_manifest_verification(fs, segment_dir, name):
    """verify=False skips the manifest checksums, but each file's own checksums still catch it."""
    directory, desc, _ = segment_dir
    path = os.path.join(directory, "a", name)
    _flip(path, os.path.getsize(path) // 2)
    _expect_corruption(fs, directory, desc, name, verify=False)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("keep", ["empty", "half", "all-but-one-byte"])
def test_truncation(fs, segment_dir, name, keep):
    directory, desc, _ = segment_dir
    path = os.path.join(directory, "a", name)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate({"empty": 0, "half": size // 2, "all-but-one-byte": size - 1}[keep])
    _expect_corruption(fs, directory, desc, name, verify=False)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("verify", [True, False])
def test_file_swapped_from_another_segment(fs, segment_dir, name, verify):
    directory, desc, _ = segment_dir
    shutil.copyfile(os.path.join(directory, "b", name), os.path.join(directory, "a", name))
    # The manifest's sizes would differ for most files; pretend they matched, so the identity
    # in the file's own header is what must catch the swap.
    files = dict(desc.files)
    files[name] = {"size": os.path.getsize(os.path.join(directory, "a", name)),
                   "crc32c": desc.files[name]["crc32c"]}
    faked = SegmentDescriptor(**{**desc.__dict__, "files": files})
    err = _expect_corruption(fs, directory, faked if not verify else desc, name, verify=verify)
    assert "another segment" in str(err) or "manifest" in str(err)


@pytest.mark.parametrize(("first", "second"), [("documents.col", "uris.col"), ("rows.bin", "metadata.col"),
                                               ("vectors.f32", "graph.hnsw")])
def test_files_swapped_within_a_segment(fs, segment_dir, first, second):
    directory, desc, _ = segment_dir
    seg = os.path.join(directory, "a")
    os.rename(os.path.join(seg, first), os.path.join(seg, "tmp"))
    os.rename(os.path.join(seg, second), os.path.join(seg, first))
    os.rename(os.path.join(seg, "tmp"), os.path.join(seg, second))
    files = dict(desc.files)
    files[first], files[second] = desc.files[second], desc.files[first]
    faked = SegmentDescriptor(**{**desc.__dict__, "files": files})
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, faked, verify=False)
    assert info.value.path in (os.path.join(seg, first), os.path.join(seg, second))
    assert "kind" in str(info.value)


@pytest.mark.parametrize("name", FILES)
def test_missing_file(fs, segment_dir, name):
    directory, desc, _ = segment_dir
    os.unlink(os.path.join(directory, "a", name))
    err = _expect_corruption(fs, directory, desc, name)
    assert err.hint


def test_missing_segment_directory(fs, segment_dir):
    directory, desc, _ = segment_dir
    shutil.rmtree(os.path.join(directory, "a"))
    with pytest.raises(CorruptionError):
        Segment.open(fs, directory, desc)


def test_descriptor_of_another_segment(fs, segment_dir):
    directory, desc, other = segment_dir
    # b's descriptor pointed at a's directory: every size/crc differs or the identity does
    wrong = SegmentDescriptor(**{**other.__dict__, "segment_id": "a"})
    with pytest.raises(CorruptionError):
        Segment.open(fs, directory, wrong)


def test_descriptor_missing_a_required_file(fs, segment_dir):
    directory, desc, _ = segment_dir
    files = {k: v for k, v in desc.files.items() if k != "rows.bin"}
    with pytest.raises(CorruptionError) as info:
        Segment.open(fs, directory, SegmentDescriptor(**{**desc.__dict__, "files": files}))
    assert "rows.bin" in str(info.value)


def test_intact_segment_still_opens(fs, segment_dir):
    directory, desc, _ = segment_dir
    seg = Segment.open(fs, directory, desc)
    assert seg.count == 1100 and seg.graph is not None
