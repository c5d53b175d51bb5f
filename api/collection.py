"""``Collection``: Chroma's record API over one engine collection (chroma-api.md §3, §11).

Each method validates everything first — the client layer inside :func:`validation_context`
(its messages end in ``" in add."`` etc.), then the server layer — and only then calls the
engine, so a rejected call writes nothing. The engine is the client's ``_engine()``, an
:class:`~sedimentdb.engine_protocol.EngineProtocol` (embedded, or remote over HTTP); each
record method makes the engine call of its own name (``add`` calls ``engine.add``).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from sedimentdb import embedding, errors, results
from sedimentdb.collection_config import updated_configuration
from sedimentdb.collection_schema import (
    SCHEMA_KEY,
    check_filters_allowed,
    discover_keys,
    public_configuration,
    schema_json,
)
from sedimentdb.engine.engine_types import CollectionInfo
from sedimentdb.engine.read_levels import check_read_level
from sedimentdb.errors import engine_boundary
from sedimentdb.filters import check_regexes, check_where_server, lift_document_clauses, validate_filters
from sedimentdb.names import validate_collection_name
from sedimentdb.search_plan import EMBEDDING_KEY, embed_rank_queries, parse_search
from sedimentdb.sparse_vectors import (
    check_sparse_value,
    embed_sparse_query,
    embed_sparse_targets,
    from_wire,
    to_wire,
)
from sedimentdb.types import DeleteResult, GetResult, Include, QueryResult, SearchResult
from sedimentdb.validation import (
    check_batch_size,
    check_finite_metadata_value,
    check_ids_server,
    check_metadatas_server,
    check_utf8,
    copy_metadata,
    copy_metadatas,
    maybe_many,
    normalize_embeddings,
    normalize_metadatas,
    plain_embeddings,
    require_one_embeddable,
    stack_embeddings,
    validate_base_record_set,
    validate_ids,
    validate_include,
    validate_insert_record_set,
    validate_metadata,
    validate_n_results,
    validate_unsigned,
    validation_context,
)

if TYPE_CHECKING:
    from sedimentdb.local_clients import Client

DEFAULT_GET_INCLUDE: Include = ["metadatas", "documents"]
DEFAULT_QUERY_INCLUDE: Include = ["metadatas", "documents", "distances"]
PEEK_INCLUDE: Include = ["metadatas", "documents", "embeddings"]
_NOT_LOADED = object()
# Chroma prefixes a deleted collection's "does not exist." with this on writes and queries.
GETTING = "Error getting collection: "


class Collection:
    """A named set of records with one vector space; obtained from a client, never built directly."""

    def __init__(
        self,
        client: Client,
        model: CollectionInfo,
        embedding_function: Any = embedding.DEFAULT,
        data_loader: Any = None,
    ) -> None:
        embedding.validate_signature(embedding_function)
        self._client = client
        self._model = model
        self._embedding_function = embedding_function
        self._data_loader = data_loader
        self._persisted_ef: Any = _NOT_LOADED
        self._sparse_functions: dict[str, Any] = {}  # sparse index key -> its rebuilt function

    # ---- properties -----------------------------------------------------------------------

    @property
    def id(self) -> uuid.UUID:
        """The collection's UUID."""
        return uuid.UUID(self._model.id)

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._model.name

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The collection's metadata (``None`` when it has none)."""
        return dict(self._model.metadata) if self._model.metadata else None

    @property
    def tenant(self) -> str:
        """The tenant the collection lives in."""
        return self._model.tenant

    @property
    def database(self) -> str:
        """The database the collection lives in."""
        return self._model.database

    @property
    def configuration_json(self) -> dict[str, Any]:
        """The stored configuration, as JSON-like data."""
        return public_configuration(self._model.configuration)

    @property
    def configuration(self) -> dict[str, Any]:
        """The configuration with the embedding function rebuilt from its stored description."""
        config = self.configuration_json
        ef = embedding.rebuild(config.get("embedding_function"))
        return {"hnsw": config.get("hnsw"), "spann": config.get("spann"), "embedding_function": embedding.resolve(ef)}

    @property
    def schema(self) -> Any:
        """The collection's schema (Chroma single-node's default, or the one given at create), as a ``Schema``."""
        from sedimentdb.schema import Schema  # the Schema class imports this package's types

        return Schema.deserialize_from_json(schema_json(self._model.configuration))

    def get_model(self) -> CollectionInfo:
        """The engine's description of this collection."""
        return self._model

    def __repr__(self) -> str:
        return f"Collection(name={self.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collection):
            return False
        return (
            self._model == other._model
            and self._embedding_function == other._embedding_function
            and self._data_loader == other._data_loader
        )

    __hash__ = None  # type: ignore[assignment]  # mutable (modify), compared by value

    # ---- writing --------------------------------------------------------------------------

    def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add records; an id that already exists is silently ignored (first write wins)."""
        self._client._require_writable("add")
        with validation_context("add"):
            records = _insert_record_set(ids, embeddings, metadatas, documents, images, uris)
            validate_insert_record_set(records)
            if records["embeddings"] is None:
                field = require_one_embeddable(records, ("documents", "images", "uris"))
                records["embeddings"] = self._embed(records[field], field, is_query=False)
        batch = self._server_checks(records, "add")
        with self._deleted_as(GETTING), engine_boundary():
            self._client._engine().add(
                self._model.id, batch.ids, batch.embeddings, batch.documents, batch.metadatas, batch.uris
            )
            self._learn_metadata_keys(batch.metadatas)

    def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Update existing records (missing ids are ignored); metadata merges, ``None`` deletes a key."""
        self._client._require_writable("update")
        with validation_context("update"):
            records = _insert_record_set(ids, embeddings, metadatas, documents, images, uris)
            validate_insert_record_set(records)
            if records["embeddings"] is None and (records["documents"] is not None or records["images"] is not None):
                field = require_one_embeddable(records, ("documents", "images"))
                records["embeddings"] = self._embed(records[field], field, is_query=False)
        batch = self._server_checks(records, "update")
        with self._deleted_as(GETTING), engine_boundary():
            self._client._engine().update(
                self._model.id, batch.ids, batch.embeddings, batch.documents, batch.metadatas, batch.uris
            )
            self._learn_metadata_keys(batch.metadatas)

    def upsert(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Insert new ids and update existing ones (their metadata merges, as in ``update``)."""
        self._client._require_writable("upsert")
        with validation_context("upsert"):
            records = _insert_record_set(ids, embeddings, metadatas, documents, images, uris)
            validate_insert_record_set(records)
            if records["embeddings"] is None:
                field = require_one_embeddable(records, ("documents", "images"))
                records["embeddings"] = self._embed(records[field], field, is_query=False)
        batch = self._server_checks(records, "upsert")
        with self._deleted_as(GETTING), engine_boundary():
            self._client._engine().upsert(
                self._model.id, batch.ids, batch.embeddings, batch.documents, batch.metadatas, batch.uris
            )
            self._learn_metadata_keys(batch.metadatas)

    def delete(
        self, ids: Any = None, where: Any = None, where_document: Any = None, limit: Any = None
    ) -> DeleteResult:
        """Delete by ids and/or filters (intersected). With ids alone, ``deleted`` counts the ids asked for."""
        self._client._require_writable("delete")
        with validation_context("delete"):
            if ids is None and where is None and where_document is None:
                raise ValueError("At least one of ids, where, or where_document must be provided")
            _check_delete_limit(limit, where, where_document)
            id_list = maybe_many(ids)
            if id_list is not None:
                validate_ids(id_list)
            validate_filters(where, where_document)
        check_where_server(where)
        check_filters_allowed(self._model.configuration, where, where_document)
        check_regexes(where, where_document)
        where, where_document = lift_document_clauses(where, where_document)
        with self._deleted_as(""), engine_boundary():
            deleted = self._client._engine().delete(self._model.id, id_list, where, where_document, limit)
        if where is None and where_document is None and id_list is not None:
            deleted = len(id_list)  # Chroma 1.x reports what was asked, not what existed
        return DeleteResult(deleted=deleted)

    def _server_checks(self, records: dict[str, Any], op: str) -> _CheckedWrite:
        """The server layer's checks of a validated (and embedded) write; the columns the engine takes.

        First, each sparse vector index of the schema fills its key from its source where a record
        lacks it (Chroma's client does this before sending), and sparse vectors take their wire form.
        """
        with validation_context(op):
            metadatas = embed_sparse_targets(self._model.configuration, records["metadatas"], records["documents"],
                                             self._sparse_functions)
        records = {**records, "metadatas": to_wire(metadatas)}
        check_batch_size(len(records["ids"]), self._client.get_max_batch_size())
        check_ids_server(records["ids"])
        matrix = None if records["embeddings"] is None else stack_embeddings(records["embeddings"])
        check_metadatas_server(records["metadatas"], op)
        for field in ("ids", "documents", "metadatas", "uris"):
            check_utf8(field, records[field])
        return _CheckedWrite(
            records["ids"], matrix, records["documents"], copy_metadatas(records["metadatas"]), records["uris"]
        )

    def _learn_metadata_keys(self, metadatas: list[Any] | None) -> None:
        """Metadata keys a write brings join the collection's schema (rare: only a new key changes it)."""
        discovered = discover_keys(self._model.configuration, metadatas)
        if discovered is not None:
            configuration = {**self._model.configuration, SCHEMA_KEY: discovered}
            self._model = self._client._engine().modify_collection(self._model.id, configuration=configuration)

    # ---- reading --------------------------------------------------------------------------

    def count(self, read_level: Any = "index_and_wal") -> int:
        """How many records the collection holds, at ``read_level`` (as ``search``: docs/SEARCH.md)."""
        level = check_read_level("index_and_wal" if read_level is None else read_level)
        with self._deleted_as(""), engine_boundary():
            return self._client._engine().count(self._model.id, level)

    def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: Any = None,
        offset: Any = None,
        where_document: Any = None,
        include: Include = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records matching ids and filters, in insertion order, paged by offset/limit."""
        with validation_context("get"):
            id_list = maybe_many(ids)
            if id_list is not None:
                validate_ids(id_list)
            validate_filters(where, where_document)
            validate_include(include, disallowed=("distances",))
            if "data" in include and self._data_loader is None:
                raise ValueError("You must set a data loader on the collection if loading from URIs.")
        limit = validate_unsigned(limit)
        offset = validate_unsigned(offset) or 0
        check_where_server(where)
        check_filters_allowed(self._model.configuration, where, where_document)
        check_regexes(where, where_document)
        where, where_document = lift_document_clauses(where, where_document)
        with self._deleted_as(""), engine_boundary():
            found = self._client._engine().get(
                self._model.id, id_list, where, where_document, limit, offset,
                results.engine_include(include, with_distances=False),
            )
        return results.to_get_result(found, include, self._data_loader)

    def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records in insertion order, with embeddings."""
        limit = validate_unsigned(limit) or 0
        with self._deleted_as(""), engine_boundary():
            found = self._client._engine().get(
                self._model.id, None, None, None, limit, 0, results.engine_include(PEEK_INCLUDE, False)
            )
        return results.to_get_result(found, PEEK_INCLUDE)

    def query(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Any = None,
        where_document: Any = None,
        include: Include = DEFAULT_QUERY_INCLUDE,
    ) -> QueryResult:
        """The ``n_results`` nearest records per query, nearest first (fewer when fewer match)."""
        if (query_texts is None and query_images is None and query_uris is None and ids is None
                and where is None and where_document is None):
            matrix = plain_embeddings(query_embeddings)
            if matrix is not None:
                # The common query: nothing else below can fail for it (issue 20: its Python kept small).
                with validation_context("query"):
                    validate_include(include)
                    validate_n_results(n_results)
                return self._query_engine(matrix, n_results, None, None, None, include)
        with validation_context("query"):
            records: dict[str, Any] = {
                "embeddings": normalize_embeddings(query_embeddings),
                "documents": maybe_many(query_texts),
                "images": maybe_many(query_images),
                "uris": maybe_many(query_uris),
            }
            filter_ids = maybe_many(ids)
            validate_base_record_set(records)
            validate_filters(where, where_document)
            validate_include(include)
            validate_n_results(n_results)
            if records["embeddings"] is None:
                field = require_one_embeddable(records, ("documents", "images", "uris"))
                records["embeddings"] = self._embed(records[field], field, is_query=True)
        matrix = stack_embeddings(records["embeddings"], check_finite=False)
        check_where_server(where)
        check_filters_allowed(self._model.configuration, where, where_document)
        check_regexes(where, where_document)
        with self._deleted_as(GETTING):
            if filter_ids is not None and where is None and where_document is None:
                self._require_vectors(filter_ids)  # with a filter Chroma pre-filters instead: no error
        where, where_document = lift_document_clauses(where, where_document)
        return self._query_engine(matrix, n_results, where, where_document, filter_ids, include)

    def _query_engine(self, matrix: np.ndarray, n_results: int, where: Any, where_document: Any,
                      filter_ids: list[str] | None, include: Include) -> QueryResult:
        """The engine's answer to a checked query, as a ``QueryResult``."""
        with self._deleted_as(GETTING), engine_boundary():
            found = self._client._engine().query(
                self._model.id, matrix, n_results, where, where_document, filter_ids,
                results.engine_include(include, with_distances=True),
            )
        return results.to_query_result(found, include, self._data_loader)

    @contextmanager
    def _deleted_as(self, prefix: str) -> Iterator[None]:
        """Chroma's words when this handle's collection was deleted: they differ by operation."""
        try:
            yield
        except errors.NotFoundError as exc:
            if str(exc) != f"Collection [{self._model.id}] does not exist":
                raise
            raise errors.NotFoundError(f"{prefix}Collection [{self._model.id}] does not exist.") from None

    def _require_vectors(self, ids: list[str]) -> None:
        """Chroma's HNSW reader fails when a restricting id has no vector (an empty collection has no reader)."""
        nothing = results.engine_include([], with_distances=False)
        with engine_boundary():
            found = self._client._engine().get(self._model.id, list(ids), None, None, None, 0, nothing)
            empty = len(found.ids) == 0 and self._client._engine().count(self._model.id) == 0
        if not empty and len(set(found.ids)) < len(set(ids)):
            raise errors.InternalError("Error executing plan: Internal error: Error finding id")

    # ---- the collection itself ------------------------------------------------------------

    def modify(self, name: str | None = None, metadata: Any = None, configuration: Any = None) -> None:
        """Rename, replace the metadata (not merged), or change runtime HNSW settings."""
        self._client._require_writable("modify")
        if metadata is not None:
            validate_metadata(metadata)
            check_utf8("metadata", [metadata])
            for key, value in metadata.items():
                check_finite_metadata_value("metadata", key, value)
            if "hnsw:space" in metadata:
                raise ValueError(
                    "Changing the distance function of a collection once it is created is not supported currently."
                )
        if name is not None:
            validate_collection_name(name, field="new_name")
        new_configuration = None
        if configuration is not None:
            new_configuration = self._updated_configuration(configuration)
        with engine_boundary():
            self._model = self._client._engine().modify_collection(
                self._model.id, name=name, metadata=copy_metadata(metadata) if metadata else None,
                configuration=new_configuration,
            )
        self._persisted_ef = _NOT_LOADED

    def _updated_configuration(self, update: dict[str, Any]) -> dict[str, Any]:
        config = updated_configuration(self._model.configuration, update)  # the stored schema stays
        if config.get("embedding_function") is None:
            config["embedding_function"] = {"type": "legacy"}  # what Chroma 1.5 stores after a modify
        new_ef = update.get("embedding_function")
        if new_ef is not None:
            config["embedding_function"] = _replace_ef(config.get("embedding_function"), new_ef)
        return config

    def fork(self, new_name: str) -> Collection:
        """A new collection ``new_name`` holding this one's records now (copy-on-write: it shares
        the sealed segment files, so the cost does not grow with the size); later writes to
        either never show in the other. Same embedding function and data loader, as in Chroma."""
        self._client._require_writable("fork")
        validate_collection_name(new_name, field="new_name")
        with engine_boundary():
            model = self._client._engine().fork_collection(self._model.id, new_name)
        return Collection(self._client, model, self._embedding_function, self._data_loader)

    def search(self, searches: Any, read_level: Any = "index_and_wal") -> SearchResult:
        """Chroma's Search API: a batch of searches (filter, rank, group, page, select), column-major.

        ``Knn`` queries given as text are embedded with the collection's function. ``read_level``:
        ``INDEX_AND_WAL`` sees every write; ``INDEX_ONLY`` the compacted segments only;
        ``INDEX_AND_BOUNDED_WAL`` those plus a bounded prefix of the log tail (docs/SEARCH.md).
        """
        batch = searches if isinstance(searches, list) else [searches]
        payloads = [self._embedded_search(s) for s in batch]
        result = self.search_payloads(payloads, read_level)
        if result.get("metadatas") is not None:  # sparse vectors as SparseVector, as Chroma's client gives them
            result["metadatas"] = [None if column is None else [from_wire(m) for m in column]
                                   for column in result["metadatas"]]
        return result

    def search_payloads(self, payloads: list[Any], read_level: Any = "index_and_wal") -> SearchResult:
        """``search`` over Chroma's wire dictionaries (the HTTP route's entry)."""
        level = check_read_level(read_level)
        if not isinstance(payloads, list):
            raise TypeError(f"searches must be a list, got {type(payloads).__name__}")
        plans = [parse_search(p) for p in payloads]
        with engine_boundary():
            return SearchResult(self._client._search(self._model.id, payloads, plans, level))

    def _embedded_search(self, search: Any) -> dict[str, Any]:
        if not hasattr(search, "to_dict"):
            raise TypeError(f"Expected a Search, got {type(search).__name__}")
        payload = dict(search.to_dict())
        if payload.get("rank") is not None:
            payload["rank"] = embed_rank_queries(payload["rank"], self._embed_knn_text)
        return payload

    def _embed_knn_text(self, text: str, key: str) -> Any:
        """A text ``Knn`` query: a sparse key's function embeds it to a sparse wire dict, else the
        collection's (dense) function to a vector."""
        vector = embed_sparse_query(self._model.configuration, key, text, self._sparse_functions)
        if vector is not None:
            return check_sparse_value("query", key, vector)
        if key != EMBEDDING_KEY:  # Chroma's words; the schema decides which keys embed text
            raise ValueError(f"Cannot embed string query for key '{key}': no embedding function configured for "
                             "this key in the schema. Please provide an embedded vector or configure an "
                             "embedding function.")
        return self._embed([text], "documents", True)[0]

    def fork_count(self) -> int:
        """Forks made in this collection's lineage: its root and every fork of it report the same
        number, and deleting a fork does not lower it (Chroma's count)."""
        with engine_boundary():
            return int(self._client._engine().fork_count(self._model.id))

    def get_indexing_status(self) -> Any:
        """Chroma Cloud only."""
        raise NotImplementedError("Indexing status is not implemented for Local Chroma")

    def attach_function(self, *args: Any, **kwargs: Any) -> Any:
        """Chroma Cloud only (collection functions)."""
        raise NotImplementedError("Attached functions are not implemented for Local Chroma")

    def detach_function(self, *args: Any, **kwargs: Any) -> Any:
        """Chroma Cloud only (collection functions)."""
        raise NotImplementedError("Attached functions are not implemented for Local Chroma")

    def get_attached_function(self, *args: Any, **kwargs: Any) -> Any:
        """Chroma Cloud only (collection functions)."""
        raise NotImplementedError("Attached functions are not implemented for Local Chroma")

    # ---- embedding ------------------------------------------------------------------------

    def _embed(self, inputs: list[Any], field: str, is_query: bool) -> list[np.ndarray]:
        if field == "uris":
            if self._data_loader is None:
                raise ValueError("You must set a data loader on the collection if loading from URIs.")
            inputs = self._data_loader(inputs)
        return embedding.call(self._embedding_function_for_use(), inputs, is_query)

    def _embedding_function_for_use(self) -> Any:
        """Chroma's order: an explicit non-default EF, the persisted one, else the default."""
        explicit = self._embedding_function
        if explicit is not None and not embedding.is_default(explicit):
            return explicit
        if self._persisted_ef is _NOT_LOADED:
            self._persisted_ef = embedding.resolve(embedding.rebuild(self._model.configuration.get("embedding_function")))
        if self._persisted_ef is not None:
            return self._persisted_ef
        # Chroma 1.5's default schema carries the default function, so even a collection
        # created with embedding_function=None embeds documents with it.
        if explicit is None or explicit is embedding.DEFAULT:
            self._embedding_function = embedding.resolve(embedding.DEFAULT)
        return self._embedding_function


class _CheckedWrite(NamedTuple):
    """The columns of an add, update or upsert after every check, as the engine takes them."""

    ids: list[str]
    embeddings: np.ndarray | None  # float32 (n, dim)
    documents: list[Any] | None
    metadatas: list[Any] | None  # private copies (copy_metadatas)
    uris: list[Any] | None


def _insert_record_set(
    ids: Any, embeddings: Any, metadatas: Any, documents: Any, images: Any, uris: Any
) -> dict[str, Any]:
    """Unpack one-or-many arguments in Chroma's field order (which its messages list)."""
    return {
        "ids": maybe_many(ids),
        "metadatas": normalize_metadatas(metadatas),
        "embeddings": normalize_embeddings(embeddings),
        "documents": maybe_many(documents),
        "images": maybe_many(images),
        "uris": maybe_many(uris),
    }


def _check_delete_limit(limit: Any, where: Any, where_document: Any) -> None:
    if limit is None:
        return
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError("limit must be a non-negative integer")
    if limit < 0:
        raise ValueError("limit must be a non-negative integer")
    if where is None and where_document is None:
        raise ValueError("limit can only be specified when a where or where_document clause is provided")


def _replace_ef(existing: dict[str, Any] | None, new_ef: Any) -> dict[str, Any]:
    """Chroma's rule for changing a collection's embedding function: same kind, new settings."""
    new_config = embedding.ef_config(new_ef)
    if not existing or existing.get("type") != "known" or new_config.get("type") != "known":
        if existing and existing.get("type") == "legacy":
            warnings.warn("cannot update legacy embedding function config", DeprecationWarning, stacklevel=3)
            return existing
        return new_config
    if existing.get("name") != new_config.get("name"):
        raise ValueError(
            f"Cannot update embedding function: incompatible types ({existing.get('name')} vs {new_config.get('name')})"
        )
    check = getattr(new_ef, "validate_config_update", None)
    if callable(check):
        check(existing.get("config") or {}, new_config.get("config") or {})
    return new_config
