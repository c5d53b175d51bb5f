"""``sediment info``: a read-only summary of a data directory."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from sedimentdb.tools.clihelpers import handle_errors, human_bytes, json_option, print_json
from sedimentdb.tools.ops.info import InfoReport, database_info


def render_lsn_range(first: int, last: int) -> str:
    """``first..last``; an empty log (every record released, e.g. after a migration) says so
    rather than showing a backwards range such as ``5..4``."""
    if last < first:
        return f"none (the log holds no record; the next write is LSN {first})"
    return f"{first}..{last}"


def render_info(r: InfoReport) -> str:
    """The text form of an info report."""
    created = (dt.datetime.fromtimestamp(r.manifest_created_at, dt.timezone.utc).isoformat(timespec="seconds")
               if r.manifest_created_at else "-")
    lines = [
        f"path:                {r.path}",
        f"format versions:     wal {r.format_versions['wal']}, manifest {r.format_versions['manifest']}, "
        f"segment {r.format_versions['segment']}",
        f"database uuid:       {r.database_uuid}",
        f"epoch:               {r.epoch}",
        f"LSN range:           {render_lsn_range(r.first_lsn, r.last_lsn)}",
        f"log files:           {r.log_files} ({human_bytes(r.log_bytes)})",
        f"replication:         {render_replication(r.replication)}",
        f"manifest generation: {r.manifest_generation if r.manifest_generation is not None else '-'}"
        f" (checkpoint LSN {r.checkpoint_lsn if r.checkpoint_lsn is not None else '-'}, written {created})",
        f"segments:            {r.segments} ({human_bytes(r.segment_bytes)}); delete markers "
        f"{human_bytes(r.marker_bytes)}",
        f"tail:                {r.tail_rows} rows ({human_bytes(r.tail_bytes)}) not yet in segments",
        f"deleted:             {r.deleted_rows} rows ({100 * r.deleted_fraction:.2f}%), "
        f"reclaimable {human_bytes(r.reclaimable_bytes)}",
        f"total on disk:       {human_bytes(r.total_bytes)}",
        f"collections:         {len(r.collections)}",
    ]
    if r.collections:
        lines.append("")
        header = f"  {'NAME':<24} {'RECORDS':>9} {'DIM':>5} {'SPACE':<6} {'SEGS':>4} {'TAIL':>7} {'DELETED':>8} " \
                 f"{'RECLAIMABLE':>12}  TENANT/DATABASE  ID"
        lines.append(header)
        for c in r.collections:
            lines.append(
                f"  {c.name:<24} {c.records:>9} {c.dimension if c.dimension is not None else '-':>5} "
                f"{c.space:<6} {c.segments:>4} {c.tail_rows:>7} {100 * c.deleted_fraction:>7.2f}% "
                f"{human_bytes(c.reclaimable_bytes):>12}  {c.tenant}/{c.database}  {c.id}")
    return "\n".join(lines)


def render_replication(st: dict[str, Any]) -> str:
    """One line for the replication role and position (``replication_status``)."""
    role = st.get("role", "none")
    if "error" in st:
        return f"{role} ({st['error']})"
    if role == "replica":
        return f"replica of {st['source']}: applied LSN {st['applied_lsn']}, epoch {st['epoch']}"
    if role == "primary":
        since = st.get("seconds_since_ship")
        when = f", last ship {since:.1f}s ago" if since is not None else ""
        return (f"primary shipping to {st['destination']}: shipped LSN {st['shipped_lsn']} of {st['last_lsn']} "
                f"(lag {st['lag_records']} records{when})")
    return "none"


@click.command("info")
@click.argument("path", type=click.Path(file_okay=False))
@json_option
@handle_errors
def info(path: str, as_json: bool) -> None:
    """Summarise the data directory PATH: format, identity, log, manifest, collections, space.

    Read-only: it takes no lock and works while another process writes to PATH.
    """
    report = database_info(path)
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(render_info(report))
