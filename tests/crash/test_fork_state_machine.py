"""Model-based testing of forks: a Hypothesis state machine with fork, writes to any side,
deletes of either side, compaction, reopen and simulated crash-and-reopen.

Every fork is a copy of its source's model at that moment; writes go to one collection of
the lineage, chosen by the rule. After every step the whole database must equal the model,
bit for bit, and every collection's ``fork_count`` must be the number of forks made in its
lineage. Profiles as in test_state_machine.py (``SEDIMENT_HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sedimentdb.engine.options import DatabaseOptions

from .conftest import env_int
from .machine_rules import ReopenRules
from .simfs import SimFileSystem
from .workload import DbModel, check_queries, cid_of, observe, open_db

settings.register_profile("fork-ci", derandomize=True, max_examples=15, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fork-long", max_examples=env_int("SEDIMENT_HYPOTHESIS_EXAMPLES", 1000),
                          stateful_step_count=80, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = "fork-long" if os.environ.get("SEDIMENT_HYPOTHESIS_PROFILE") == "long" else "fork-ci"

# Small thresholds: tails flush and segments merge within a few steps, so forks share segments
# that their sources then rewrite, and inherit tails that their sources then compact.
OPTS = DatabaseOptions(background_compaction=False, compact_tail_records=6, compact_tail_age_s=3600,
                       max_segments_per_collection=2, max_segment_records=8, wal_roll_bytes=4096)
DIM = 4
ROOT = "root"
T, D = "default_tenant", "default_database"

ids_st = st.lists(st.integers(0, 20).map(lambda i: f"i{i}"), min_size=1, max_size=5, unique=True)
meta_st = st.one_of(st.none(), st.fixed_dictionaries({"g": st.integers(0, 3)}))
pick_st = st.integers(0, 10**6)


def _vecs(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


class ForkMachine(ReopenRules, RuleBasedStateMachine):
    """A root collection and its forks on a simulated file system, mirrored by a DbModel."""

    def __init__(self) -> None:
        super().__init__()
        self.opts = OPTS
        self.fs = SimFileSystem()
        self.db = open_db(self.fs, OPTS)
        self.model = DbModel()
        self.db.create_collection(T, D, ROOT, id=cid_of(ROOT))
        self.model.create(ROOT)
        self.forks_made = 0
        self.next_name = 0

    def teardown(self) -> None:
        self.db.close()

    def _pick(self, pick: int) -> str:
        cids = sorted(self.model.colls)
        return cids[pick % len(cids)]

    @rule(pick=pick_st, op=st.sampled_from(["add", "upsert", "update"]), ids=ids_st, seed=st.integers(0, 2**31),
          metas=st.lists(meta_st, min_size=5, max_size=5))
    def write(self, pick, op, ids, seed, metas):
        cid = self._pick(pick)
        vecs = _vecs(seed, len(ids))
        docs = [f"{op} {seed % 1000} {i}" for i in ids]
        getattr(self.db, op)(cid, ids, vecs, documents=docs, metadatas=metas[: len(ids)])
        self.model.write(op, cid, ids, vecs, docs, metas[: len(ids)])

    @rule(pick=pick_st, ids=ids_st)
    def delete(self, pick, ids):
        cid = self._pick(pick)
        self.db.delete(cid, ids=ids)
        self.model.delete(cid, ids)

    @precondition(lambda self: len(self.model.colls) < 6)
    @rule(pick=pick_st)
    def fork(self, pick):
        source = self._pick(pick)
        name = f"fork{self.next_name}"
        self.next_name += 1
        self.db.fork_collection(source, name, id=cid_of(name))
        self.model.fork(source, name)
        self.forks_made += 1

    @precondition(lambda self: len(self.model.colls) > 1)
    @rule(pick=pick_st)
    def delete_collection(self, pick):
        cid = self._pick(pick)
        self.db.delete_collection(cid)
        del self.model.colls[cid]

    @rule()
    def query(self):
        check_queries(self.db, self.model.canon())

    @rule(pick=pick_st)
    def compact(self, pick):
        self.db.compact(self._pick(pick) if pick % 2 else None)

    @invariant()
    def matches_model(self):
        assert observe(self.db) == self.model.canon()

    @invariant()
    def fork_counts(self):
        # Every collection here descends from the root (forks of forks too): one lineage.
        for cid in self.model.colls:
            assert self.db.fork_count(cid) == self.forks_made


TestForkMachine = ForkMachine.TestCase
TestForkMachine.settings = settings.get_profile(PROFILE)
