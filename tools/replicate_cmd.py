"""``sediment replicate | follow | restore | promote | digest | archive-verify``: log shipping.

Thin wrappers over :mod:`sedimentdb.engine.replication` (docs/REPLICATION.md).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import tempfile
from typing import Any

import click

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import (
    open_destination,
    plan_restore,
    promote,
    release_hold,
    replicate,
    restore,
    state_digest,
    verify_archive,
)
from sedimentdb.engine.replication.archive import resolve_uuid
from sedimentdb.engine.replication.follower import follow, read_position
from sedimentdb.engine.replication.status import replication_status
from sedimentdb.tools.clihelpers import EXIT_OK, EXIT_PROBLEMS, handle_errors, json_option, print_json

DEST_HELP = "Archive: a directory, or s3://bucket/prefix[?endpoint=http://host:port]."


def parse_time(text: str) -> float:
    """Seconds since the epoch from ``1763740000``, or ISO 8601 (``2026-11-21T16:50:00Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not a time: {text!r} (use ISO 8601 or epoch seconds)") from exc
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()


@click.command("replicate")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--to", "dest", help=DEST_HELP)
@click.option("--once", is_flag=True, help="Ship what is there (log and a snapshot) and exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between rounds (the live tail's lag).")
@click.option("--snapshot-interval", default=3600.0, show_default=True, help="Seconds between snapshots.")
@click.option("--retain-snapshots", type=int, help="Keep only the newest N snapshots and the log they need.")
@click.option("--status", is_flag=True, help="Print the replication position (shipped LSN, local LSN, lag) and exit.")
@click.option("--off", is_flag=True, help="Turn replication off: let the compactor release unshipped log again.")
@handle_errors
def replicate_command(path: str, dest: str | None, once: bool, interval: float, snapshot_interval: float,
                      retain_snapshots: int | None, status: bool, off: bool) -> None:
    """Ship the log and snapshots of PATH to an archive (continuously unless --once).

    While replication is on, PATH's log is kept until it has been shipped.
    """
    if status:
        st = replication_status(path)
        # replicating/local_lsn/replica: the keys this command printed before `role` existed.
        print_json({**st, "replicating": st["role"] == "primary", "local_lsn": st["last_lsn"],
                    "replica": _replica(path)})
        return
    if off:
        click.echo("replication hold removed" if release_hold(path) else "replication was not on")
        return
    if not dest:
        raise click.UsageError("--to is required")

    def report(r: Any) -> None:
        if r.records or r.snapshot or once:
            snap = f", snapshot {r.snapshot}" if r.snapshot else ""
            click.echo(f"shipped {r.records} records in {r.units} units ({r.bytes} bytes); "
                       f"archive at LSN {r.head}{snap}")

    _stop_on_signals()
    try:
        replicate(path, open_destination(dest), once=once, interval=interval,
                  snapshot_interval=snapshot_interval, retain_snapshots=retain_snapshots, on_round=report)
    except KeyboardInterrupt:
        pass


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM end a long-running command cleanly (the database is closed, the
    position kept). Set explicitly: a process started from a shell's background job inherits
    SIGINT ignored, and Python then installs no handler of its own."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command("follow")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--from", "source", required=True, help=DEST_HELP)
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls of the archive.")
@click.option("--once", is_flag=True, help="Catch up once and exit.")
@click.option("--rebootstrap", is_flag=True,
              help="On a gap or diverged history, move PATH aside and bootstrap again from the newest state.")
@handle_errors
def follow_command(path: str, source: str, interval: float, once: bool, rebootstrap: bool) -> None:
    """Keep PATH a read-only replica of an archive (bootstraps into an empty PATH).

    Stops with a message (exit 1) on a gap, a damaged unit or a history mismatch; never
    applies past one. Read the replica with `Database.open(PATH, read_only=True)` or a client.
    """

    def report(n: int, pos: Any) -> None:
        if n or once:
            click.echo(f"applied {n} records; replica at LSN {pos.lsn} (epoch {pos.epoch})")

    _stop_on_signals()
    try:
        follow(open_destination(source), path, interval=interval, once=once, on_step=report,
               rebootstrap=rebootstrap)
    except KeyboardInterrupt:
        pass


