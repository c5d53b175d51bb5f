"""The post-migration checks can fail: a changed embedding, metadata value or missing record is caught."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.tools.chroma import read_chroma
from sedimentdb.tools.ops.migrate import check_disk, migrate_from_chroma
from sedimentdb.tools.ops.migrate_verify import CollectionCheck, digest, exact_distances, verify_collection

from .helpers import VERSIONS, extract


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    src = extract(VERSIONS[-1], str(root))
    migrate_from_chroma(src, str(root / "db"))
    db = Database.open(str(root / "db"), DatabaseOptions(read_only=True, background_compaction=False))
    yield db, src
    db.close()


def _col(src, name):
    return next(c for c in read_chroma(src).collections if c.name == name and c.database == "default_database")


def test_untouched_collection_verifies(migrated):
    db, src = migrated
    check = verify_collection(db, _col(src, "log-tail"))
    assert check.ok and check.queries == 20 and check.recall >= 0.95


def test_one_flipped_embedding_bit_is_caught(migrated):
    db, src = migrated
    col = _col(src, "space-l2")
    col.embeddings = col.embeddings.copy()
    col.embeddings.view(np.uint32)[3, 2] ^= 1
    assert "record digest differs from the source's" in verify_collection(db, col).problems


def test_metadata_int_versus_float_is_caught(migrated):
    db, src = migrated
    col = _col(src, "space-ip")
    k = next(i for i, m in enumerate(col.metadatas) if m and isinstance(m.get("i"), int))
    col.metadatas[k] = {**col.metadatas[k], "i": float(col.metadatas[k]["i"])}
    assert not verify_collection(db, col).ok


def test_missing_record_and_wrong_distances_are_caught(migrated):
    db, src = migrated
    col = _col(src, "space-cosine")
    col.ids, col.embeddings = col.ids[:-1], col.embeddings[:-1] * 2  # scaled: cosine unchanged, digest not
    col.documents, col.metadatas, col.uris = col.documents[:-1], col.metadatas[:-1], col.uris[:-1]
    problems = verify_collection(db, col).problems
    assert any("records, the source has" in p for p in problems)
    col = _col(src, "space-l2")
    col.embeddings = col.embeddings * 2  # l2 distances change
    assert any("exact" in p for p in verify_collection(db, col).problems)


def test_digest_is_order_independent():
    emb = np.arange(12, dtype=np.float32).reshape(3, 4)
    ids, docs, metas, uris = ["a", "b", "c"], ["x", None, "z"], [{"k": 1}, None, {"k": 1.0}], [None, "u", None]
    order = [2, 0, 1]
    assert digest(ids, emb, docs, metas, uris) == digest([ids[i] for i in order], emb[order],
                                                         [docs[i] for i in order], [metas[i] for i in order],
                                                         [uris[i] for i in order])
    assert digest(ids, emb, docs, metas, uris) != digest(ids, emb, docs, [{"k": 1.0}, None, {"k": 1.0}], uris)


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
def test_exact_distances_match_the_definitions(space):
    rng = np.random.default_rng(1)
    v, q = rng.normal(size=(5, 7)).astype(np.float32), rng.normal(size=7).astype(np.float32)
    got = exact_distances(space, v, q)
    a, b = v.astype(np.float64), q.astype(np.float64)
    want = {"l2": ((a - b) ** 2).sum(1), "ip": 1 - a @ b,
            "cosine": 1 - (a @ b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))}[space]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(exact_distances(space, v, q, np.float32), want, rtol=1e-4, atol=1e-5)


def test_files_on_disk_that_lack_a_record_are_caught(migrated):
    db, src = migrated
    snap = read_chroma(src)
    checks = [CollectionCheck(c.name, c.id, c.count, c.count, "", "") for c in snap.collections]
    k = next(i for i, c in enumerate(snap.collections) if c.count > 1)
    snap.collections[k].ids = snap.collections[k].ids + ["not-in-the-log"]
    check_disk(db.path, snap, checks)
    assert [c.ok for c in checks] == [i != k for i in range(len(checks))]
    assert "the files on disk (segments and log) hold" in checks[k].problems[0]
