"""Segment rows against the log records that wrote them: the content part of ``sediment verify``.

Every segment row stores the LSN of the write that made it (its version). While the log still
holds that record, the row's id, vector, document, metadata and URI must be the record's.
"""

from __future__ import annotations

import os
from typing import Any

from sedimentdb.engine.collection import strip_none
from sedimentdb.engine.compactor.check import CheckedSegment
from sedimentdb.engine.problem import ERROR, Problem
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.wal.records import WriteBatch, WriteOp


def rows_by_version(segments: list[CheckedSegment]) -> dict[int, list[tuple[CheckedSegment, int]]]:
    """LSN -> the segment rows whose stored version is that LSN."""
    needs: dict[int, list[tuple[CheckedSegment, int]]] = {}
    for sc in segments:
        for row, v in enumerate(sc.segment.versions.tolist()):
            needs.setdefault(int(v), []).append((sc, row))
    return needs


def check_rows(rec: Any, lsn: int, rows: list[tuple[CheckedSegment, int]]) -> list[Problem]:
    """What differs between the decoded log record ``rec`` at ``lsn`` and the segment ``rows`` it wrote."""
    problems: list[Problem] = []
    for sc, row in rows:
        seg = sc.segment
        sid, rid = seg.descriptor.segment_id, seg.ids[row]

        def bad(message: str, fname: str) -> None:
            problems.append(Problem(ERROR, "content", message, os.path.join(seg.path, fname), None, lsn))  # noqa: B023

        if not isinstance(rec, WriteBatch) or rec.collection_id not in (sc.writers or {sc.cid}):
            bad(f"segment {sid} row {row} (id {rid!r}) says LSN {lsn} wrote it, but that log record is not a "
                "write to this collection", SF.FILE_ROWS)
            continue
        try:
            i = rec.ids.index(rid)
        except ValueError:
            bad(f"segment {sid} row {row}: id {rid!r} is not in the log record at LSN {lsn}", SF.FILE_ROWS)
            continue
        if rec.embeddings is not None and rec.embeddings[i].tobytes() != seg.vectors[row].tobytes():
            bad(f"segment {sid} row {row} (id {rid!r}): vector differs from the log", SF.FILE_VECTORS)
        if rec.op == WriteOp.ADD:
            for what, want, got, fname in _columns(rec, i, seg, row):
                if want != got and not _both_nan(want, got):
                    bad(f"segment {sid} row {row} (id {rid!r}): {what} differs from the log", fname)
    return problems


def _columns(rec: WriteBatch, i: int, seg: Any, row: int) -> list[tuple[str, Any, Any, str]]:
    """(what, in the log, in the segment, segment file) of the row's stored columns."""
    doc = rec.documents[i] if rec.documents is not None else None
    meta = strip_none(rec.metadatas[i]) if rec.metadatas is not None else None
    uri = rec.uris[i] if rec.uris is not None else None
    return [("document", doc, seg.document(row), SF.FILE_DOCUMENTS),
            ("metadata", meta, seg.metadata(row), SF.FILE_METADATA),
            ("uri", uri, seg.uri(row), SF.FILE_URIS)]


def _both_nan(a: Any, b: Any) -> bool:
    return a != a and b != b  # noqa: PLR0124 - NaN metadata values compare unequal to themselves
