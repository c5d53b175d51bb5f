"""Check a migrated database against the Chroma snapshot it was built from.

Three checks per collection: the record count; an order-independent digest of every record
(id, float32 embedding bytes, document, metadata, uri) computed on both sides; and a sample
of queries whose answers must carry the exact distances computed, in float64, from the
source vectors (and find at least 95% of the exact nearest neighbours, HNSW being approximate).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from sedimentdb.engine.database import Database
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.segments.bodies import metadata_texts
from sedimentdb.tools.chroma import ChromaCollection

ALL = Include(embeddings=True, documents=True, metadatas=True, uris=True, distances=False)
MIN_RECALL = 0.95


def id_order(ids: list[str]) -> list[int]:
    """Positions of ``ids`` in id order (the order the digest hashes records in)."""
    return sorted(range(len(ids)), key=ids.__getitem__)


@dataclass
class StoredColumns:
    """One collection's records as columns: ids, documents, metadata as stored JSON texts
    (None for none), uris, float32 vectors (n, dim)."""

    ids: list[str]
    documents: list[str | None]
    metadata_texts: list[str | None]
    uris: list[str | None]
    vectors: np.ndarray

    @classmethod
    def of_maps(cls, ids: list[str], vectors: np.ndarray, documents: list, metadatas: list,
                uris: list) -> StoredColumns:
        """Columns whose metadata are maps (as ``get`` returns them), encoded as a segment stores them."""
        return cls(list(ids), list(documents), metadata_texts(list(metadatas)), list(uris), vectors)


def stored_form(texts: list[str | None]) -> list[str | None]:
    """Metadata texts as a segment stores them: an empty map is no metadata, a ``null`` value
    no key (what ``add`` keeps; engine/bulk.stored_metadata). Rare texts are re-encoded."""
    present = [t for t in texts if t is not None] if None in texts else texts
    if "{}" not in present and "null" not in "\n".join(present):  # two searches in C, the usual answer
        return texts
    out = list(texts)
    for k, t in enumerate(out):
        if t is not None and (t == "{}" or "null" in t):
            kept = {key: v for key, v in json.loads(t).items() if v is not None}
            out[k] = metadata_texts([kept])[0] if kept else None
    return out


def digest(ids: list[str], embeddings: np.ndarray, documents: list, metadatas: list, uris: list,
           order: list[int] | None = None) -> str:
    """:func:`column_digest` of records whose metadata are maps (as ``get`` returns them)."""
    cols = StoredColumns.of_maps(ids, embeddings, documents, metadatas, uris)
    return column_digest(cols, order)


def column_digest(cols: StoredColumns, order: list[int] | None = None) -> str:
    """Order-independent digest of records: sha256 over them in id order, column by column.

    First the JSON text of ``[ids, documents, uris]``, then the metadata column as JSON (each
    record's stored text as it is, ``null`` for none: an empty map counts as none, JSON is
    exact and typed, ``1``, ``1.0``, ``true`` and ``"1"`` all differ, floats round-trip), then
    every float32 embedding's bytes. Vectorised: the columns gathered in C, the vectors
    hashed in chunks of rows copied into one reused buffer (not a reordered copy of the whole
    matrix). ``order``: :func:`id_order` of ``cols.ids``, if already known.
    """
    if order is None:
        order = id_order(cols.ids)
    n = len(order)
    texts = stored_form(cols.metadata_texts)
    if n > 1 and order != list(range(n)):
        pick = itemgetter(*order)  # gathers in C, not one Python step per record
        columns = [pick(cols.ids), pick(cols.documents), pick(cols.uris)]
        texts = list(pick(texts))
    else:
        columns = [[cols.ids[k] for k in order], [cols.documents[k] for k in order], [cols.uris[k] for k in order]]
        texts = [texts[k] for k in order]
    text = json.dumps(columns, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
    h = hashlib.sha256(text.encode("ascii"))
    meta = "[" + ",".join(["null" if t is None else t for t in texts] if None in texts else texts) + "]"
    h.update(meta.encode("utf-8", "surrogatepass"))
    _hash_rows(h, cols.vectors, np.asarray(order, dtype=np.int64))
    return h.hexdigest()


# Rows of vectors gathered per hash update: a few MB of buffer at common dimensions.
HASH_ROWS = 4096


def _hash_rows(h: Any, vectors: np.ndarray, order: np.ndarray) -> None:
    """Feed ``vectors[order]`` to ``h`` as little-endian float32 bytes, a chunk at a time."""
    if len(order) == 0:
        return
    v = np.asarray(vectors)
    if v.dtype != np.dtype("<f4"):
        v = v.astype("<f4")
    buf = np.empty((min(HASH_ROWS, len(order)), v.shape[1]), dtype="<f4")
    for start in range(0, len(order), HASH_ROWS):
        at = order[start:start + HASH_ROWS]
        out = buf[:len(at)]
        np.take(v, at, axis=0, out=out)
        h.update(out.data)


def exact_distances(space: str, vectors: np.ndarray, query: np.ndarray, dtype: type = np.float64,
                    norms: np.ndarray | None = None) -> np.ndarray:
    """Chroma's distance from ``query`` to every row of ``vectors`` (float64 unless told).

    ``norms``: the rows' squared norms (l2) or norms (cosine), if already known.
    """
    v = vectors.astype(dtype, copy=False)
    q = query.astype(dtype)
    if space == "l2":
        if dtype == np.float64:
            return ((v - q) ** 2).sum(axis=1)
        return (norms if norms is not None else (v * v).sum(axis=1)) - 2 * (v @ q) + q @ q
    if space == "ip":
        return 1.0 - v @ q
    norms = (norms if norms is not None else np.linalg.norm(v, axis=1)) * np.linalg.norm(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - np.where(norms > 0, (v @ q) / np.where(norms > 0, norms, 1.0), 0.0)


@dataclass
class CollectionCheck:
    """The verification of one collection."""

    name: str
    id: str
    source_count: int
    dest_count: int
    source_digest: str
    dest_digest: str
    queries: int = 0
    recall: float = 1.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"name": self.name, "id": self.id, "source_count": self.source_count,
                "dest_count": self.dest_count, "digest_match": self.source_digest == self.dest_digest,
                "digest": self.dest_digest, "queries": self.queries, "recall": round(self.recall, 4),
                "ok": self.ok, "problems": self.problems}


def _tolerance(dim: int) -> float:
    # Chroma's own invariant (ann_accuracy): 1e-6 x 10^floor(log10(dim)), plus float32 rounding of norms.
    return 1e-5 * 10 ** np.floor(np.log10(max(dim, 1)))


def _rough_distances(space: str, dots: np.ndarray, query: np.ndarray, norms: np.ndarray | None) -> np.ndarray:
    """float32 distances from ``query`` given its dot products with every row and the rows'
    squared norms (l2) or norms (cosine): :func:`exact_distances` in float32, minus the product."""
    if space == "l2":
        assert norms is not None
        return norms - 2 * dots + query @ query
    if space == "ip":
        return 1.0 - dots
    assert norms is not None
    scaled = norms * np.linalg.norm(query)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - np.where(scaled > 0, dots / np.where(scaled > 0, scaled, 1.0), 0.0)


def check_queries(db: Database, col: ChromaCollection, sample: int, seed: int) -> tuple[int, float, list[str]]:
    """Run ``sample`` queries (source vectors as queries); (queries, recall, problems)."""
    n = col.count
    if n == 0 or sample <= 0:
        return 0, 1.0, []
    rng = np.random.default_rng(seed)
    picks = rng.choice(n, size=min(sample, n), replace=False)
    k = min(10, n)
    tol = _tolerance(col.embeddings.shape[1])
    found = wanted = 0
    problems: list[str] = []
    answers = db.query(col.id, col.embeddings[picks], k, include=Include(documents=False, metadatas=False))
    pos = {rid: j for j, rid in enumerate(col.ids)}
    v = col.embeddings
    # Squared norms without a temporary (n, dim) array (einsum sums the products in place).
    squares = np.einsum("ij,ij->i", v, v) if col.space != "ip" else None
    norms = squares if col.space == "l2" else np.sqrt(squares) if squares is not None else None
    # Every query's dot products with every vector in one matrix product (one pass over the
    # vectors instead of one per query).
    dots = v @ v[picks].T
    for j, (q, ans) in enumerate(zip(picks, answers, strict=True)):
        # The exact neighbours from a float32 pass over every vector (loose margin), then the
        # candidates and the answers recomputed in float64: the whole set in float64 per query
        # would cost seconds at 100k x 384.
        rough = _rough_distances(col.space, dots[:, j], v[q], norms)
        kth = np.partition(rough, k - 1)[k - 1]
        margin = 1e-3 * max(1.0, abs(float(kth)))
        near = np.nonzero(rough <= kth + margin)[0]
        exact_near = exact_distances(col.space, col.embeddings[near], col.embeddings[q])
        kth64 = np.partition(exact_near, k - 1)[k - 1]
        truth = {col.ids[j] for j, d in zip(near, exact_near, strict=True) if d <= kth64 + tol}
        unknown = [rid for rid in ans.ids if rid not in pos]
        problems += [f"query {col.ids[q]!r} returned {rid!r}, which the source does not hold" for rid in unknown]
        known = [(rid, dist) for rid, dist in zip(ans.ids, ans.distances or [], strict=True) if rid in pos]
        wants = exact_distances(col.space, v[[pos[rid] for rid, _ in known]], v[q]) if known else []
        for (rid, dist), want in zip(known, wants, strict=True):  # the answers' distances, in one call
            if abs(dist - want) > tol * max(1.0, abs(want)):
                problems.append(f"query {col.ids[q]!r}: {rid!r} at distance {dist}, exact {float(want)}")
        found += len(truth & set(ans.ids))
        wanted += k
    recall = found / wanted if wanted else 1.0
    if recall < MIN_RECALL:
        problems.append(f"query recall {recall:.3f} < {MIN_RECALL}")
    return len(picks), recall, problems[:5]


def source_columns(col: ChromaCollection) -> StoredColumns:
    """The source side of the comparison: the collection's records as the reader holds them."""
    return StoredColumns(col.ids, col.documents, col.current_metadata_texts(), col.uris, col.embeddings)


