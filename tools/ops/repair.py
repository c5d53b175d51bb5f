"""``sediment repair``: the explicit operator decisions the engine never makes alone.

The rules, the plan and carrying it out are the engine's, each beside the format it knows
(engine/repair.py runs them: the log in engine/wal/repair.py, the seal in
engine/wal/seal_repair.py, manifests and segments in engine/compactor/repair.py). This module
checks the path the operator gave and hands the engine the tools' logger and progress; the
prompt and the rendering are tools/repair_cmd.py's.
"""

from __future__ import annotations

from sedimentdb.engine import repair as engine_repair
from sedimentdb.engine.repair import Action, RepairPlan
from sedimentdb.tools.ops.common import Progress, check_data_dir, no_progress, quiet_logger

__all__ = ["Action", "RepairPlan", "apply_repair", "plan_repair"]


def plan_repair(path: str, *, salvage: bool = False) -> RepairPlan:
    """Take the writer lock of the data directory ``path`` and work out what to do.

    NotFoundError when ``path`` is not a data directory, LockedError if another process holds
    it. Close the plan (or apply it) to release the lock.
    """
    return engine_repair.plan_repair(check_data_dir(path), salvage=salvage)


def apply_repair(plan: RepairPlan, *, progress: Progress = no_progress) -> list[str]:
    """Carry out ``plan``; return one line per action done. Releases the lock at the end."""
    return engine_repair.apply_repair(plan, progress=progress, logger=quiet_logger())
