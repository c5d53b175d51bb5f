"""engine/blas.py: queries run BLAS on one thread and put the application's count back."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sedimentdb.engine import blas

pytestmark = pytest.mark.skipif(not blas.available(), reason="numpy is not linked to OpenBLAS here")


def test_one_thread_inside_and_the_count_restored_after_overlapping_blocks():
    before = blas.threads()
    entered, release = threading.Event(), threading.Event()

    def other_query() -> None:
        with blas.one_blas_thread():
            entered.set()
            release.wait(10)

    with blas.one_blas_thread():
        assert blas.threads() == 1
        t = threading.Thread(target=other_query)
        t.start()
        assert entered.wait(10)
    assert blas.threads() == 1  # the other query still runs
    release.set()
    t.join()
    assert blas.threads() == before


def test_the_count_is_restored_when_the_block_raises():
    before = blas.threads()
    with pytest.raises(ZeroDivisionError), blas.one_blas_thread():
        np.ones((4, 4)) @ np.ones((4, 4))
        1 / 0  # noqa: B018
    assert blas.threads() == before


def test_queries_leave_the_count_as_they_found_it(tmp_path):
    from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
    from sedimentdb.engine.options import DatabaseOptions

    before = blas.threads()
    with Database.open(str(tmp_path), DatabaseOptions(background_compaction=False)) as db:
        cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
        db.add(cid, ["a", "b"], np.eye(2, 3, dtype=np.float32))
        assert db.query(cid, np.ones((1, 3), dtype=np.float32), 1)[0].ids == ["a"]
    assert blas.threads() == before
