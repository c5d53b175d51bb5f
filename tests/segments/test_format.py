"""FORMAT.md's worked example is the real byte layout, and segments behave under threads."""

from __future__ import annotations

import os
import re
import threading

import numpy as np

from sedimentdb.engine.segments import HnswParams, SegmentData, write_segment

HERE = os.path.dirname(os.path.abspath(__file__))
FORMAT_MD = os.path.join(HERE, "..", "..", "engine", "segments", "FORMAT.md")


def _example_bytes(section_title: str) -> bytes:
    text = open(FORMAT_MD, encoding="utf-8").read()
    block = text.split(section_title, 1)[1].split("```", 2)[1]
    out = bytearray()
    for line in block.splitlines():
        m = re.match(r"^[0-9a-f]{4}: ((?:[0-9a-f]{2} ?)+)", line)
        if m:
            out += bytes.fromhex(m.group(1))
    return bytes(out)


def test_worked_example_matches_the_writer(fs, tmp_path):
    data = SegmentData(
        ids=["a", "b"], ordinals=np.array([7, 8], dtype=np.uint64), versions=np.array([3, 3], dtype=np.uint64),
        vectors=np.array([[1, 0], [0, 1]], dtype=np.float32), documents=["hi", None],
        metadatas=[{"n": 1}, None], uris=[None, None],
    )
    write_segment(fs, str(tmp_path), "s1", "c1", data, space="l2", hnsw=HnswParams(num_threads=1),
                  min_lsn=3, max_lsn=3)
    documented = _example_bytes("## Worked example")
    assert len(documented) == 162
    assert (tmp_path / "s1" / "rows.bin").read_bytes() == documented


def test_concurrent_searches_and_matches_agree(fs, tmp_path, h):
    vectors = h.clustered(3000, 16, clusters=20, seed=30)
    metas = [{"g": i % 4} for i in range(3000)]
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors, metadatas=metas))
    queries = h.clustered(20, 16, clusters=20, seed=31)
    mask = seg.match({"g": {"$ne": 0}}, None)
    expected = (seg.search(queries, 10), seg.search(queries, 10, allowed=mask, ef=150))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                plain = seg.search(queries, 10)
                filtered = seg.search(queries, 10, allowed=seg.match({"g": {"$ne": 0}}, None), ef=150)
                assert np.array_equal(plain[0], expected[0][0])
                assert np.array_equal(filtered[0], expected[1][0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
