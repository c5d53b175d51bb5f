"""Tunable settings of a :class:`~sedimentdb.engine.database.Database`."""

from __future__ import annotations

from dataclasses import dataclass

DURABILITY_MODES = ("full", "normal", "off")
# Tail rows a query may have to scan before a write indexes them (see max_unindexed_rows).
DEFAULT_MAX_UNINDEXED_ROWS = 2048


@dataclass(frozen=True)
class DatabaseOptions:
    """How a database writes, compacts and retains.

    durability: ``full`` acknowledges a write after fdatasync (group commit); ``normal``
    fdatasyncs every ``sync_interval_ms`` (a power loss may lose the last interval, a process
    crash loses nothing); ``off`` never syncs. recovery_mode: ``strict`` refuses to open when a
    damaged log record is followed by valid ones; ``point_in_time`` cuts the newest log file at
    its first damaged record (keeping a copy), for disks that reorder unsynced writes.
    """

    durability: str = "full"
    sync_interval_ms: int = 200
    wal_roll_bytes: int = 64 * 1024 * 1024
    background_compaction: bool = True
    compact_tail_records: int = 20_000
    compact_tail_bytes: int = 64 * 1024 * 1024
    compact_tail_age_s: float = 600.0
    max_segments_per_collection: int = 8
    # No compaction job writes a segment of more rows than this (bigger outputs are split),
    # and no job rewrites more than about this many existing rows: every job's memory
    # (hnswlib's copy of the old and the new rows, the gathered columns) is bounded by it.
    # Lucene and Qdrant cap segment size for the same reason. Past
    # max_segments_per_collection × this many live rows the cap is the collection's live
    # rows / max_segments_per_collection instead, so a query's fan-out stays bounded too
    # (compactor/policy.py: segment_cap).
    max_segment_records: int = 50_000
    # A segment is rewritten once more than this share of its rows is dead: space
    # amplification stays near 1.1, as with leveled compaction in LevelDB and RocksDB.
    vacuum_deleted_fraction: float = 0.1
    # 1: the newest manifest, read back after it is written, is the only one kept (LevelDB and
    # RocksDB keep one MANIFEST). 2 or more also keeps the previous generations, their
    # segments and the log they replay from, so a newest manifest damaged later can fall back
    # to its predecessor, at the cost of up to a whole extra generation of segments on disk.
    keep_manifests: int = 1
    # N > 0: a write that leaves more than N of its collection's log-tail rows in no graph
    # indexes them on its own thread, on every core, before it returns
    # (indexer.catch_up): no query scans more than about N rows beyond the graphs (plus a
    # concurrent batch), and ingest runs at the indexing rate, as in Chroma. 2,048 rows
    # scan in about a quarter of a millisecond of CPU with dim 384 (bench/README.md, "No
    # waiting after writes, by default"). 0: writes never index (acknowledged at log speed,
    # for bulk loads); the background indexer alone catches up and queries scan the rest.
    max_unindexed_rows: int = DEFAULT_MAX_UNINDEXED_ROWS
    retain_wal: bool = False
    # ReadLevel.INDEX_AND_BOUNDED_WAL reads the segments plus at most this many of a
    # collection's log records after its checkpoint (engine/read_levels.py).
    bounded_wal_records: int = 1000
    read_only: bool = False
    recovery_mode: str = "strict"

    def __post_init__(self) -> None:
        if self.durability not in DURABILITY_MODES:
            raise ValueError(
                f"durability must be one of {', '.join(DURABILITY_MODES)}, got {self.durability!r}"
            )
        for name in ("sync_interval_ms", "wal_roll_bytes", "compact_tail_records", "compact_tail_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_segment_records < 2:
            raise ValueError(f"max_segment_records must be at least 2, got {self.max_segment_records!r}")
        if self.max_segments_per_collection < 1:
            raise ValueError("max_segments_per_collection must be at least 1")
        if not 0.0 < self.vacuum_deleted_fraction <= 1.0:
            raise ValueError("vacuum_deleted_fraction must be in (0, 1]")
        if self.recovery_mode not in ("strict", "point_in_time"):
            raise ValueError(f"recovery_mode must be strict or point_in_time, got {self.recovery_mode!r}")
        if isinstance(self.max_unindexed_rows, bool) or not isinstance(self.max_unindexed_rows, int) \
                or self.max_unindexed_rows < 0:
            raise ValueError("max_unindexed_rows must be a whole number, 0 (writes never index) or positive, "
                             f"got {self.max_unindexed_rows!r}")
        if self.bounded_wal_records < 0:
            raise ValueError(f"bounded_wal_records must be 0 or positive, got {self.bounded_wal_records!r}")
        if self.keep_manifests < 1:
            raise ValueError(f"keep_manifests must be at least 1, got {self.keep_manifests!r}")
