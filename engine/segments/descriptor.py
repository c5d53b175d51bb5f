"""The plain data types of segments: their input, their index parameters, their descriptor."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.segments import format as F


def _default_threads() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class HnswParams:
    """HNSW settings of a collection, with Chroma's defaults (chroma-api.md §7)."""

    space: str = "l2"
    M: int = 16
    construction_ef: int = 100
    search_ef: int = 100
    num_threads: int = field(default_factory=_default_threads)

    def __post_init__(self) -> None:
        if self.space not in F.SPACES:
            raise ValueError(f"unknown distance space {self.space!r}; expected one of {', '.join(F.SPACES)}")
        if self.M < 2 or self.construction_ef < 1 or self.search_ef < 1 or self.num_threads < 1:
            raise ValueError(f"invalid HNSW parameters: {self}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HnswParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


@dataclass
class SegmentData:
    """The records a segment is written from, as columns (row i of each belongs together).

    ``ordinals`` orders records by insertion; ``versions`` is the LSN of each record's last
    write. ``documents``, ``metadatas`` and ``uris`` entries may be None. A ``metadatas``
    entry may also be the JSON text a segment stores for it (what a merge copies from a
    segment: decoding it to a dict only to encode it again would cost memory and time).
    """

    ids: list[str]
    ordinals: np.ndarray
    versions: np.ndarray
    vectors: np.ndarray
    documents: list[str | None]
    metadatas: list[dict[str, Any] | str | None]
    uris: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)

    def validate(self) -> None:
        """Raise ValueError unless every column has one entry per id and the right type."""
        n = len(self.ids)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != n or self.vectors.shape[1] < 1:
            raise ValueError(f"vectors must have shape ({n}, dim), got {self.vectors.shape}")
        for name in ("ordinals", "versions"):
            if np.asarray(getattr(self, name)).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        for name in ("documents", "metadatas", "uris"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} ids")
        if len(set(self.ids)) != n:
            raise ValueError("segment ids must be unique")


@dataclass(frozen=True)
class SegmentDescriptor:
    """What the manifest records of a segment: its identity and every file's size and crc32c."""

    segment_id: str
    collection_id: str
    count: int
    dim: int
    space: str
    min_lsn: int
    max_lsn: int
    files: dict[str, dict[str, int]]
    hnsw: dict[str, Any] = field(default_factory=dict)

    @property
    def has_graph(self) -> bool:
        """Whether the segment carries an HNSW graph (small ones are searched exactly)."""
        return F.FILE_GRAPH in self.files

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (plain dicts, ints and strings)."""
        d = asdict(self)
        d["files"] = {k: dict(v) for k, v in sorted(self.files.items())}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentDescriptor:
        """Inverse of :meth:`to_dict`."""
        return cls(
            segment_id=str(d["segment_id"]),
            collection_id=str(d["collection_id"]),
            count=int(d["count"]),
            dim=int(d["dim"]),
            space=str(d["space"]),
            min_lsn=int(d["min_lsn"]),
            max_lsn=int(d["max_lsn"]),
            files={str(k): {"size": int(v["size"]), "crc32c": int(v["crc32c"])} for k, v in d["files"].items()},
            hnsw=dict(d.get("hnsw") or {}),
        )
