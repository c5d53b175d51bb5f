"""Immutable, checksummed per-collection segments: vectors, HNSW graph, records, filters.

See FORMAT.md in this package for the byte layout of every file.
"""

from sedimentdb.engine.segments.descriptor import HnswParams, SegmentData, SegmentDescriptor
from sedimentdb.engine.segments.markers import read_delete_marker, write_delete_marker
from sedimentdb.engine.segments.segment import Segment
from sedimentdb.engine.segments.writer import FLAT_BELOW, write_segment

__all__ = [
    "FLAT_BELOW",
    "HnswParams",
    "Segment",
    "SegmentData",
    "SegmentDescriptor",
    "read_delete_marker",
    "write_delete_marker",
    "write_segment",
]
