"""``sediment wal ls|dump|tail``: look inside the write-ahead log."""

from __future__ import annotations

import json
import signal

import click

from sedimentdb.engine.wal import ScannedRecord
from sedimentdb.engine.wal.records import CreateCollection, ModifyCollection
from sedimentdb.tools.clihelpers import handle_errors, human_bytes, json_option, print_json
from sedimentdb.tools.ops.wal import (
    OPS,
    collection_names,
    follow,
    last_records,
    list_log,
    read_records,
    record_dict,
    record_text,
)

path_arg = click.argument("path", type=click.Path(file_okay=False))


def _filters(fn):  # type: ignore[no-untyped-def]
    fn = click.option("--op", "ops", multiple=True, type=click.Choice(OPS),
                      help="Show only records of this kind (repeatable).")(fn)
    fn = click.option("--collection", default=None, help="Show only records of this collection (name or id).")(fn)
    fn = click.option("--to-lsn", type=click.IntRange(min=1), default=None, help="Last LSN to show.")(fn)
    fn = click.option("--from-lsn", type=click.IntRange(min=1), default=None, help="First LSN to show.")(fn)
    fn = click.option("--vectors", is_flag=True, help="Print embeddings in full instead of a short preview.")(fn)
    return fn


@click.group("wal")
def wal() -> None:
    """Inspect the write-ahead log of a data directory (read-only; safe while a writer runs)."""


@wal.command("ls")
@path_arg
@json_option
@handle_errors
def ls(path: str, as_json: bool) -> None:
    """List the log files of PATH with their LSN ranges, sizes and state."""
    files = list_log(path)
    if as_json:
        print_json([f.to_dict() for f in files])
        return
    click.echo(f"{'FILE':<26} {'FIRST':>9} {'LAST':>9} {'RECORDS':>8} {'SIZE':>10} EPOCH STATUS")
    for f in files:
        status = f.status if f.problem is None else f"{f.status} at offset {f.problem_offset}: {f.problem}"
        click.echo(f"{f.name:<26} {f.first_lsn:>9} {f.last_lsn:>9} {f.records:>8} {human_bytes(f.size):>10} "
                   f"{f.epoch if f.epoch is not None else '-':>5} {status}")


def _emit(rec: ScannedRecord, names: dict[str, str], vectors: bool, as_json: bool) -> None:
    d = record_dict(rec, names, vectors)
    click.echo(json.dumps(d, ensure_ascii=False) if as_json else record_text(d))


@wal.command("dump")
@path_arg
@_filters
@click.option("--salvage", is_flag=True, help="Report damaged regions and go on reading after them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per record (JSON lines).")
@handle_errors
def dump(path: str, from_lsn: int | None, to_lsn: int | None, collection: str | None, ops: tuple[str, ...],
         vectors: bool, salvage: bool, as_json: bool) -> None:
    """Print the records of the log of PATH in LSN order, as text or JSON lines."""
    names = collection_names(path)
    for rec in read_records(path, from_lsn=from_lsn or 1, to_lsn=to_lsn, salvage=salvage,
                            collection=collection, ops=ops):
        _emit(rec, _learn(names, rec), vectors, as_json)


def _learn(names: dict[str, str], rec: ScannedRecord) -> dict[str, str]:
    """Remember collection names from catalog records, so later records show them."""
    r = rec.record
    if isinstance(r, (CreateCollection, ModifyCollection)) and r.name:
        names[r.id] = r.name
    return names


@wal.command("tail")
@path_arg
@_filters
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the last records to print first.")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Keep printing records as they are appended.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              help="Seconds between polls with --follow.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per record (JSON lines).")
@handle_errors
def tail(path: str, from_lsn: int | None, to_lsn: int | None, collection: str | None, ops: tuple[str, ...],
         vectors: bool, count: int, follow_: bool, interval: float, as_json: bool) -> None:
    """Print the last records of the log of PATH; with -f, follow a log another process writes."""
    names = collection_names(path)
    recs = last_records(path, count, from_lsn=from_lsn, to_lsn=to_lsn, collection=collection, ops=ops)
    for rec in recs:
        _emit(rec, _learn(names, rec), vectors, as_json)
    files = list_log(path)
    last = files[-1].last_lsn if files else 0
    if not follow_:
        return
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__("now", True))
    try:
        for rec in follow(path, last + 1, poll_interval=interval, stop=lambda: stopping["now"],
                          collection=collection, ops=ops):
            _emit(rec, _learn(names, rec), vectors, as_json)
    except KeyboardInterrupt:
        pass
