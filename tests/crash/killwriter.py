"""The writer process of the kill -9 harness: ``python killwriter.py DIR SEED START``.

Opens the database in DIR, prints ``READY``, then performs operations START, START+1, ...
of the stream (see killops.py), printing ``ACK <i>`` and flushing after each one returns,
until it is killed.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import structlog  # noqa: E402

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
                    logger_factory=structlog.PrintLoggerFactory(sys.stderr))

import killops  # noqa: E402

from sedimentdb.engine.database import Database  # noqa: E402


def main() -> None:
    """Run the stream until killed."""
    path, seed, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, "sediment-crash/" + killops.COLLECTION))
    db = Database.open(path, killops.options())
    print("READY", flush=True)
    for i in itertools.count(start):
        killops.run_op(db, cid, killops.make_op(seed, i))
        print(f"ACK {i}", flush=True)


if __name__ == "__main__":
    main()
