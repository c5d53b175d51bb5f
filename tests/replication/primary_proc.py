"""A primary process for the kill tests: writes numbered batches and ships them in a thread.

    python primary_proc.py PATH ARCHIVE ACKFILE

Batch k adds ids ``b<k>_0..4`` to collection ``c``; after each acknowledgement ``k lsn`` is
appended to ACKFILE (flushed), so the test knows what was acknowledged before a kill -9.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from sedimentdb.engine.database import DEFAULT_DATABASE, DEFAULT_TENANT, Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import DirDestination, Shipper
from sedimentdb.engine.storage_errors import AlreadyExistsError


def main(path: str, archive: str, ackfile: str) -> None:
    db = Database.open(path, DatabaseOptions(wal_roll_bytes=16384, compact_tail_records=200))
    try:
        cid = db.create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    except AlreadyExistsError:
        cid = db.get_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "c").id
    shipper = Shipper(path, DirDestination(archive), snapshot_interval=0.5)

    def ship() -> None:
        while True:
            shipper.ship_round()
            time.sleep(0.05)

    threading.Thread(target=ship, daemon=True).start()
    k = db.count(cid) // 5
    with open(ackfile, "a") as ack:
        while True:
            ids = [f"b{k}_{i}" for i in range(5)]
            vecs = np.full((5, 4), float(k), dtype=np.float32)
            lsn = db.add(cid, ids, vecs, documents=[str(k)] * 5)
            ack.write(f"{k} {lsn}\n")
            ack.flush()
            os.fsync(ack.fileno())
            k += 1
            time.sleep(0.002)


if __name__ == "__main__":
    main(*sys.argv[1:4])
