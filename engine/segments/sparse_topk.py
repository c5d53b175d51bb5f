"""Exact sparse top-k over one part's inverted lists, with max-score pruning.

A sparse ``Knn`` wants the ``k`` rows with the smallest score ``1 - q·v`` among the allowed rows
that share a dimension with the query. Reading every list of the query's dimensions costs the
total length of those lists: with BM25 on ordinary text a common word lists most of the
collection, so that was work proportional to N on every query. Max-score pruning (Turtle and
Flood 1995, as in Lucene's MaxScoreBulkScorer) skips most of it and stays exact:

- each list ``t`` has an upper bound ``U_t`` on what it adds to a row's dot product
  (``max(0, q_t·max v)`` for ``q_t ≥ 0``, ``max(0, q_t·min v)`` otherwise; a row absent from the
  list gets 0);
- once ``k`` rows are scored exactly, the ``k``-th best score ``θ`` is known to be reached; a row
  found only in lists whose bounds sum to less than ``1 - θ`` cannot be in the top ``k``, so
  those lists (the longest first) are *non-essential*: their rows are never enumerated, only
  looked up (binary search) for the rows the other lists bring;
- lists are made essential shortest first, one at a time, and every row they bring is scored in
  full, until every essential list has been read.

A row's dot product is still the sum over the query's dimensions in ascending order, each
product added in float64 (as :meth:`SparsePostings.dots` does), so scores are bit-equal to the
exhaustive computation. When pruning cannot pay (the essential lists are most of the postings),
the rest is done exhaustively with one ``bincount``, which gives the same sums in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sedimentdb.engine.segments.sparse import SparsePostings

EMPTY_ROWS = np.zeros(0, dtype=np.int64)
EMPTY_DOTS = np.zeros(0, dtype=np.float64)
# Bounds are sums of rounded products: widened by this much (relative), a pruning decision
# holds whatever order the dot products' additions ran in.
BOUND_SLACK = 1e-9
# Scoring a row from lookups costs about this many postings read in one exhaustive pass, per
# list the row is looked up in (a binary search against one add in a bincount).
LOOKUP_COST = 3


@dataclass(frozen=True)
class _Term:
    """One query dimension that has a list: its slice of the postings and its bound."""

    lo: int
    hi: int
    q: float
    bound: float

    @property
    def length(self) -> int:
        return self.hi - self.lo


def sparse_top(postings: SparsePostings, indices: Sequence[int], values: Sequence[float], k: int,
               allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, dot products) of the allowed rows sharing a dimension with the query whose score
    ``1 - dot`` is at most the ``k``-th smallest such score: the part's top ``k``, with every row
    tied with the last of them. Rows ascending within no set order; exact, float64."""
    terms = _terms(postings, indices, values)
    if not terms or k <= 0:
        return EMPTY_ROWS, EMPTY_DOTS
    if len(terms) == 1:  # one list: its rows are the candidates, no sum to build
        t = terms[0]
        rows = postings.rows[t.lo:t.hi]
        keep = allowed[rows]
        return _best(rows[keep], t.q * postings.values[t.lo:t.hi][keep], k)
    return _pruned(postings, terms, k, allowed)


def _terms(postings: SparsePostings, indices: Sequence[int], values: Sequence[float]) -> list[_Term]:
    """The query's dimensions that have a list, in ascending dimension order (the order sums run in)."""
    highs, lows = postings.list_max, postings.list_min
    out = []
    for j, q in postings.lists_of(indices, values):
        reach = q * (float(highs[j]) if q >= 0 else float(lows[j]))
        out.append(_Term(int(postings.starts[j]), int(postings.starts[j + 1]), q, max(0.0, reach)))
    return out


