"""``sediment compact``: compact a data directory now."""

from __future__ import annotations

import click

from sedimentdb.tools.clihelpers import TerminalProgress, handle_errors, human_bytes, json_option, print_json
from sedimentdb.tools.ops.compact import CompactSummary, compact


def render_summary(s: CompactSummary) -> str:
    """The text form of a compaction summary."""
    lines = [f"  {c.name}: segments {c.segments_before} -> {c.segments_after}, tail rows "
             f"{c.tail_rows_before} -> {c.tail_rows_after}, {c.records} records" for c in s.collections]
    lines.append(f"segments {s.segments_before} -> {s.segments_after}; on disk {human_bytes(s.bytes_before)} -> "
                 f"{human_bytes(s.bytes_after)} (reclaimed {human_bytes(s.bytes_reclaimed)}); "
                 f"{s.duration_s:.2f}s")
    return "\n".join(lines)


@click.command("compact")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--collection", default=None, help="Compact only this collection (name or id).")
@json_option
@handle_errors
def compact_command(path: str, collection: str | None, as_json: bool) -> None:
    """Compact PATH now: turn log tails into segments, merge and vacuum segments, free old files.

    Needs the writer lock: refuses (exit 3) when another process holds PATH. Progress goes
    to stderr when it is a terminal; the summary goes to stdout.
    """
    progress = TerminalProgress()
    summary = compact(path, collection, progress=progress)
    progress.close()
    if as_json:
        print_json(summary.to_dict())
    else:
        click.echo(render_summary(summary))
