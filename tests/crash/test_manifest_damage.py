"""Damaged manifests: one named case per way a manifest can be wrong, each a CorruptionError.

Plus the recovery rule around them: a damaged newest manifest falls back to the previous one
(and the log replays the rest), and no valid manifest at all refuses to open.
"""

from __future__ import annotations

import json
import struct

import crc32c
import pytest

from sedimentdb.engine.compactor import manifest as M
from sedimentdb.engine.storage_errors import CorruptionError, FormatVersionError

from .simfs import crash_image
from .workload import Builder, observe, open_db, record


def _good(gen: int = 3, big: bool = False) -> bytes:
    catalog = {"pad": "x" * (M.COMPRESS_ABOVE + 10)} if big else {}
    return M.encode(M.Manifest(gen, "u", 0, 5, catalog, {"c": {"checkpoint_lsn": 2, "segments": []}}, 1.0))


def _rehead(payload: bytes, gen: int = 3, flags: int = 0, version: int = M.FORMAT_VERSION) -> bytes:
    head = M.HEADER.pack(M.MAGIC, version, flags, gen, len(payload), crc32c.crc32c(payload))
    return head + M.HEADER_CRC.pack(crc32c.crc32c(head)) + payload


def _payload(**over) -> bytes:
    obj = {"generation": 3, "db_uuid": "u", "epoch": 0, "catalog_lsn": 5, "catalog": {},
           "collections": {"c": {"checkpoint_lsn": 2, "segments": []}}}
    obj.update(over)
    return json.dumps(obj).encode()


CASES = {
    "shorter than the header": (_good()[:20], "shorter than its header"),
    "bad magic": (b"X" + _good()[1:], "bad magic"),
    "header bit flip": (_good()[:20] + bytes([_good()[20] ^ 1]) + _good()[21:], "header checksum"),
    "payload truncated": (_good()[:-3], "header says"),
    "payload bit flip": (_good()[:-3] + bytes([_good()[-3] ^ 4]) + _good()[-2:], "payload checksum"),
    "payload not JSON": (_rehead(b"{not json"), "does not parse"),
    "payload not an object": (_rehead(b"[1, 2]"), "does not parse"),
    "field missing": (_rehead(json.dumps({"generation": 3}).encode()), "does not parse"),
    "zstd flag on raw bytes": (_rehead(_payload(), flags=M.FLAG_ZSTD), "does not parse"),
    "generation differs from header": (_rehead(_payload(generation=4)), "generation"),
    "collections not a dict": (_rehead(_payload(collections=[])), "wrong shape"),
    "checkpoint not an int": (_rehead(_payload(collections={"c": {"checkpoint_lsn": "2", "segments": []}})),
                              "wrong shape"),
    "segment without descriptor": (_rehead(_payload(collections={"c": {"checkpoint_lsn": 2, "segments": [{}]}})),
                                   "wrong shape"),
    "marker without file": (_rehead(_payload(collections={"c": {"checkpoint_lsn": 2, "segments": [
        {"descriptor": {"segment_id": "s"}, "marker": {"lsn": 1}}]}})), "wrong shape"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_manifest_is_corruption(case):
    blob, message = CASES[case]
    with pytest.raises(CorruptionError, match=message):
        M.decode(blob, "/db/MANIFEST-00000000000000000003")


def test_newer_format_version_is_a_format_version_error():
    with pytest.raises(FormatVersionError, match="newer than this build"):
        M.decode(_rehead(_payload(), version=M.FORMAT_VERSION + 1), "/m")


def test_compressed_manifest_round_trips():
    blob = _good(big=True)
    assert struct.unpack_from("<I", blob, 12)[0] & M.FLAG_ZSTD
    assert M.decode(blob, "/m").catalog["pad"].startswith("x")


def test_damaged_newest_manifest_falls_back_to_the_previous_one():
    from sedimentdb.engine.options import DatabaseOptions

    # The fallback is opt-in: keep_manifests=2 retains the previous generation and its log.
    b = Builder("fallback", DatabaseOptions(background_compaction=False, keep_manifests=2), seed=21)
    b.create("f").add("f", 10).compact().add("f", 5).delete_ids("f", ["r0"]).compact().add("f", 2)
    rec = record(b.w)
    fs, _ = crash_image(rec.points[-1].snap, "synced")
    newest = M.list_manifests(fs, "/db")[-1][1]
    data = bytearray(fs.read_bytes(newest))
    data[-1] ^= 0xFF
    f = fs.create(newest)
    f.write(bytes(data))
    f.sync()
    db = open_db(fs, b.w.options)
    try:
        assert observe(db) == rec.states[-1]
        assert db.manifests[-1].generation < int(newest[-20:])
    finally:
        db.close()


def test_no_valid_manifest_refuses_to_open():
    from sedimentdb.engine.options import DatabaseOptions

    b = Builder("none", DatabaseOptions(background_compaction=False), seed=22)
    b.create("n").add("n", 4).compact()
    rec = record(b.w)
    fs, _ = crash_image(rec.points[-1].snap, "synced")
    for _gen, path in M.list_manifests(fs, "/db"):
        f = fs.create(path)
        f.write(b"garbage")
        f.sync()
    with pytest.raises(CorruptionError, match="no manifest validates"):
        open_db(fs, b.w.options)
