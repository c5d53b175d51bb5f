"""Checks of a segment's files against its descriptor, and reading a damaged segment's sound
files back: the segment part of ``sediment verify`` and ``sediment repair``.

Beside the format (FORMAT.md): which files a segment must have, that each file has the size
and CRC-32C its descriptor records, that its envelope decodes (checksums, kind, identity),
which files are derived (rebuilt from the raw data) and how the raw data reads back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import crc32c
import numpy as np

from sedimentdb.engine.problem import ERROR, Problem
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.segments.bodies import decode_metadata, decode_rows, decode_vectors
from sedimentdb.engine.segments.descriptor import SegmentData, SegmentDescriptor
from sedimentdb.engine.segments.framing import Identity, decode_file
from sedimentdb.engine.segments.strings import StringColumn
from sedimentdb.engine.storage_errors import StorageError

# Files rebuilt from the raw vectors and rows (a segment whose only damage is here is rebuilt).
DERIVED_FILES = frozenset({SF.FILE_GRAPH, SF.FILE_SUMMARY, SF.FILE_FILTER, SF.FILE_SPARSE})


@dataclass
class SegmentFilesCheck:
    """What :func:`check_segment_files` found in one segment."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # files looked at

    @property
    def sound(self) -> bool:
        """No problem found."""
        return not self.problems

    def damaged_files(self) -> set[str]:
        """Names of the files a problem was found in."""
        return {os.path.basename(p.file or "") for p in self.problems}


def identity_of(desc: SegmentDescriptor) -> Identity:
    """The identity every file of the segment ``desc`` must carry."""
    return Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)


def check_segment_files(base: str, desc: SegmentDescriptor, severity: str = ERROR) -> SegmentFilesCheck:
    """Check every file of one segment of the data directory ``base`` against its descriptor."""
    segpath = os.path.join(base, "segments", desc.segment_id)
    found = SegmentFilesCheck()
    for name in SF.REQUIRED_FILES:
        if name not in desc.files:
            found.problems.append(Problem(severity, "segment", f"descriptor lists no {name}",
                                          os.path.join(segpath, name)))
    for name, expected in sorted(desc.files.items()):
        found.files += 1
        _check_file(os.path.join(segpath, name), name, expected, identity_of(desc), severity, found.problems)
    return found


def _check_file(fpath: str, name: str, expected: dict[str, int], ident: Identity, severity: str,
                problems: list[Problem]) -> None:
    def bad(message: str, offset: int | None = None) -> None:
        problems.append(Problem(severity, "segment", message, fpath, offset))

    kind = SF.KIND_OF_FILE.get(name)
    if kind is None:
        return bad(f"descriptor lists an unknown file {name!r}")
    try:
        with open(fpath, "rb") as f:
            data = f.read()
    except OSError as exc:
        return bad(f"file cannot be read: {exc.strerror}")
    if len(data) != expected["size"]:
        return bad(f"file is {len(data)} bytes, the manifest says {expected['size']}", min(len(data), expected["size"]))
    if crc32c.crc32c(data) != expected["crc32c"]:
        bad("file checksum does not match the manifest", 0)
    try:
        decode_file(fpath, data, kind, ident)
    except StorageError as exc:
        bad(exc.message, exc.offset)
    return None


def read_body(segpath: str, name: str, desc: SegmentDescriptor) -> memoryview:
    """The checked body of file ``name`` of the segment at ``segpath`` (StorageError, OSError)."""
    with open(os.path.join(segpath, name), "rb") as f:
        data = f.read()
    return decode_file(os.path.join(segpath, name), data, SF.KIND_OF_FILE[name], identity_of(desc))


def read_ids(segpath: str, desc: SegmentDescriptor) -> list[str] | None:
    """The ids of the segment's rows, in row order; None when its rows file does not read."""
    try:
        ids, _ordinals, _versions = decode_rows(segpath, read_body(segpath, SF.FILE_ROWS, desc), desc.count)
    except (StorageError, OSError):
        return None
    return list(ids)


def read_segment_data(segpath: str, desc: SegmentDescriptor) -> SegmentData:
    """Everything a segment holds, from its data files only (never the derived ones): what a
    rebuild writes into a new segment."""
    vectors = decode_vectors(segpath, read_body(segpath, SF.FILE_VECTORS, desc), desc.count, desc.dim)
    ids, ordinals, versions = decode_rows(segpath, read_body(segpath, SF.FILE_ROWS, desc), desc.count)
    cols = {name: StringColumn(os.path.join(segpath, name), read_body(segpath, name, desc), desc.count).all()
            for name in (SF.FILE_DOCUMENTS, SF.FILE_METADATA, SF.FILE_URIS)}
    return SegmentData(ids=list(ids), ordinals=np.asarray(ordinals, dtype=np.uint64),
                       versions=np.asarray(versions, dtype=np.uint64), vectors=np.array(vectors, dtype=np.float32),
                       documents=cols[SF.FILE_DOCUMENTS],
                       metadatas=[decode_metadata(segpath, t) for t in cols[SF.FILE_METADATA]],
                       uris=cols[SF.FILE_URIS])
