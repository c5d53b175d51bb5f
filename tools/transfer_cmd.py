"""``sediment export`` and ``sediment import``: move collections as JSON lines without re-embedding."""

from __future__ import annotations

import json
import sys

import click

from sedimentdb.tools.clihelpers import TerminalProgress, handle_errors, print_json
from sedimentdb.tools.ops.transfer import ENCODINGS, IF_EXISTS, export_collections, import_collections

batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
                            help="Records per batch (bounds memory).")


@click.command("export")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--collection", "collections", multiple=True,
              help="Export only this collection (name or id; repeatable). Default: all.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="File to write the JSON lines to ('-' = stdout).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="float", show_default=True,
              help="Embeddings as exact JSON numbers (float) or base64 of little-endian float32.")
@batch_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (on stderr when writing to stdout).")
@handle_errors
def export_command(path: str, collections: tuple[str, ...], output, encoding: str, batch_size: int,  # type: ignore[no-untyped-def]
                   as_json: bool) -> None:
    """Export collections of PATH as JSON lines: a header per collection, then its records.

    Read-only (works while another process writes). The round trip through `sediment import`
    is bit-exact: ids, embeddings, documents, metadata, URIs and collection configuration.
    """
    progress = TerminalProgress()
    summary = export_collections(path, output, collections or None, batch_size=batch_size, encoding=encoding,
                                 progress=progress)
    progress.close()
    output.flush()
    to_stderr = getattr(output, "name", "") in ("<stdout>", "-")
    if as_json:
        click.echo(json.dumps(summary.to_dict()), err=to_stderr)
    else:
        click.echo(f"exported {summary.records} records from {len(summary.collections)} collection(s)",
                   err=to_stderr or output is sys.stdout)


@click.command("import")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--tenant", default=None, help="Import into this tenant instead of the one in the file.")
@click.option("--database", default=None, help="Import into this database instead of the one in the file.")
@click.option("--if-exists", type=click.Choice(IF_EXISTS), default="fail", show_default=True,
              help="When a collection of that name exists: fail, append the records, or skip it.")
@batch_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handle_errors
def import_command(path: str, file, tenant: str | None, database: str | None, if_exists: str,  # type: ignore[no-untyped-def]
                   batch_size: int, as_json: bool) -> None:
    """Import the JSON lines in FILE ('-' = stdin) into PATH (created if missing).

    Takes the writer lock: refuses (exit 3) when another process holds PATH.
    """
    progress = TerminalProgress()
    summary = import_collections(path, file, tenant=tenant, database=database, if_exists=if_exists,
                                 batch_size=batch_size, progress=progress)
    progress.close()
    if as_json:
        print_json(summary.to_dict())
    else:
        for c in summary.collections:
            click.echo(f"  {c['name']}: {'skipped (exists)' if c['skipped'] else str(c['records']) + ' records'}")
        click.echo(f"imported {summary.records} records into {len(summary.collections)} collection(s)")
