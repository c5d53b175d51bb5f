"""The ``sediment`` click group; each command family registers from its own module.

Registration is one ``cli.add_command`` line per family (at the bottom), so adding a family
is a one-line change.
"""

from __future__ import annotations

import click

from sedimentdb import CHROMA_API_VERSION, __version__
from sedimentdb.engine.extras import MissingExtraError
from sedimentdb.tools.clihelpers import EXIT_PROBLEMS, fail
from sedimentdb.tools.compact_cmd import compact_command
from sedimentdb.tools.info_cmd import info
from sedimentdb.tools.logging_setup import configure_logging
from sedimentdb.tools.migrate_cmd import migrate_command
from sedimentdb.tools.repair_cmd import repair_command
from sedimentdb.tools.replicate_cmd import register_replication
from sedimentdb.tools.run_cmd import run
from sedimentdb.tools.transfer_cmd import export_command, import_command
from sedimentdb.tools.verify_cmd import verify_command
from sedimentdb.tools.wal_cmd import wal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sediment",
                      message=f"%(prog)s %(version)s (Chroma API {CHROMA_API_VERSION})")
@click.option("--log-json", is_flag=True, help="Write logs to stderr as JSON lines (level: SEDIMENT_LOG_LEVEL).")
def cli(log_json: bool) -> None:
    """SedimentDB: an embedded vector database with Chroma's API and a crash-safe log."""
    configure_logging(json_logs=log_json)


def main() -> None:
    """Entry point of the ``sediment`` console script.

    A command whose extra is not installed stops with the pip command on stderr (exit 1), for
    every command at once, rather than each command catching it.
    """
    try:
        cli()
    except MissingExtraError as exc:
        fail(str(exc), EXIT_PROBLEMS)


cli.add_command(info)
cli.add_command(wal)
cli.add_command(verify_command)
cli.add_command(compact_command)
cli.add_command(run)
cli.add_command(repair_command)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(migrate_command)
register_replication(cli)
