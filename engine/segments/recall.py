"""Index quality of a segment's HNSW graph: how many live rows a search for their own vector finds.

HNSW is approximate. Even a freshly built, intact graph leaves a few rows that a search for
their own vector does not reach (about 0.2% of 6,600 64-dim Gaussian rows), so a miss is a
figure of index quality, not damage: damage to the graph file is caught by its checksums
before hnswlib reads a byte. ``sediment verify`` reports these figures as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sedimentdb.engine.segments.segment import Segment

SELF_SEARCH_K = 10
FIRST_EF = 32  # the cheap first pass over every live row
RETRY_EFS = (256, 1000)  # ever wider looks at the rows the first pass missed
RETRY_SHARE = 0.2  # more first-pass misses than this: wider looks would take too long, stop there
CHUNK = 8192


@dataclass
class GraphRecall:
    """How well one segment's graph finds its own live rows."""

    segment_id: str
    rows: int  # live rows searched
    found_first: int  # found by the first pass (ef = ``FIRST_EF``)
    unreachable: list[int] = field(default_factory=list)  # rows not found even at the widest ef tried
    widest_ef: int = FIRST_EF

    @property
    def recall_first(self) -> float:
        """Share of live rows the first pass found (1.0 for an empty segment)."""
        return self.found_first / self.rows if self.rows else 1.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable form."""
        return {"segment": self.segment_id, "rows": self.rows, "first_pass_ef": FIRST_EF,
                "first_pass_recall": round(self.recall_first, 6), "unreachable": len(self.unreachable),
                "widest_ef": self.widest_ef}


def measure_recall(seg: Segment, rows: np.ndarray, progress: object = None) -> GraphRecall:
    """Search ``seg``'s graph for the vector of every row in ``rows`` (its live rows).

    Changes the graph's ef while it runs and puts the segment's own back afterwards; meant for
    a Segment object private to the caller. ``progress(n)`` is called after each chunk.
    """
    result = GraphRecall(seg.descriptor.segment_id, len(rows), 0)
    try:
        misses: list[int] = []
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            misses += self_search_misses(seg, chunk, FIRST_EF)
            if callable(progress):
                progress(len(chunk))
        result.found_first = len(rows) - len(misses)
        for ef in RETRY_EFS:
            if not misses or len(misses) > RETRY_SHARE * len(rows):
                break
            misses = self_search_misses(seg, np.asarray(misses, dtype=np.int64), ef)
            result.widest_ef = ef
        result.unreachable = misses
    finally:
        seg.graph.set_ef(seg.search_ef)
    return result


def self_search_misses(seg: Segment, rows: np.ndarray, ef: int) -> list[int]:
    """Rows (of ``rows``) a graph search for their own vector does not return (twins excepted)."""
    if len(rows) == 0:
        return []
    k = min(SELF_SEARCH_K, seg.count)
    seg.graph.set_ef(max(ef, k))
    labels, dists = seg.graph.knn_query(seg.vectors[rows], k=k)
    found = (labels == rows[:, None]).any(axis=1)
    out = []
    for j in np.flatnonzero(~found):
        row, twin = int(rows[j]), int(labels[j, 0])
        if dists[j, 0] == 0 and seg.vectors[twin].tobytes() == seg.vectors[row].tobytes():
            continue  # an identical vector answered first: the id is still reachable
        out.append(row)
    return out
