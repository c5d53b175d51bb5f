"""When to turn a tail into a segment, and which segments to merge or rewrite.

Pure functions of sizes and ages, so the policy is tested without files.
"""

from __future__ import annotations

from dataclasses import dataclass

from sedimentdb.engine.options import DatabaseOptions


@dataclass(frozen=True)
class SegmentStats:
    """What the policy needs to know of one sealed segment."""

    rows: int
    live: int
    # Big enough for a graph but written without one (a bulk ingest): rewritten with one.
    needs_graph: bool = False

    @property
    def deleted_fraction(self) -> float:
        """Share of rows deleted since the segment was written."""
        return 1.0 - self.live / self.rows if self.rows else 1.0


def should_flush(live_rows: int, rows: int, nbytes: int, age_s: float, opts: DatabaseOptions) -> bool:
    """Whether the active tail should become a segment now."""
    if rows == 0:
        return False
    if live_rows >= opts.compact_tail_records or nbytes >= opts.compact_tail_bytes:
        return True
    return age_s >= opts.compact_tail_age_s


def segment_cap(live_rows: int, opts: DatabaseOptions) -> int:
    """Most rows a compaction job writes to one segment (and about the most it rewrites).

    ``max_segment_records`` bounds a job's memory; past ``max_segments_per_collection`` such
    segments the cap grows with the collection, so a query searches about that many graphs
    whatever the collection's size (at 1M rows, 20 graphs of 50k made a query 13 times
    slower than at 100k). A job's memory then stays a fixed share of the collection's.
    """
    return max(opts.max_segment_records, -(-live_rows // opts.max_segments_per_collection))


def pick_inputs(stats: list[SegmentStats], adding: int, opts: DatabaseOptions, cap: int | None = None) -> list[int]:
    """Indices of segments to merge into the next output.

    Empty segments, those past the vacuum threshold and those that need a graph are always
    rewritten. When the count
    of small segments (live rows under half of ``cap``, by default ``max_segment_records``;
    bigger ones are done growing), including ``adding`` new outputs, exceeds
    ``max_segments_per_collection``, the smallest merge so the count drops to about half of
    it (tiered merging).
    """
    cap = opts.max_segment_records if cap is None else cap
    chosen = {i for i, s in enumerate(stats)
              if s.live == 0 or s.deleted_fraction > opts.vacuum_deleted_fraction or s.needs_graph}
    small = [i for i in range(len(stats)) if i not in chosen and stats[i].live < cap // 2]
    remaining = len(small) + adding
    if remaining > opts.max_segments_per_collection:
        target = max(1, opts.max_segments_per_collection // 2)
        by_size = sorted(small, key=lambda i: stats[i].live)
        extra = remaining - target + 1
        chosen.update(by_size[: max(2, extra)])
    return sorted(chosen)


# Growth into the largest segment starts once a collection has more segments than this
# share of ``max_segments_per_collection`` (so a query searches one large graph and a few
# small ones) ...
GROW_AT_SHARE = 0.5
# ... and the other segments together hold at least this fraction of the largest one's live
# rows: each growth rewrites the largest segment, so at 10M rows it waits for 625k new ones
# (write amplification about 1 / GROW_FRACTION) while the tiered merges keep the small
# segments few meanwhile.
GROW_FRACTION = 1 / 16


def pick_growth(stats: list[SegmentStats], adding: int, opts: DatabaseOptions, everything: bool = False) -> list[int]:
    """Indices of the segments to merge into the largest one (the largest included), or []
    when this is not the time.

    A growth job loads the largest segment's graph and adds the other segments' rows to it
    (hnswlib resize + add, writer.build_seeded_graph), instead of rebuilding: one output,
    whatever its size. ``everything`` (``compact()`` on demand) grows whenever the others
    hold that fraction, however few they are, so a compacted collection is about one graph
    (a few rows more are left beside it rather than rewriting the largest). The largest segment past the
    vacuum threshold is rewritten by a growth job too (its dropped rows' nodes are reused).
    """
    if len(stats) < 2 and not (stats and stats[0].deleted_fraction > opts.vacuum_deleted_fraction):
        return []
    base = max(range(len(stats)), key=lambda i: (stats[i].live, -i))
    others = sum(s.live for i, s in enumerate(stats) if i != base)
    vacuum_base = stats[base].deleted_fraction > opts.vacuum_deleted_fraction
    many = len(stats) + adding > max(2, int(GROW_AT_SHARE * opts.max_segments_per_collection))
    worth = others >= GROW_FRACTION * stats[base].live
    if vacuum_base or (worth and (many or everything)):
        return list(range(len(stats)))
    return []