def _pruned(postings: SparsePostings, terms: list[_Term], k: int,
            allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = sum(t.length for t in terms)
    read: list[int] = []  # terms whose every allowed row has been scored
    rows_parts: list[np.ndarray] = []
    dots_parts: list[np.ndarray] = []
    scored = 0
    worst = np.inf  # the k-th smallest score so far (inf until k rows are scored)
    spent = 0  # postings enumerated so far; each costs a lookup in every other list
    done = ~allowed  # rows never to score again: not allowed, or scored already
    while True:
        todo = [i for i in _essential(terms, worst) if i not in read]
        if not todo:
            break
        nxt = todo[0]
        spent += terms[nxt].length
        if spent * LOOKUP_COST * (len(terms) - 1) > total:  # pruning no longer pays: read every list once
            return _best(*_exhaustive(postings, terms, allowed), k)
        rows, dots = _score_new_rows(postings, terms, nxt, read, done)
        read.append(nxt)
        if len(rows):
            rows_parts.append(rows)
            dots_parts.append(dots)
            scored += len(rows)
        if scored >= k:
            all_dots = np.concatenate(dots_parts)
            rows_parts, dots_parts = [np.concatenate(rows_parts)], [all_dots]
            worst = float(np.partition(1.0 - all_dots, k - 1)[k - 1])
    if not rows_parts:
        return EMPTY_ROWS, EMPTY_DOTS
    return _best(np.concatenate(rows_parts), np.concatenate(dots_parts), k)


def _essential(terms: list[_Term], worst: float) -> list[int]:
    """Terms a top-k row may be found in only: all but the longest lists whose bounds together
    stay short of ``1 - worst`` (a row in those alone scores worse than ``worst``); shortest first."""
    by_length = sorted(range(len(terms)), key=lambda i: terms[i].length)
    reach = 0.0
    while by_length:
        reach += terms[by_length[-1]].bound
        # 1 - dot for any dot up to the widened bound stays strictly above the k-th score.
        if not 1.0 - (reach * (1 + BOUND_SLACK) + BOUND_SLACK) > worst:
            break
        by_length.pop()
    return by_length


def _score_new_rows(postings: SparsePostings, terms: list[_Term], nxt: int, read: list[int],
                    done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact dot products of the allowed rows of list ``nxt`` not scored yet (``done``: the rows
    scored so far, every allowed row of the lists ``read``). Such a row is in none of those
    lists, so it is looked up in the unread lists only; ``done`` then gains list ``nxt``."""
    t = terms[nxt]
    rows = postings.rows[t.lo:t.hi]
    fresh = ~done[rows]
    done[rows] = True
    rows = rows[fresh]
    acc = np.zeros(len(rows), dtype=np.float64)
    for i, s in enumerate(terms):  # ascending dimension order: the order every sum runs in
        if i == nxt:
            acc += s.q * postings.values[t.lo:t.hi][fresh]
        elif i not in read:
            listed = postings.rows[s.lo:s.hi]
            at = np.searchsorted(listed, rows)
            np.minimum(at, len(listed) - 1, out=at)
            present = listed[at] == rows
            acc[present] += s.q * postings.values[s.lo:s.hi][at[present]]
    return rows, acc


def _exhaustive(postings: SparsePostings, terms: list[_Term], allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every allowed row of every list, summed by one bincount over the lists concatenated in
    ascending dimension order (bincount adds in array order: the same sums as the lookups)."""
    rows = np.concatenate([postings.rows[t.lo:t.hi] for t in terms])
    weights = np.concatenate([t.q * postings.values[t.lo:t.hi] for t in terms])
    acc = np.bincount(rows, weights=weights, minlength=postings.n)
    touched = np.zeros(postings.n, dtype=bool)
    touched[rows] = True
    found = np.flatnonzero(touched & allowed)
    return found, acc[found]


def _best(rows: np.ndarray, dots: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose score ``1 - dot`` is at most the k-th smallest (ties kept)."""
    if len(rows) <= k:
        return rows, dots
    scores = 1.0 - dots
    keep = scores <= np.partition(scores, k - 1)[k - 1]
    return rows[keep], dots[keep]
