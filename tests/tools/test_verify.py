"""sediment verify: clean directories pass; every kind of damage is named with file, offset, LSN."""

from __future__ import annotations

import json
import os

from sedimentdb.engine.compactor.manifest import list_manifests
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.tools.ops.verify import verify

from .helpers import (
    check_golden,
    flip_byte,
    invoke,
    log_file,
    normalise,
    record_offset,
    segment_dir,
    tree_digest,
)


def test_clean_directory_exits_zero(db_path, runner):
    report = verify(db_path)
    assert report.clean and not report.problems
    assert report.checked["rows_against_log"] == 1205  # every segment row compared with its log record
    assert report.checked["index_searches"] > 1000
    res = invoke(runner, "verify", db_path)
    assert res.exit_code == 0
    check_golden("verify_clean.txt", normalise(res.output, db_path))


def test_flipped_log_byte_is_named_and_nothing_is_modified(db_path, runner):
    off = record_offset(db_path, 10)
    flip_byte(log_file(db_path), off + 40)
    before = tree_digest(db_path)
    res = invoke(runner, "verify", db_path)
    assert res.exit_code == 1
    check_golden("verify_log_damage.txt", normalise(res.output, db_path))
    report = verify(db_path)
    errs = report.errors
    assert errs[0].area == "log" and errs[0].file == log_file(db_path) and errs[0].offset == off and errs[0].lsn == 10
    assert "LSN 10 is missing" in errs[1].message
    assert tree_digest(db_path) == before


def test_truncated_segment_file(db_path):
    vec = os.path.join(segment_dir(db_path), "vectors.f32")
    size = os.path.getsize(vec)
    os.truncate(vec, size - 10)
    errs = verify(db_path).errors
    assert len(errs) == 1 and errs[0].file == vec and errs[0].offset == size - 10 and "bytes" in errs[0].message


def test_flipped_graph_byte_and_json_report(db_path, runner):
    graph = os.path.join(segment_dir(db_path), "graph.hnsw")
    flip_byte(graph, 5000)
    res = invoke(runner, "verify", db_path, "--json")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert not data["clean"] and data["errors"] >= 1
    assert all(p["file"] == graph for p in data["problems"])


def test_damaged_manifest(db_path):
    mpath = list_manifests(OsFileSystem(), db_path)[-1][1]
    flip_byte(mpath, 50)
    errs = verify(db_path).errors
    assert errs and errs[0].area == "manifest" and errs[0].file == mpath


def test_torn_tail_is_a_warning_only(db_path):
    path = log_file(db_path)
    os.truncate(path, os.path.getsize(path) - 12)
    report = verify(db_path)
    assert report.clean
    assert [p.severity for p in report.problems] == ["warning"] and "torn tail" in report.problems[0].message


def test_missing_log_records_are_reported(db_path):
    # drop the log entirely: the manifest still needs its tail records replayed
    os.unlink(log_file(db_path))
    errs = verify(db_path).errors
    assert any("the log ends at LSN" in e.message for e in errs)


def test_content_mismatch_between_segment_and_log(db_path):
    # rewrite one log record's vector with valid checksums: the segment no longer matches it
    import numpy as np

    from sedimentdb.engine.wal import payload as codec
    from sedimentdb.engine.wal.frames import encode_frames
    from sedimentdb.tools.ops.wal import read_records
    rec = next(read_records(db_path, from_lsn=5, to_lsn=5))
    batch = rec.record
    vecs = batch.embeddings.copy()
    vecs[3] += np.float32(1.0)
    forged = type(batch)(batch.op, batch.collection_id, batch.ids, vecs, batch.documents, batch.metadatas, batch.uris)
    rtype, payload = codec.encode(forged)
    frames = encode_frames(5, rtype, payload)
    assert len(frames) == rec.size
    with open(rec.path, "r+b") as f:
        f.seek(rec.offset)
        f.write(frames)
    errs = verify(db_path).errors
    assert len(errs) == 1 and errs[0].area == "content" and errs[0].lsn == 5 and "'id3'" in errs[0].message


def test_verify_and_the_log_reader_agree_on_a_database_identity_spelled_in_upper_case(db_path):
    """Issue 17: the reader lower-cases the database UUID and verify did not, so a manifest naming
    the database in upper case opened fine yet verify called every log file foreign. One check now."""
    import time

    from sedimentdb.engine.compactor.manifest import Manifest, read_manifest, write_manifest
    from sedimentdb.tools.ops.common import open_read_only
    fs = OsFileSystem()
    m = read_manifest(fs, list_manifests(fs, db_path)[-1][1])
    shouted = m.db_uuid.upper()
    assert shouted != m.db_uuid
    write_manifest(fs, db_path, Manifest(m.generation + 1, shouted, m.epoch, m.catalog_lsn, m.catalog,
                                         m.collections, time.time()))
    open_read_only(db_path).close()  # the reader accepts it...
    report = verify(db_path)  # ...and so does verify
    assert not [p for p in report.problems if "belongs to database" in p.message], report.problems
    assert report.clean, [p.text() for p in report.errors]
