"""Replication by log shipping: archive, restore, follow, promote, digest (docs/REPLICATION.md).

An archive is a set of write-once, self-verifying objects in a directory or S3 bucket:
log units (the primary's log frames for an LSN range) and snapshots (a manifest plus the
segment files and markers it names). :class:`Shipper` writes them, :func:`restore` rebuilds
a database as of an LSN or time, :class:`Follower` keeps a replica up to date, :func:`promote`
starts a new epoch, :func:`state_digest` proves two databases equal at an LSN.
"""

from sedimentdb.engine.replication.archive import list_archive, verify_archive
from sedimentdb.engine.replication.destination import DirDestination, S3Destination, open_destination
from sedimentdb.engine.replication.digest import Digest, state_digest
from sedimentdb.engine.replication.follower import (
    Follower,
    ReplicationStopped,
    follow,
    promote,
    read_position,
)
from sedimentdb.engine.replication.restore import RestorePlan, plan_restore, restore
from sedimentdb.engine.replication.shipper import FencedError, Shipper, release_hold, replicate
from sedimentdb.engine.replication.status import replication_status

__all__ = [
    "Digest", "DirDestination", "FencedError", "Follower", "ReplicationStopped", "RestorePlan", "S3Destination",
    "Shipper", "follow", "list_archive", "open_destination", "plan_restore", "promote", "read_position",
    "release_hold", "replicate", "replication_status", "restore", "state_digest", "verify_archive",
]
