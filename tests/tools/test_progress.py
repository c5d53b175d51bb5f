"""Progress goes to stderr, and only when asked (the CLI asks only when stderr is a terminal)."""

from __future__ import annotations

from sedimentdb.tools.clihelpers import TerminalProgress, human_bytes


def test_progress_draws_on_stderr_when_enabled(capsys):
    p = TerminalProgress(enabled=True, min_interval=0)
    p("checking log", 5, 10)
    p("checking log", 10, 10)
    p("compacting", 3, None)
    p.close()
    out = capsys.readouterr()
    assert out.out == ""
    assert "checking log [" in out.err and "10/10 100.0%" in out.err and "compacting 3" in out.err


def test_progress_is_silent_when_not_a_terminal(capsys):
    p = TerminalProgress()  # under pytest stderr is not a terminal
    p("x", 1, 2)
    p.close()
    assert capsys.readouterr().err == ""


def test_human_bytes():
    assert human_bytes(0) == "0 B" and human_bytes(1536) == "1.5 KiB" and human_bytes(3 << 30) == "3.0 GiB"
