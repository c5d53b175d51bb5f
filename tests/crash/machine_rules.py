"""Rules every crash state machine shares: a background compaction pass, a clean close and
reopen, and a simulated crash (every crash mode of the simulated file system) and reopen."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from .simfs import CRASH_MODES, crash_image
from .workload import open_db


class ReopenRules:
    """Mixin for a RuleBasedStateMachine holding ``self.fs`` (a SimFileSystem), ``self.db`` and
    the class attribute ``opts`` (the DatabaseOptions every open uses)."""

    opts: Any
    fs: Any
    db: Any

    @rule()
    def background_pass(self) -> None:
        """One compaction pass as the background thread runs it (flush, merge, vacuum by policy)."""
        self.db.compactor.run_pass(force=False)

    @rule()
    def close_and_reopen(self) -> None:
        """Close cleanly and open again."""
        self.db.close()
        self.db = open_db(self.fs, self.opts)

    @rule(mode=st.sampled_from(CRASH_MODES), seed=st.integers(0, 1000))
    def crash_and_reopen(self, mode: str, seed: int) -> None:
        """Crash (what the simulated disk keeps depends on ``mode``) and open the image."""
        fs, _ = crash_image(self.fs.snapshot(), mode, seed)
        self.db.wal._closed = True  # abandon the crashed process's handle (it must not write on)
        self.fs, self.db = fs, open_db(fs, self.opts)