@click.command("restore")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--from", "source", required=True, help=DEST_HELP)
@click.option("--to-lsn", type=int, help="Restore the state just after this LSN.")
@click.option("--to-time", help="Restore the last state shipped at or before this time (ISO 8601 or epoch s).")
@click.option("--uuid", "db_uuid", help="Which database, when the archive holds several.")
@click.option("--dry-run", is_flag=True, help="Print the plan (snapshot and log ranges) and do nothing.")
@json_option
@handle_errors
def restore_command(path: str, source: str, to_lsn: int | None, to_time: str | None, db_uuid: str | None,
                    dry_run: bool, as_json: bool) -> None:
    """Rebuild into the new directory PATH the database as of an LSN or time the archive covers."""
    if to_lsn is not None and to_time is not None:
        raise click.UsageError("give --to-lsn or --to-time, not both")
    dest = open_destination(source)
    when = parse_time(to_time) if to_time else None
    plan = (plan_restore(dest, db_uuid=db_uuid, to_lsn=to_lsn, to_time=when) if dry_run
            else restore(dest, path, db_uuid=db_uuid, to_lsn=to_lsn, to_time=when))
    if as_json:
        print_json({**plan.to_dict(), "dry_run": dry_run})
        return
    click.echo(plan.describe())
    if not dry_run:
        click.echo(f"restored to {os.path.abspath(path)} at LSN {plan.target_lsn}")


@click.command("promote")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--archive", help="Archive whose epochs to exceed (default: the one the replica followed).")
@handle_errors
def promote_command(path: str, archive: str | None) -> None:
    """Make the replica PATH a primary: a NewEpoch record starts a new epoch in its log.

    Stop the follower first. Records the old primary ships later (older epoch) are refused.
    """
    epoch, lsn = promote(path, open_destination(archive) if archive else None)
    click.echo(f"promoted {os.path.abspath(path)}: epoch {epoch} from LSN {lsn}")


@click.command("digest")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--against", help="Also restore this archive to PATH's LSN and compare digests. " + DEST_HELP)
@json_option
@handle_errors
def digest_command(path: str, against: str | None, as_json: bool) -> None:
    """Print the state digest of PATH at its LSN; with --against, prove the archive agrees there."""
    mine = _digest_of(path)
    out: dict[str, Any] = {"path": os.path.abspath(path), **mine.to_dict()}
    if against:
        dest = open_destination(against)
        with tempfile.TemporaryDirectory(prefix="sediment-digest-") as tmp:
            restore(dest, os.path.join(tmp, "db"), to_lsn=mine.lsn, db_uuid=resolve_uuid(dest, None))
            theirs = _digest_of(os.path.join(tmp, "db"))
        out["archive_digest"] = theirs.digest
        out["equal"] = theirs.digest == mine.digest
    if as_json:
        print_json(out)
    else:
        click.echo(f"LSN {mine.lsn} epoch {mine.epoch}: {mine.records} records in {mine.collections} collections, "
                   f"digest {mine.digest}")
        if against:
            click.echo(f"archive at LSN {mine.lsn}: digest {out['archive_digest']} -> "
                       f"{'EQUAL' if out['equal'] else 'DIFFERENT'}")
    sys.exit(EXIT_OK if out.get("equal", True) else EXIT_PROBLEMS)


def _replica(path: str) -> dict[str, Any] | None:
    pos = read_position(path)
    return None if pos is None else {"lsn": pos.lsn, "epoch": pos.epoch, "source": pos.source}


def _digest_of(path: str) -> Any:
    db = Database.open(path, DatabaseOptions(read_only=True, background_compaction=False))
    try:
        return state_digest(db)
    finally:
        db.close()


@click.command("archive-verify")
@click.argument("source")
@click.option("--uuid", "db_uuid", help="Which database, when the archive holds several.")
@handle_errors
def archive_verify_command(source: str, db_uuid: str | None) -> None:
    """Read every object of an archive: checksums, names, identity, continuity, snapshot files."""
    dest = open_destination(source)
    problems = verify_archive(dest, resolve_uuid(dest, db_uuid))
    for p in problems:
        click.echo(p)
    click.echo(f"{dest.url}: {'clean' if not problems else f'DAMAGED ({len(problems)} problems)'}")
    sys.exit(EXIT_OK if not problems else EXIT_PROBLEMS)


COMMANDS = [replicate_command, follow_command, restore_command, promote_command, digest_command,
            archive_verify_command]


def register_replication(group: click.Group) -> None:
    """Add the replication commands to the ``sediment`` group."""
    for cmd in COMMANDS:
        group.add_command(cmd)
