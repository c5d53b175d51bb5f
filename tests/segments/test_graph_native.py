"""The graph body written from hnswlib's index file equals the one written from __getstate__."""

from __future__ import annotations

import hnswlib
import numpy as np
import pytest

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bundle import unpack
from sedimentdb.engine.segments.descriptor import HnswParams
from sedimentdb.engine.segments.graph import (
    build_graph,
    build_seeded_graph,
    encode_graph,
    load_graph,
    seed_mapping,
)
from sedimentdb.engine.segments.graph_native import encode_graph_via_file


def _vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    v[3] = 0  # a zero vector: cosine's factor is huge, the stored vector all zeros
    return v


def _state(body: bytes) -> tuple[dict, dict]:
    scalars, arrays = unpack("<test>", body)
    return scalars, {k: np.array(v) for k, v in arrays.items()}


def _assert_same_state(native: bytes, via_getstate: bytes, ignore: tuple[str, ...] = ()) -> None:
    s1, a1 = _state(native)
    s2, a2 = _state(via_getstate)
    assert {k: v for k, v in s1.items() if k not in ignore} == {k: v for k, v in s2.items() if k not in ignore}
    assert set(a1) == set(a2)
    # The label lookup is a map: compared as pairs (getstate lists it in hash order).
    pairs1 = sorted(zip(a1.pop("label_lookup_internal").tolist(), a1.pop("label_lookup_external").tolist(),
                        strict=True))
    pairs2 = sorted(zip(a2.pop("label_lookup_internal").tolist(), a2.pop("label_lookup_external").tolist(),
                        strict=True))
    assert pairs1 == pairs2
    for name in a1:
        assert a1[name].dtype == a2[name].dtype, name
        assert np.array_equal(a1[name], a2[name]), name


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_native_body_equals_the_getstate_body(tmp_path, space):
    vectors = _vectors(2500, 12)
    params = HnswParams(space=space, M=6, construction_ef=40, search_ef=30, num_threads=1)
    index = build_graph(vectors, params)
    native = encode_graph_via_file(index, vectors, space, str(tmp_path / "scratch"))
    _assert_same_state(native, encode_graph(index, vectors, space))
    assert not (tmp_path / "scratch").exists()
    loaded = load_graph("<native>", memoryview(native), len(vectors), vectors.shape[1], space, vectors=vectors,
                        version=F.FORMAT_VERSION_GRAPH_STRIPPED)
    q = vectors[:50] + 0.01
    assert np.array_equal(loaded.knn_query(q, k=5)[0], index.knn_query(q, k=5)[0])


def test_native_body_of_a_seeded_graph(tmp_path):
    class Seed:  # what seed_mapping and build_seeded_graph read of an open segment
        pass

    space, vectors = "cosine", _vectors(3000, 8, seed=4)
    params = HnswParams(space=space, M=8, construction_ef=40, search_ef=30, num_threads=1)
    seed = Seed()
    seed.graph, seed.space, seed.dim, seed.count = build_graph(vectors[:2000], params), space, 8, 2000
    seed.descriptor = type("D", (), {"hnsw": {"M": 8, "construction_ef": 40}})()
    seed.ids = [f"r{i}" for i in range(2000)]
    seed.versions = np.ones(2000, dtype=np.uint64)
    seed.vectors = vectors[:2000]
    # 200 rows of the seed dropped, 1200 new: the seed graph is reused (nodes replaced).
    ids = [f"r{i}" for i in range(200, 3000)]
    out = vectors[200:]
    mapping = seed_mapping(seed, ids, np.ones(len(ids), dtype=np.uint64), out, params)
    assert mapping is not None
    index = build_seeded_graph(out, params, seed, mapping)
    native = encode_graph_via_file(index, out, space, str(tmp_path / "scratch"))
    # The seeded index was made with replace_deleted on; a stored segment never replaces.
    _assert_same_state(native, encode_graph(index, out, space), ignore=("allow_replace_deleted",))


def test_damaged_scratch_file_is_an_error_not_a_wrong_graph(tmp_path, monkeypatch):
    vectors = _vectors(1500, 8)
    index = build_graph(vectors, HnswParams(space="l2", M=6, construction_ef=40, search_ef=30, num_threads=1))
    real_save = hnswlib.Index.save_index

    def truncating_save(self, path):
        real_save(self, path)
        with open(path, "r+b") as f:
            f.truncate(5000)

    monkeypatch.setattr(hnswlib.Index, "save_index", truncating_save)
    with pytest.raises(ValueError, match="ends early"):
        encode_graph_via_file(index, vectors, "l2", str(tmp_path / "scratch"))
    assert not (tmp_path / "scratch").exists()
