"""``sediment repair``: fix a damaged data directory, after showing the plan and asking."""

from __future__ import annotations

import sys

import click

from sedimentdb.tools.clihelpers import EXIT_OK, EXIT_PROBLEMS, TerminalProgress, handle_errors, print_json
from sedimentdb.tools.ops.repair import RepairPlan, apply_repair, plan_repair


def render_plan(plan: RepairPlan) -> str:
    """The text form of a repair plan."""
    if not plan.actions and not plan.unfixable:
        return f"{plan.path}: nothing to repair"
    lines = [f"repair plan for {plan.path}" + (" (salvage)" if plan.salvage else "") + ":"]
    lines += [f"  {i}. [{a.kind}] {a.description}" for i, a in enumerate(plan.actions, 1)]
    if plan.actions:
        lines.append(f"  copies of every file cut, rewritten or replaced go to {plan.aside}/")
    lines += [f"  CANNOT FIX: {u}" for u in plan.unfixable]
    return "\n".join(lines)


@click.command("repair")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--salvage", is_flag=True,
              help="Keep the valid records after a damaged log region (only when no LSN is missing) "
                   "instead of truncating the log at the last good record.")
@click.option("-y", "--yes", is_flag=True, help="Apply the plan without asking.")
@click.option("--dry-run", is_flag=True, help="Show the plan and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was done) as JSON.")
@handle_errors
def repair_command(path: str, salvage: bool, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Repair PATH: truncate or salvage a damaged log, set aside damaged manifests, rebuild segments.

    Takes the writer lock (refuses, exit 3, when another process holds PATH), shows what it
    will do and asks unless --yes. Nothing is deleted: originals go to PATH/repair-<time>/.
    Exit 0 when everything found was repaired (or nothing needed it), 1 when something
    cannot be fixed or the plan was declined.
    """
    with plan_repair(path, salvage=salvage) as plan:
        if as_json and (dry_run or not plan.actions):
            print_json({**plan.to_dict(), "done": []})
        elif not as_json:
            click.echo(render_plan(plan))
        if not plan.actions or dry_run:
            sys.exit(EXIT_PROBLEMS if plan.unfixable else EXIT_OK)
        if not yes and not click.confirm("Apply this plan?", default=False, err=True):
            click.echo("nothing changed", err=True)
            sys.exit(EXIT_PROBLEMS)
        progress = TerminalProgress()
        done = apply_repair(plan, progress=progress)
        progress.close()
    if as_json:
        print_json({**plan.to_dict(), "done": done})
    else:
        click.echo(f"done: {len(done)} action(s) applied; run `sediment verify {path}` to confirm")
    sys.exit(EXIT_PROBLEMS if plan.unfixable else EXIT_OK)
