"""Record validation with Chroma's exact rules and messages (reference chroma-api.md §3-§4).

Chroma validates in two layers and so do we, in the same order: the Python client layer
(types, lengths, duplicate ids; ``ValueError``/``TypeError``/``DuplicateIDError``, message
suffixed with ``" in {op}."`` by :func:`validation_context`) runs first, then the server layer
(empty ids, NaN, dimensions, reserved metadata keys, batch size; ``InvalidArgumentError`` /
``InternalError`` without the suffix). Everything runs before the engine is called, so a
rejected call writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from sedimentdb import errors
from sedimentdb.types import INCLUDE_VALUES

META_KEY_CHROMA_DOCUMENT = "chroma:document"
MAX_BATCH_SIZE = 5461  # SQLite's 32766 bound variables // 6, what local Chroma 1.x reports
EMBEDDING_DTYPES = (np.float16, np.float32, np.float64, np.int32, np.int64)
INSERT_FIELDS = ("ids", "metadatas", "embeddings", "documents", "images", "uris")
BASE_FIELDS = ("embeddings", "documents", "images", "uris")


class _ValidationContext:
    """The context manager :func:`validation_context` returns (a class rather than a
    generator: every call, queries included, runs one)."""

    __slots__ = ("op",)

    def __init__(self, op: str) -> None:
        self.op = op

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, Exception):  # the exception goes on, its message extended
            exc.args = (f"{exc} in {self.op}.",) + exc.args[1:] if exc.args else ()


def validation_context(op: str) -> _ValidationContext:
    """Append ``" in {op}."`` to any error raised inside, keeping its class (Chroma's decorator)."""
    return _ValidationContext(op)


def maybe_many(target: Any) -> list[Any] | None:
    """``x`` -> ``[x]``; lists and ``None`` pass through (Chroma's ``maybe_cast_one_to_many``)."""
    if target is None or isinstance(target, list):
        return target
    return [target]


# ---- embeddings ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalize_embeddings(target: Any) -> list[np.ndarray] | None:
    """One or many embeddings (lists, 1-D/2-D arrays, lists of arrays) as a list of 1-D arrays."""
    if target is None:
        return None
    if len(target) == 0:
        raise ValueError(f"Expected Embeddings to be non-empty list or numpy array, got {target}")
    if isinstance(target, np.ndarray):
        if target.ndim == 1:
            return [target]
        if target.ndim == 2:
            return list(target)
    elif isinstance(target, list):
        first = target[0]
        if _is_number(first):
            return [np.array(target, dtype=np.float32)]
        if isinstance(first, np.ndarray):
            return target
        # An empty first row raises IndexError here, as it does in Chroma.
        if isinstance(first, list) and _is_number(first[0]):
            return [np.array(row, dtype=np.float32) for row in target]
    raise ValueError(
        "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array, "
        f"or a list of numpy arrays, got {target}"
    )


def plain_embeddings(target: Any) -> np.ndarray | None:
    """The float32 (n, dim) matrix of a plain batch of query embeddings, or None.

    Plain: a 1-D or 2-D numpy array of an accepted dtype, or a non-empty list of non-empty
    lists of numbers, all of one length. For those, :func:`normalize_embeddings`,
    :func:`validate_base_record_set` and ``stack_embeddings(check_finite=False)`` accept and
    produce exactly this (the same float32 conversion of the same values), so a query need not
    run them one row at a time. Anything else gives None: the full checks then run and raise
    their own errors.
    """
    if isinstance(target, np.ndarray):
        if target.ndim not in (1, 2) or target.size == 0 or target.dtype not in EMBEDDING_DTYPES:
            return None
        with np.errstate(over="ignore", invalid="ignore"):  # as stack_embeddings
            return np.ascontiguousarray(target.reshape(1, -1) if target.ndim == 1 else target, dtype=np.float32)
    if isinstance(target, list) and target:
        first = target[0]
        if isinstance(first, list) and first and _is_number(first[0]):
            try:
                matrix = np.array(target, dtype=np.float32)  # each row converted as normalize_embeddings does
            except (ValueError, TypeError):
                return None
            if matrix.ndim == 2 and matrix.shape[1] > 0:
                return matrix
    return None


def validate_embedding(embedding: np.ndarray, position: int = 0) -> np.ndarray:
    """One embedding (already known to be an array): 1-D, non-empty, of a numeric dtype."""
    if embedding.ndim != 1:
        raise ValueError(f"Expected a 1-dimensional array, got a {embedding.ndim}-dimensional array {embedding}")
    if embedding.size == 0:
        raise ValueError(
            "Expected each embedding in the embeddings to be a 1-dimensional numpy array with at least 1 int/float "
            f"value. Got a 1-dimensional numpy array with no values at pos {position}"
        )
    if embedding.dtype not in EMBEDDING_DTYPES:
        raise ValueError(
            "Expected each value in the embedding to be a int or float, got an embedding with "
            f"{embedding.dtype} - {embedding}"
        )
    return embedding


def validate_embeddings(embeddings: Any) -> list[np.ndarray]:
    """A non-empty list of valid embeddings (chromadb 1.5.9's messages)."""
    if not isinstance(embeddings, list):
        raise ValueError(f"Expected embeddings to be a list, got {type(embeddings).__name__}")
    if len(embeddings) == 0:
        raise ValueError(
            f"Expected embeddings to be a list with at least one item, got {len(embeddings)} embeddings"
        )
    if not all(isinstance(e, np.ndarray) for e in embeddings):
        kinds = sorted({type(e).__name__ for e in embeddings})  # Chroma's order is a set's: arbitrary
        raise ValueError(f"Expected each embedding in the embeddings to be a numpy array, got {kinds}")
    for i, embedding in enumerate(embeddings):
        validate_embedding(embedding, i)
    return embeddings


# ---- ids, documents, images ---------------------------------------------------------------


def validate_ids(ids: Any) -> list[str]:
    """A non-empty list of distinct strings."""
    if not isinstance(ids, list):
        raise ValueError(f"Expected IDs to be a list, got {type(ids).__name__} as IDs")
    if len(ids) == 0:
        raise ValueError(f"Expected IDs to be a non-empty list, got {len(ids)} IDs")
    seen: set[str] = set()
    dups: dict[str, None] = {}
    for id_ in ids:
        if not isinstance(id_, str):
            raise ValueError(f"Expected ID to be a str, got {id_}")
        if id_ in seen:
            dups[id_] = None
        seen.add(id_)
    if dups:
        raise errors.DuplicateIDError(_duplicates_message(list(dups)))
    return ids


def _duplicates_message(dups: list[str]) -> str:
    if len(dups) < 10:
        return f"Expected IDs to be unique, found duplicates of: {', '.join(dups)}"
    examples = dups[:11]
    shown = f"{', '.join(examples[:5])}, ..., {', '.join(examples[-5:])}"
    return f"Expected IDs to be unique, found {len(dups)} duplicated IDs: {shown}"


def validate_documents(documents: Any, nullable: bool = False) -> None:
    """A non-empty list of strings (``None`` allowed when embeddings are supplied)."""
    if not isinstance(documents, list):
        raise ValueError(f"Expected documents to be a list, got {type(documents).__name__}")
    if len(documents) == 0:
        raise ValueError(f"Expected documents to be a non-empty list, got {len(documents)} documents")
    for document in documents:
        if document is None and nullable:
            continue
        if not isinstance(document, str):
            raise ValueError(f"Expected document to be a str, got {document}")


def validate_images(images: Any) -> None:
    """A non-empty list of numpy arrays of at least two dimensions."""
    if not isinstance(images, list):
        raise ValueError(f"Expected images to be a list, got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"Expected images to be a non-empty list, got {len(images)} images")
    for image in images:
        if not isinstance(image, np.ndarray) or image.ndim < 2:
            raise ValueError(f"Expected image to be a numpy array, got {image}")


# ---- metadata -----------------------------------------------------------------------------


def is_sparse_vector(value: Any) -> bool:
    """A Chroma SparseVector, as an object or in its ``{"#type": "sparse_vector"}`` dict form."""
    if isinstance(value, dict):
        return value.get("#type") == "sparse_vector"
    return type(value).__name__ == "SparseVector"


def _validate_list_value(key: str, value: list[Any]) -> None:
    if len(value) == 0:
        raise ValueError(f"Expected metadata list value for key '{key}' to be non-empty")
    if not all(isinstance(v, (str, int, float)) for v in value) or len({type(v) for v in value}) != 1:
        raise ValueError(
            f"Expected metadata list value for key '{key}' to contain only str, int, float, or bool "
            f"and all elements must be the same type, got {value}"
        )


def validate_metadata(metadata: Any) -> Any:
    """``None`` or a non-empty dict of str keys to scalars, homogeneous lists or ``None``."""
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"Expected metadata to be a dict or None, got {type(metadata).__name__} as metadata")
    if metadata is None:
        return metadata
    if len(metadata) == 0:
        raise ValueError(f"Expected metadata to be a non-empty dict, got {len(metadata)} metadata attributes")
    for key, value in metadata.items():
        if key == META_KEY_CHROMA_DOCUMENT:
            raise ValueError(f"Expected metadata to not contain the reserved key {META_KEY_CHROMA_DOCUMENT}")
        if not isinstance(key, str):
            raise TypeError(f"Expected metadata key to be a str, got {key} which is a {type(key).__name__}")
        if isinstance(value, list):
            _validate_list_value(key, value)
        elif not (value is None or isinstance(value, (str, int, float)) or is_sparse_vector(value)):
            raise ValueError(
                "Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, "
                f"got {value} which is a {type(value).__name__}"
            )
    return metadata


def normalize_metadatas(metadatas: Any) -> list[Any] | None:
    """One or many metadata dicts as a list; reading each like Chroma does (a non-dict fails on ``.items``)."""
    unpacked = maybe_many(metadatas)
    for metadata in unpacked or []:
        if metadata is not None:
            metadata.items()
    return unpacked


def validate_metadatas(metadatas: Any) -> list[Any]:
    """A list of valid metadata dicts (or ``None`` entries)."""
    if not isinstance(metadatas, list):
        raise ValueError(f"Expected metadatas to be a list, got {metadatas}")
    for metadata in metadatas:
        validate_metadata(metadata)
    return metadatas


# ---- record sets --------------------------------------------------------------------------


def validate_lengths(record_set: dict[str, Any]) -> None:
    """Something given, nothing empty, everything the same length (Chroma's field order)."""
    given = {k: v for k, v in record_set.items() if v is not None}
    if not given:
        raise ValueError(f"At least one of one of {', '.join(record_set)} must be provided")
    empty = [k for k, v in given.items() if len(v) == 0]
    if empty:
        raise ValueError(f"Non-empty lists are required for {empty}")
    if len({len(v) for v in given.values()}) > 1:
        raise ValueError("Unequal lengths for fields: " + ", ".join(f"{k}: {len(v)}" for k, v in given.items()))


def validate_base_record_set(record_set: dict[str, Any]) -> None:
    """Lengths, embeddings, documents and images of a record set."""
    validate_lengths(record_set)
    if record_set["embeddings"] is not None:
        validate_embeddings(record_set["embeddings"])
    if record_set["documents"] is not None:
        validate_documents(record_set["documents"], nullable=record_set["embeddings"] is not None)
    if record_set["images"] is not None:
        validate_images(record_set["images"])


def validate_insert_record_set(record_set: dict[str, Any]) -> None:
    """A base record set plus ids and metadatas."""
    validate_base_record_set(record_set)
    validate_ids(record_set["ids"])
    if record_set["metadatas"] is not None:
        validate_metadatas(record_set["metadatas"])


def require_one_embeddable(record_set: dict[str, Any], fields: tuple[str, ...]) -> str:
    """The single field to embed when no embeddings were given; ValueError unless exactly one is."""
    present = [f for f in fields if record_set.get(f) is not None]
    if len(present) != 1:
        raise ValueError(f"Exactly one of {', '.join(fields)} must be provided")
    return present[0]


# ---- reads --------------------------------------------------------------------------------


def validate_include(include: Any, disallowed: tuple[str, ...] = ()) -> None:
    """A list of known include values, none of ``disallowed``."""
    if not isinstance(include, list):
        raise ValueError(f"Expected include to be a list, got {include}")
    for item in include:
        if not isinstance(item, str):
            raise ValueError(f"Expected include item to be a str, got {item}")
        value = item.value if hasattr(item, "value") else item
        if value not in INCLUDE_VALUES:
            raise ValueError(f"Expected include item to be one of {', '.join(INCLUDE_VALUES)}, got {value}")
        if value in disallowed:
            raise ValueError(f"Include item cannot be one of {', '.join(disallowed)}, got {value}")


def validate_n_results(n_results: Any) -> int:
    """A positive int (zero or negative is a TypeError, as in Chroma)."""
    if not isinstance(n_results, int):
        raise ValueError(f"Expected requested number of results to be a int, got {n_results}")
    if n_results <= 0:
        raise TypeError(f"Number of requested results {n_results}, cannot be negative, or zero.")
    return n_results


def validate_unsigned(value: Any) -> int | None:
    """``limit``/``offset``: ``None`` or a non-negative int (Rust takes a u32)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if value < 0:
        raise OverflowError("out of range integral type conversion attempted")
    return value


# ---- the server layer ---------------------------------------------------------------------


def check_batch_size(n: int, max_batch_size: int = MAX_BATCH_SIZE) -> None:
    """Local Chroma rejects batches above the log's bound-variable limit."""
    if n > max_batch_size:
        raise errors.InternalError(f"ValueError: Batch size of {n} is greater than max batch size of {max_batch_size}")


def check_ids_server(ids: list[str]) -> None:
    """The server refuses empty ids."""
    if any(id_ == "" for id_ in ids):
        raise errors.InvalidArgumentError("Empty ID, ID must have at least one character")


def _strings(value: Any) -> Iterator[str]:
    """The strings in a field value: itself, a list's items, a dict's keys and values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def check_utf8(field: str, values: list[Any] | None) -> None:
    """Strings UTF-8 cannot encode (lone surrogates) are refused, as Chroma's bindings refuse them.

    Such a string could be stored and read back in-process, but never served over HTTP or
    exported as JSON: a record holding one would become unreadable there (finding F-10).
    The error is the ``UnicodeEncodeError`` Chroma raises, with the field and index added.
    """
    for index, value in enumerate(values or []):
        for text in _strings(value):
            if text.isascii():
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise UnicodeEncodeError(exc.encoding, exc.object, exc.start, exc.end,
                                         f"{exc.reason} (in {field}[{index}])") from None


def stack_embeddings(embeddings: list[np.ndarray], check_finite: bool = True) -> np.ndarray:
    """The server's checks on a batch of vectors, then the float32 (n, dim) array the engine takes.

    Values beyond float32's range become infinite when stored, so they count as infinite.
    """
    dims = {e.shape[0] for e in embeddings}
    if 0 in dims:
        raise errors.InvalidArgumentError("Each embedding must have at least 1 dimension")
    if len(dims) > 1:
        raise errors.InvalidArgumentError("Inconsistent dimensions in provided embeddings")
    with np.errstate(over="ignore", invalid="ignore"):
        matrix = np.ascontiguousarray(np.stack(embeddings), dtype=np.float32)
    if check_finite and not np.isfinite(matrix).all():
        raise errors.InvalidArgumentError("Validation error: embeddings: Embeddings must not contain NaN or Infinity values")
    return matrix


def copy_metadatas(metadatas: list[Any] | None) -> list[Any] | None:
    """Private copies, so a caller mutating its dicts (or lists in them) later changes nothing stored."""
    if metadatas is None:
        return None
    return [copy_metadata(m) for m in metadatas]


def copy_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """A private copy of one metadata dict, the lists in it included."""
    if metadata is None:
        return None
    return {k: list(v) if isinstance(v, list) else v for k, v in metadata.items()}


def check_finite_metadata_value(field: str, key: str, value: Any, index: int | None = None) -> None:
    """NaN and infinities cannot be stored: JSON has no such numbers, so they came back as null.

    Chroma's server refuses them when parsing the request; embedded, the same rule holds so a
    value never changes silently between the write and the read (issue 16, item 11).
    """
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            at = f" at index {index}" if index is not None else ""
            raise errors.InvalidArgumentError(
                f"Validation error: {field}: Invalid metadata{at}: the value of key '{key}' is {item}; "
                "NaN and Infinity cannot be stored"
            )


UNCONVERTIBLE_METADATA = "argument 'metadatas': Cannot convert Python object to MetadataValue"


def check_metadatas_server(metadatas: list[Any] | None, op: str) -> None:
    """What the server refuses in record metadata.

    Keys must be non-empty and not start with ``#`` or ``$``. ``None`` in an add, where it cannot
    mean "delete this key", fails to convert. Sparse vectors are checked by
    :func:`sedimentdb.sparse_vectors.to_wire` (Chroma single-node refuses them; SedimentDB stores
    and indexes them, docs/COMPATIBILITY.md).
    """
    for index, metadata in enumerate(metadatas or []):
        for key, value in (metadata or {}).items():
            if key == "" or key[0] in "#$":
                raise errors.InvalidArgumentError(f"Validation error: metadatas: Invalid metadata at index {index}")
            check_finite_metadata_value("metadatas", key, value, index)
            if value is None and op == "add":
                raise TypeError(UNCONVERTIBLE_METADATA)


def check_collection_metadata(metadata: Any) -> None:
    """What the server refuses in collection metadata (the client does not check it on create)."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise TypeError("argument 'metadata': 'dict' object cannot be converted")
    if len(metadata) == 0:
        raise errors.InvalidArgumentError("Validation error: metadata: Metadata cannot be empty")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError("argument 'metadata': 'str' object cannot be converted")
        if value is None or not isinstance(value, (str, int, float)):
            raise TypeError("argument 'metadata': Cannot convert Python object to MetadataValue")
        if key == "" or key[0] in "#$":
            raise errors.InvalidArgumentError(f"Validation error: metadata: Metadata key cannot start with '#' or '$': {key}")
        check_finite_metadata_value("metadata", key, value)
    check_utf8("metadata", [metadata])
