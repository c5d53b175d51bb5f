"""The library never configures logging: without an application's structlog setup, events go
to the stdlib logger of the same name (warnings and up by default), nothing to stdout, and
structlog is not even imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, check=True)


def test_an_unconfigured_application_gets_stdlib_key_value_lines_and_no_structlog(tmp_path):
    out = _run(f"""
        import logging, sys
        import sedimentdb
        from sedimentdb.engine.logkeys import get_logger
        client = sedimentdb.PersistentClient(path={str(tmp_path / 'db')!r})
        client.get_or_create_collection("logs").add(ids=["a"], embeddings=[[1.0, 2.0]])
        print("structlog imported:", "structlog" in sys.modules)
        log = get_logger("sedimentdb.test")
        log.info("not shown by default", path="/x")
        log.warning("shown", path="/x", count=2)
        logging.getLogger("sedimentdb.test").setLevel(logging.DEBUG)
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(levelname)s %(message)s")
        log.debug("now shown", lsn=7)
    """)
    assert out.stdout.strip() == "structlog imported: False"
    assert "event='shown' count=2 path='/x'" in out.stderr
    assert "not shown by default" not in out.stderr
    assert "DEBUG event='now shown' lsn=7" in out.stderr


def test_a_configured_structlog_receives_the_events(tmp_path):
    out = _run("""
        import structlog
        events = []
        def keep(_logger, _name, event_dict):
            events.append(event_dict)
            raise structlog.DropEvent
        structlog.configure(processors=[keep])
        from sedimentdb.engine.logkeys import get_logger
        get_logger("sedimentdb.test").info("hello", lsn=3)
        print(events)
    """)
    assert "'event': 'hello'" in out.stdout and "'lsn': 3" in out.stdout
