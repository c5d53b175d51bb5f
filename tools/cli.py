"""The ``sediment`` click group; each command family registers from its own module."""

from __future__ import annotations

import click

from sedimentdb import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sediment")
def cli() -> None:
    """SedimentDB: an embedded vector database with Chroma's API and a crash-safe log."""


def main() -> None:
    """Entry point of the ``sediment`` console script."""
    cli()
