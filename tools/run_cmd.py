"""``sediment run``: serve a data directory over Chroma's HTTP API v2.

    sediment run [CONFIG_PATH] [--path ./chroma] [--host localhost] [--port 8000]
                 [--replicate DEST [--replicate-interval 1.0] [--replicate-snapshot-interval 3600]
                  [--replicate-retain-snapshots N]] [--read-only]

Flags win over ``CHROMA_*`` environment variables, which win over the YAML config file
(``CONFIG_PATH``, Chroma 1.x keys), which wins over Chroma's defaults. This entry point is
where logging is configured (the library never does): human-readable lines on a terminal,
JSON otherwise or with ``--log-format json``. SIGINT and SIGTERM stop the server gracefully:
in-flight requests finish (long polls of the archive routes answer at once), then the engine
is closed, so nothing needs repair at next start; with ``--replicate`` a last shipping round
then ships every write acknowledged before the signal.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

import click
import structlog

from sedimentdb.engine.extras import require_extra
from sedimentdb.errors import ChromaError
from sedimentdb.tools.logging_setup import configure_logging

LOG_LEVELS = ("debug", "info", "warning", "error")
# How long an idle keep-alive connection stays open. It must outlast the clients' own idle
# expiry (Chroma's clients and ours keep a pooled connection 40 s: chroma_http_keepalive_secs),
# so the client always drops it first: with uvicorn's default of 5 s, a request sent on a
# connection idle for 5-40 s could meet the server's close and fail with "Connection reset by
# peer" (Chroma's test_multiple_clients_concurrently did, under load).
KEEP_ALIVE_SECONDS = 75


def _configure_logging(level: str, log_format: str | None) -> None:
    """The tools' structlog setup at ``level``; uvicorn's stdlib loggers go to stderr too."""
    numeric = getattr(logging, level.upper())
    json_logs = log_format == "json" or (log_format is None and not sys.stderr.isatty())
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging(json_logs=json_logs, level=numeric)


@click.command("run")
@click.argument("config_path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--path", "persist_path", default=None, help="Data directory [default: ./chroma; env CHROMA_PERSIST_PATH]")
@click.option("--host", default=None, help="Address to listen on [default: localhost; env CHROMA_LISTEN_ADDRESS]")
@click.option("--port", default=None, type=int, help="Port to listen on [default: 8000; env CHROMA_PORT]")
@click.option("--allow-reset/--no-allow-reset", default=None, help="Let clients wipe everything [env CHROMA_ALLOW_RESET]")
@click.option("--max-payload-size-bytes", default=None, type=int,
              help="Largest request body accepted [default: 40 MiB; env CHROMA_MAX_PAYLOAD_SIZE_BYTES]")
@click.option("--replicate", "replicate", default=None, metavar="DEST",
              help="Ship the log and snapshots to this archive in the background (a directory or "
                   "s3://bucket/prefix), and serve it read-only under /api/v2/sediment/archive "
                   "[env SEDIMENT_REPLICATE]")
@click.option("--replicate-interval", default=None, type=float,
              help="Seconds between shipping rounds (the live tail's lag) [default: 1.0; env "
                   "SEDIMENT_REPLICATE_INTERVAL]")
@click.option("--replicate-snapshot-interval", default=None, type=float,
              help="Seconds between snapshots [default: 3600; env SEDIMENT_REPLICATE_SNAPSHOT_INTERVAL]")
@click.option("--replicate-retain-snapshots", default=None, type=int,
              help="Keep only the newest N snapshots in the archive [env SEDIMENT_REPLICATE_RETAIN_SNAPSHOTS]")
@click.option("--read-only/--no-read-only", default=None,
              help="Serve the directory read-only (e.g. a replica kept by `sediment follow`): reads see "
                   "new records as they arrive, writes are refused [env SEDIMENT_READ_ONLY]")
@click.option("--log-level", default="info", type=click.Choice(LOG_LEVELS), show_default=True)
@click.option("--log-format", default=None, type=click.Choice(["console", "json"]),
              help="Log line format [default: console on a terminal, json otherwise]")
def run(config_path: str | None, persist_path: str | None, host: str | None, port: int | None,
        allow_reset: bool | None, max_payload_size_bytes: int | None, replicate: str | None,
        replicate_interval: float | None, replicate_snapshot_interval: float | None,
        replicate_retain_snapshots: int | None, read_only: bool | None, log_level: str,
        log_format: str | None) -> None:
    """Serve a SedimentDB data directory with Chroma's HTTP API (v2)."""
    uvicorn = require_extra("uvicorn", "server", "`sediment run`")
    from sedimentdb.server import ServerConfig, create_app
    from sedimentdb.server.auth import env_secret_free

    _configure_logging(log_level, log_format)
    try:
        config = ServerConfig.resolve(
            {"persist_path": persist_path, "host": host, "port": port, "allow_reset": allow_reset,
             "max_payload_size_bytes": max_payload_size_bytes, "replicate": replicate,
             "replicate_interval": replicate_interval, "replicate_snapshot_interval": replicate_snapshot_interval,
             "replicate_retain_snapshots": replicate_retain_snapshots, "read_only": read_only},
            config_file=config_path,
        )
        _check_port_free(config.host, config.port)
        app = create_app(config)
    except (ChromaError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Saving data to: {os.path.abspath(config.persist_path)}")
    click.echo(f"Connect to SedimentDB at: {config.url}")
    structlog.get_logger("sedimentdb.server").info(
        "server starting", path=os.path.abspath(config.persist_path), url=config.url,
        allow_reset=config.allow_reset, max_payload_size_bytes=config.max_payload_size_bytes,
        replicate=config.replicate, read_only=config.read_only, **env_secret_free(config),
    )
    server = _make_server(uvicorn.Config(
        app, host=config.host, port=config.port, log_config=None, access_log=False,
        log_level=log_level, timeout_graceful_shutdown=10, timeout_keep_alive=KEEP_ALIVE_SECONDS,
    ), app.state.stopping)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM (the lifespan closes the engine), then
    # re-raises the signal to the handler it found; these make that a normal, zero exit.
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        if exc.code == UVICORN_STARTUP_FAILURE:  # the port was taken after the check: exit 1, not 3 ("locked")
            raise click.ClickException(f"could not listen on {config.host}:{config.port} (see the error above)") from None
        raise
    finally:
        structlog.get_logger("sedimentdb.server").info("server stopped", path=os.path.abspath(config.persist_path))


UVICORN_STARTUP_FAILURE = 3  # uvicorn's exit code when it cannot bind; ours means "directory locked"


def _check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once as uvicorn will, before the database opens: a taken port is a
    one-line error (exit 1) instead of an opened and closed engine, a uvicorn log line and exit
    3, which the tools use for "another process holds the data directory"."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror}; another server (perhaps "
                             f"another `sediment run`) uses it: stop it or pass --port N") from None


def _make_server(config: Any, stopping: threading.Event) -> Any:
    """A uvicorn server whose signal handling also tells the app that shutdown began."""
    uvicorn = require_extra("uvicorn", "server", "`sediment run`")

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn waits for open connections before the lifespan shutdown runs; a
            # follower's long poll would hold it for up to 30 s without this.
            stopping.set()
            super().handle_exit(sig, frame)

    return Server(config)


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)
