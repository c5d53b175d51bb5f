"""Run one fuzz target under atheris (libFuzzer): ``python fuzz/run.py TARGET [libFuzzer args]``.

Examples::

    python fuzz/run.py manifest -max_total_time=600 build/fuzz/manifest fuzz/corpus/manifest
    python fuzz/run.py --list

The first corpus directory given receives new inputs; pass a scratch directory first and the
checked-in corpus second so the repository is not modified. A crash is written to
``crash-<sha1>`` in the working directory (or ``-artifact_prefix=``); turn it into a file under
``fuzz/regressions/<target>/`` once fixed.
"""

from __future__ import annotations

import logging
import os
import sys

import atheris
import structlog

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["sedimentdb"]):
    import targets  # noqa: E402


def main() -> None:
    """Parse the target name, hand the rest of argv to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        print("targets:", " ".join(targets.TARGETS))
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] == "--list" else 2)
    name = sys.argv[1]
    # The server logs every request (and a traceback per 500): silence it in this process,
    # or most of the fuzzing time goes to printing.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.disable(logging.CRITICAL)

    def one_input(data: bytes) -> None:
        targets.run_one(name, data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