def compare(check: CollectionCheck, source: StoredColumns, dest: StoredColumns,
            source_digest: str | None = None) -> None:
    """Counts and digests of one collection's two sides, into ``check`` (its problems).
    ``source_digest``: :func:`column_digest` of ``source``, if already computed."""
    check.source_count, check.dest_count = len(source.ids), len(dest.ids)
    order = id_order(source.ids)
    # The same id list (the import keeps the source's order) needs no second sort; the digest
    # still hashes the stored ids, documents, metadata and vectors.
    check.source_digest = source_digest or column_digest(source, order)
    check.dest_digest = column_digest(dest, order if dest.ids == source.ids else None)
    if check.source_count != check.dest_count:
        check.problems.append(f"{check.dest_count} records, the source has {check.source_count}")
    if check.source_digest != check.dest_digest:
        check.problems.append("record digest differs from the source's")


def check_collection_queries(db: Database, col: ChromaCollection, *, sample: int = 20,
                             seed: int = 0) -> CollectionCheck:
    """A check of one migrated collection holding the sample queries' results; the counts
    and digests are added from the files on disk (migrate.check_disk)."""
    check = CollectionCheck(col.name, col.id, col.count, 0, "", "")
    check.queries, check.recall, check.problems = check_queries(db, col, sample, seed)
    return check


def verify_collection(db: Database, col: ChromaCollection, *, sample: int = 20, seed: int = 0) -> CollectionCheck:
    """Compare one migrated collection with its source through the database's read path."""
    got = db.get(col.id, include=ALL)
    dim = col.embeddings.shape[1] if col.embeddings.ndim == 2 else 0
    dest_emb = got.embeddings if got.embeddings is not None else np.zeros((0, dim), dtype=np.float32)
    check = check_collection_queries(db, col, sample=sample, seed=seed)
    problems, check.problems = check.problems, []
    compare(check, source_columns(col), StoredColumns.of_maps(got.ids, dest_emb, got.documents or [],
                                                              got.metadatas or [], got.uris or []))
    check.problems += problems
    return check
