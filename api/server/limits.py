"""Bounds on the work of one request, and a query that does not hold the engine for its whole length.

* Writes: at most ``MAX_BATCH_SIZE`` records (what ``/pre-flight-checks`` announces); over
  it, 400 ``InvalidArgumentError`` naming both numbers (it was a 500).
* Queries: at most ``MAX_QUERY_VECTORS`` query embeddings, and at most ``MAX_QUERY_RESULTS``
  results in all, counted as query embeddings x ``min(n_results, records in the collection)``
  (asking for more neighbours than there are records costs no more than asking for all).
  One request with 20,000 query vectors took 25 s (issue 16, item 10).
* A query runs in chunks of ``QUERY_CHUNK_VECTORS`` query vectors. The engine holds its lock
  for one search call, so one call for every vector kept a concurrent 1-row get waiting for
  the whole query; between chunks other requests get the engine. Each query vector still
  sees one consistent state; vectors of different chunks may see writes that landed between
  them, as two separate requests would.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sedimentdb.server.error_responses import HTTPProblem
from sedimentdb.validation import MAX_BATCH_SIZE

MAX_QUERY_VECTORS = MAX_BATCH_SIZE
MAX_QUERY_RESULTS = 100_000
# SEDIMENT_QUERY_CHUNK_VECTORS sets it (0: one engine call per query, the old behaviour, for
# bench/query_fairness.py's before/after figures).
QUERY_CHUNK_VECTORS = int(os.environ.get("SEDIMENT_QUERY_CHUNK_VECTORS", "32"))
PER_QUERY = ("ids", "embeddings", "documents", "uris", "data", "metadatas", "distances")  # one entry per vector


def check_write_batch(n: int) -> None:
    """Refuse a write of more records than ``/pre-flight-checks`` allows (Chroma's clients check it too)."""
    if n > MAX_BATCH_SIZE:
        raise HTTPProblem(400, "InvalidArgumentError",
                          f"Batch size {n} exceeds maximum batch size {MAX_BATCH_SIZE} (max_batch_size of "
                          "/api/v2/pre-flight-checks): split the records into batches")


def check_query_work(n_vectors: int, n_results: int, records: int) -> None:
    """Refuse a query whose work is over the documented bounds."""
    if n_vectors > MAX_QUERY_VECTORS:
        raise HTTPProblem(400, "InvalidArgumentError",
                          f"Query of {n_vectors} query embeddings exceeds the maximum of {MAX_QUERY_VECTORS} per "
                          "request: split the query embeddings into batches")
    results = n_vectors * min(n_results, records)
    if results > MAX_QUERY_RESULTS:
        raise HTTPProblem(400, "InvalidArgumentError",
                          f"Query of {n_vectors} query embeddings x {min(n_results, records)} results = {results} "
                          f"results exceeds the maximum of {MAX_QUERY_RESULTS} per request: ask for fewer "
                          "results or split the query embeddings into batches")


def chunked_query(collection: Any, query_embeddings: list[Any], **kwargs: Any) -> dict[str, Any]:
    """``collection.query`` over chunks of the query vectors, results joined as one answer."""
    if QUERY_CHUNK_VECTORS <= 0 or len(query_embeddings) <= QUERY_CHUNK_VECTORS:
        return dict(collection.query(query_embeddings=query_embeddings, **kwargs))
    joined: dict[str, Any] = {}
    for start in range(0, len(query_embeddings), QUERY_CHUNK_VECTORS):
        if start:
            time.sleep(0)  # let a request waiting for the engine take it before the next chunk
        part = dict(collection.query(query_embeddings=query_embeddings[start:start + QUERY_CHUNK_VECTORS],
                                     **kwargs))
        for key, value in part.items():
            if key in PER_QUERY and value is not None:
                joined.setdefault(key, []).extend(value)
            else:
                joined.setdefault(key, value)  # included, and the columns not asked for (None)
    return joined
