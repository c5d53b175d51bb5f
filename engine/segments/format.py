"""Every constant of the segment file format, in one place (see FORMAT.md).

Numbers here are written to disk: never renumber or reuse one, only add new ones.
"""

from __future__ import annotations

import struct

# Every segment file starts with this magic; the trailing newline catches text-mode mangling.
MAGIC = b"SDMTSEG\n"
# The last four bytes of every file, after the body checksum: a truncated file lacks them.
END_MAGIC = b"SEND"
FORMAT_VERSION = 1
# Graph files from this version on hold hnswlib's level-0 records without their vector bytes;
# the reader refills them from vectors.f32 (FORMAT.md, graph.hnsw). Every other kind is still
# written as version 1, and version-1 graph files (vectors inside) are still read.
FORMAT_VERSION_GRAPH_STRIPPED = 2

# File kinds (u16 in the header). A file of the wrong kind under a name is a swapped file.
KIND_VECTORS = 1
KIND_ROWS = 2
KIND_DOCUMENTS = 3
KIND_METADATA = 4
KIND_URIS = 5
KIND_GRAPH = 6
KIND_DELETES = 7
KIND_SUMMARY = 8
KIND_FILTER = 9
KIND_SPARSE = 10

# The newest format version a reader understands, per kind (FORMAT_VERSION when not listed).
# A file newer than this is a FormatVersionError: an older build must refuse a stripped graph
# rather than hand hnswlib a state without vectors.
NEWEST_VERSION_OF_KIND = {KIND_GRAPH: FORMAT_VERSION_GRAPH_STRIPPED}

# File names inside a segment directory, by kind.
FILE_VECTORS = "vectors.f32"
FILE_ROWS = "rows.bin"
FILE_DOCUMENTS = "documents.col"
FILE_METADATA = "metadata.col"
FILE_URIS = "uris.col"
FILE_GRAPH = "graph.hnsw"
FILE_SUMMARY = "segment.json"
FILE_FILTER = "filter.idx"
FILE_SPARSE = "sparse.idx"

KIND_OF_FILE = {
    FILE_VECTORS: KIND_VECTORS,
    FILE_ROWS: KIND_ROWS,
    FILE_DOCUMENTS: KIND_DOCUMENTS,
    FILE_METADATA: KIND_METADATA,
    FILE_URIS: KIND_URIS,
    FILE_GRAPH: KIND_GRAPH,
    FILE_SUMMARY: KIND_SUMMARY,
    FILE_FILTER: KIND_FILTER,
    FILE_SPARSE: KIND_SPARSE,
}

# Files every segment has; the graph is optional (small segments are searched exactly), and
# the filter index is optional for readers (rebuilt from metadata.col when absent), and the
# sparse index is written only when some record holds a sparse vector.
REQUIRED_FILES = (FILE_VECTORS, FILE_ROWS, FILE_DOCUMENTS, FILE_METADATA, FILE_URIS, FILE_SUMMARY)

# Header: magic, version, kind, header size, count, dim, flags, min LSN, max LSN,
# segment id length, collection id length; then the two ids (UTF-8) and a crc32c.
HEADER_FIXED = struct.Struct("<8sHHIQIIQQHH")
HEADER_CRC = struct.Struct("<I")
# Headers are padded with zeros to a multiple of this, so bodies start aligned.
HEADER_ALIGN = 64
# Trailer: body size, crc32c of the body, END_MAGIC.
TRAILER = struct.Struct("<QI4s")

# Space codes are not stored (the space is a string in the header's summary); the graph
# body carries hnswlib's own serialisation version so a newer hnswlib can be detected.
SPACES = ("l2", "ip", "cosine")

# String columns (ids, documents, URIs, metadata JSON) and the filter index: a codec header.
COLUMN_HEADER = struct.Struct("<B7xQ")  # codec, padding, size of the uncompressed payload
CODEC_RAW = 0
CODEC_ZSTD = 1
ZSTD_LEVEL = 3
# zstd is kept only when it saves at least this fraction of the payload.
ZSTD_MIN_SAVING = 0.10
# Payloads smaller than this are never compressed (the frame overhead would dominate).
ZSTD_MIN_SIZE = 256

# Graph body: u32 length of the JSON parameter block, the block, then the arrays, 8-aligned.
GRAPH_PARAMS_LEN = struct.Struct("<I")
ARRAY_ALIGN = 8

# Rows body: ordinals (u64) then versions (u64), then the ids string column.
U64 = "<u8"
F32 = "<f4"
