"""Model-based testing: a Hypothesis state machine against the database model.

Rules: add, update, upsert, delete by ids, delete by where, query (checked against brute
force), compact, a background compaction pass (which flushes, merges and vacuums by the
policy), close-and-reopen, and simulated crash-and-reopen (every crash mode of the simulated
file system; with durability ``full`` and no operation in flight, nothing may be lost).
After every step the whole database must equal the model, bit for bit.

Profiles (applied to this machine only): ``ci`` (derandomized, bounded; the default) and
``long``; choose with ``SEDIMENT_HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sedimentdb.engine.options import DatabaseOptions

from .conftest import env_int
from .machine_rules import ReopenRules
from .simfs import SimFileSystem
from .workload import DbModel, check_queries, cid_of, observe, open_db

settings.register_profile("ci", derandomize=True, max_examples=20, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=env_int("SEDIMENT_HYPOTHESIS_EXAMPLES", 2000), stateful_step_count=80, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("SEDIMENT_HYPOTHESIS_PROFILE", "ci")

OPTS = DatabaseOptions(background_compaction=False, compact_tail_records=12, compact_tail_age_s=3600,
                       max_segments_per_collection=3, max_segment_records=10, wal_roll_bytes=4096)
DIM = 4
NAME = "sm"
CID = cid_of(NAME)

ids_st = st.lists(st.integers(0, 30).map(lambda i: f"i{i}"), min_size=1, max_size=6, unique=True)
text_st = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=4)
value_st = st.one_of(st.integers(-3, 3), st.booleans(), text_st,
                     st.floats(allow_nan=False, allow_infinity=False, width=32))
meta_st = st.one_of(st.none(), st.dictionaries(st.sampled_from(["g", "a", "b"]),
                                               st.one_of(st.none(), value_st), max_size=3))
doc_st = st.one_of(st.none(), text_st)


def _vecs(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


class DatabaseMachine(ReopenRules, RuleBasedStateMachine):
    """One collection on a simulated file system, mirrored by a DbModel."""

    def __init__(self) -> None:
        super().__init__()
        self.opts = OPTS
        self.fs = SimFileSystem()
        self.db = open_db(self.fs, OPTS)
        self.model = DbModel()
        self.db.create_collection("default_tenant", "default_database", NAME, id=CID)
        self.model.create(NAME)

    def teardown(self) -> None:
        self.db.close()

    def _write(self, op: str, ids: list[str], seed: int | None, docs: list, metas: list) -> None:
        vecs = None if seed is None else _vecs(seed, len(ids))
        docs = docs[: len(ids)] + [None] * (len(ids) - len(docs))
        metas = metas[: len(ids)] + [None] * (len(ids) - len(metas))
        if op != "update" and vecs is None:
            vecs = _vecs(0, len(ids))
        getattr(self.db, op)(CID, ids, vecs, documents=docs, metadatas=metas)
        self.model.write(op, CID, ids, vecs, docs, metas)

    @rule(ids=ids_st, seed=st.integers(0, 2**31), docs=st.lists(doc_st, max_size=6),
          metas=st.lists(meta_st, max_size=6))
    def add(self, ids, seed, docs, metas):
        self._write("add", ids, seed, docs, metas)

    @rule(ids=ids_st, seed=st.one_of(st.none(), st.integers(0, 2**31)), docs=st.lists(doc_st, max_size=6),
          metas=st.lists(meta_st, max_size=6))
    def update(self, ids, seed, docs, metas):
        self._write("update", ids, seed, docs, metas)

    @rule(ids=ids_st, seed=st.integers(0, 2**31), docs=st.lists(doc_st, max_size=6),
          metas=st.lists(meta_st, max_size=6))
    def upsert(self, ids, seed, docs, metas):
        self._write("upsert", ids, seed, docs, metas)

    @rule(ids=ids_st)
    def delete(self, ids):
        self.db.delete(CID, ids=ids)
        self.model.delete(CID, ids)

    @rule(g=st.integers(-3, 3))
    def delete_where(self, g):
        self.db.delete(CID, where={"g": g})
        rows = self.model.colls[CID].rows
        self.model.delete(CID, [i for i, (_, _, m) in rows.items()
                                if m and type(m.get("g")) in (int, float) and m.get("g") == g])

    @rule()
    def query(self):
        check_queries(self.db, self.model.canon())

    @rule()
    def compact(self):
        self.db.compact()

    @invariant()
    def matches_model(self):
        assert observe(self.db) == self.model.canon()


TestDatabaseMachine = DatabaseMachine.TestCase
TestDatabaseMachine.settings = settings.get_profile(PROFILE)
