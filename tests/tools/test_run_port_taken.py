"""`sediment run` on a port another server holds: one clear line and exit 1, before the database opens."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from sedimentdb.tools.cli import cli


def test_a_taken_port_is_refused_before_the_database_opens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It used to open the engine, print "Connect to SedimentDB at: …", log uvicorn's bind error
    and exit 3, the tools' code for "another process holds the data directory"."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        res = CliRunner().invoke(cli, ["run", "--path", str(tmp_path / "db"), "--host", "127.0.0.1",
                                       "--port", str(port)])
    assert res.exit_code == 1, res.output
    assert f"cannot listen on 127.0.0.1:{port}" in res.output and "--port" in res.output
    assert "Connect to SedimentDB" not in res.output
    assert not (tmp_path / "db").exists()
