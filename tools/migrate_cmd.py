"""``sediment migrate-from-chroma``: turn a Chroma persist directory into a SedimentDB database."""

from __future__ import annotations

import json

import click

from sedimentdb.tools.chroma import ChromaSourceError, DamagedSourceError, SourceBusyError
from sedimentdb.tools.clihelpers import (
    EXIT_DAMAGED,
    EXIT_LOCKED,
    EXIT_PROBLEMS,
    TerminalProgress,
    fail,
    handle_errors,
    human_bytes,
)
from sedimentdb.tools.ops.migrate import MigrationSummary, migrate_from_chroma


def _print_text(s: MigrationSummary) -> None:
    verb = "would import" if s.dry_run else "imported"
    click.echo(f"source {s.source} ({s.format}, {human_bytes(s.source_bytes)})")
    for c in s.collections:
        click.echo(f"  {c['tenant']}/{c['database']}/{c['name']}: {c['records']} records, dimension "
                   f"{c['dimension']}, {c['space']}, {human_bytes(c['embedding_bytes'])} of embeddings")
    for k in s.skipped:
        ids = f" ({len(k['ids'])} records: {', '.join(map(str, k['ids'][:5]))})" if k.get("ids") else ""
        click.echo(f"  LEFT OUT from {k['collection']}{ids}: {k['problem']}")
    click.echo(f"{verb} {s.records} records in {len(s.collections)} collection(s)"
               + ("" if s.dry_run else f" into {s.dest}, verified ({s.seconds:.1f}s)"))


@click.command("migrate-from-chroma")
@click.argument("chroma_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("dest", type=click.Path())
@click.option("--dry-run", is_flag=True, help="Only print what would be imported (collections, counts, sizes).")
@click.option("--skip-damaged", is_flag=True,
              help="Import what is readable; leave out damaged collections and records, and list them.")
@click.option("--verify-queries", type=click.IntRange(min=0), default=20, show_default=True,
              help="Queries per collection checked against exact distances after the import.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handle_errors
def migrate_command(chroma_dir: str, dest: str, dry_run: bool, skip_damaged: bool, verify_queries: int,
                    as_json: bool) -> None:
    """Migrate the Chroma persist directory CHROMA_DIR into a new SedimentDB database at DEST.

    Needs no chromadb. CHROMA_DIR is opened read-only and never modified; DEST must not exist
    or be empty. The database is built beside DEST, verified against the source (counts,
    record digests, exact-distance queries), then moved into place. Exit 3 when a Chroma
    process is writing the source, 4 when it is damaged (unless --skip-damaged).
    """
    progress = TerminalProgress()
    try:
        summary = migrate_from_chroma(chroma_dir, dest, dry_run=dry_run, skip_damaged=skip_damaged,
                                      sample_queries=verify_queries, progress=progress)
    except SourceBusyError as exc:
        progress.close()
        fail(f"refusing: {exc}", EXIT_LOCKED)
    except ChromaSourceError as exc:
        progress.close()
        fail(f"cannot migrate: {exc}", EXIT_DAMAGED if isinstance(exc, DamagedSourceError) else EXIT_PROBLEMS)
    progress.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_text(summary)
