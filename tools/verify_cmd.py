"""``sediment verify``: a full, read-only check of a data directory."""

from __future__ import annotations

import sys

import click

from sedimentdb.tools.clihelpers import EXIT_OK, EXIT_PROBLEMS, TerminalProgress, handle_errors, print_json
from sedimentdb.tools.ops.verify import VerifyReport, verify


def render_report(r: VerifyReport) -> str:
    """The text form of a verify report."""
    lines = [p.text(r.path) for p in r.problems]
    checked = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in r.checked.items())
    lines.append(f"checked: {checked}")
    nerr, nwarn = len(r.errors), len(r.problems) - len(r.errors)
    lines.append(f"{r.path}: {'clean' if r.clean else 'DAMAGED'} ({nerr} errors, {nwarn} warnings)")
    return "\n".join(lines)


@click.command("verify")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--no-index", is_flag=True, help="Skip the self-search of every live vector in the HNSW graphs.")
@click.option("--no-content", is_flag=True, help="Skip comparing segment rows with the log records that wrote them.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def verify_command(path: str, no_index: bool, no_content: bool, as_json: bool) -> None:
    """Check every checksum and invariant of PATH without modifying anything.

    Exit status 0 only when no error was found (warnings such as a torn tail or orphan files
    do not count); 1 otherwise. Every problem is named with its file, byte offset and LSN.
    """
    progress = TerminalProgress()
    report = verify(path, progress=progress, index=not no_index, content=not no_content)
    progress.close()
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(render_report(report))
    sys.exit(EXIT_OK if report.clean else EXIT_PROBLEMS)
