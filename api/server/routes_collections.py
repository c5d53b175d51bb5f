"""Collection and record routes of Chroma's v2 API.

Collection routes address a collection by *name* (get, delete) or by *id* (modify, records),
as Chroma's do. Record handlers decode the wire, call the embedded ``Collection`` method and
encode its result.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sedimentdb.collection import GETTING, Collection
from sedimentdb.server.error_responses import error_response
from sedimentdb.server.limits import check_query_work, check_write_batch, chunked_query
from sedimentdb.server.models import (
    CreateCollection,
    DeleteRequest,
    ForkRequest,
    GetRequest,
    QueryRequest,
    RecordSet,
    SearchRequest,
    UpdateCollection,
)
from sedimentdb.server.routes_system import service_of
from sedimentdb.server.wire import (
    collection_json,
    decode_embeddings,
    decode_metadatas,
    no_results,
    result_json,
)

PREFIX = "/api/v2/tenants/{tenant}/databases/{database}"
DEFAULT_GET_INCLUDE = ["metadatas", "documents"]
DEFAULT_QUERY_INCLUDE = ["metadatas", "documents", "distances"]
CLOUD_ONLY = {
    ("GET", "/collections/{collection_id}/indexing_status"): "Indexing status",
    ("POST", "/collections/{collection_id}/functions/attach"): "Attached functions",
    ("GET", "/collections/{collection_id}/functions/{function_name}"): "Attached functions",
    ("POST", "/collections/{collection_id}/attached_functions/{function_name}/add_input"): "Attached functions",
    ("POST", "/collections/{collection_id}/attached_functions/{function_name}/detach"): "Attached functions",
}


def collection_router() -> APIRouter:
    """Create, list, count, get, modify and delete collections."""
    router = APIRouter(prefix=PREFIX, tags=["collections"])

    @router.get("/collections", summary="List collections")
    def list_collections(tenant: str, database: str, request: Request, limit: int | None = None,
                         offset: int | None = None) -> list[dict[str, Any]]:
        found = service_of(request).list_collections(tenant, database, limit, offset)
        return [collection_json(info) for info in found]

    @router.post("/collections", summary="Create a collection")
    def create_collection(tenant: str, database: str, body: CreateCollection, request: Request) -> dict[str, Any]:
        info = service_of(request).create_collection(
            tenant, database, body.name, body.metadata, body.configuration, body.get_or_create, body.schema_
        )
        return collection_json(info)

    @router.get("/collections_count", summary="Count collections")
    def count_collections(tenant: str, database: str, request: Request) -> int:
        return service_of(request).count_collections(tenant, database)

    @router.get("/collections/by-id/{collection_id}", summary="Get a collection by id")
    def get_collection_by_id(tenant: str, database: str, collection_id: str, request: Request) -> dict[str, Any]:
        return collection_json(service_of(request).get_collection_by_id(tenant, database, collection_id))

    @router.get("/collections/{name}", summary="Get a collection by name")
    def get_collection(tenant: str, database: str, name: str, request: Request) -> dict[str, Any]:
        return collection_json(service_of(request).get_collection(tenant, database, name))

    @router.put("/collections/{collection_id}", summary="Rename, replace metadata or reconfigure")
    def modify_collection(tenant: str, database: str, collection_id: str, body: UpdateCollection,
                          request: Request) -> dict[str, Any]:
        service_of(request).modify_collection(
            tenant, database, collection_id, body.new_name, body.new_metadata, body.new_configuration
        )
        return {}

    @router.post("/collections/{collection_id}/fork", summary="Fork a collection (copy-on-write)")
    def fork_collection(tenant: str, database: str, collection_id: str, body: ForkRequest,
                        request: Request) -> dict[str, Any]:
        with service_of(request).collection(tenant, database, collection_id) as collection:
            return collection_json(collection.fork(body.new_name).get_model())

    @router.get("/collections/{collection_id}/fork_count", summary="Forks in a collection's lineage")
    def fork_count(tenant: str, database: str, collection_id: str, request: Request) -> dict[str, Any]:
        with service_of(request).collection(tenant, database, collection_id) as collection:
            return {"count": collection.fork_count()}

    @router.delete("/collections/{name}", summary="Delete a collection by name")
    def delete_collection(tenant: str, database: str, name: str, request: Request) -> dict[str, Any]:
        service_of(request).delete_collection(tenant, database, name)
        return {}

    return router


def crn_router() -> APIRouter:
    """``GET /api/v2/collections/{crn}``: a collection by ``<tenant>:<database>:<name>``."""
    router = APIRouter(prefix="/api/v2", tags=["collections"])

    @router.get("/collections/{crn}", summary="Get a collection by its resource name tenant:database:name")
    def get_by_crn(crn: str, request: Request) -> dict[str, Any]:
        parts = crn.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"Invalid collection resource name: {crn} (expected <tenant>:<database>:<name>)")
        return collection_json(service_of(request).get_collection(*parts))

    return router


def record_router() -> APIRouter:
    """add, update, upsert, delete, count, get and query on one collection."""
    router = APIRouter(prefix=PREFIX + "/collections/{collection_id}", tags=["records"])

    def writing(tenant: str, database: str, collection_id: str, body: RecordSet,
                request: Request) -> AbstractContextManager[Collection]:
        check_write_batch(len(body.ids))
        return service_of(request).collection(tenant, database, collection_id, GETTING)

    @router.post("/add", status_code=201, summary="Add records (existing ids are ignored)")
    def add(tenant: str, database: str, collection_id: str, body: RecordSet, request: Request) -> dict[str, Any]:
        with writing(tenant, database, collection_id, body, request) as collection:
            collection.add(**_record_columns(body))
        return {}

    @router.post("/update", summary="Update existing records")
    def update(tenant: str, database: str, collection_id: str, body: RecordSet, request: Request) -> dict[str, Any]:
        with writing(tenant, database, collection_id, body, request) as collection:
            collection.update(**_record_columns(body))
        return {}

    @router.post("/upsert", summary="Insert or update records")
    def upsert(tenant: str, database: str, collection_id: str, body: RecordSet, request: Request) -> dict[str, Any]:
        with writing(tenant, database, collection_id, body, request) as collection:
            collection.upsert(**_record_columns(body))
        return {}

    @router.post("/delete", summary="Delete records by ids and/or filters")
    def delete(tenant: str, database: str, collection_id: str, body: DeleteRequest,
               request: Request) -> dict[str, Any]:
        with service_of(request).collection(tenant, database, collection_id, "") as collection:
            result = collection.delete(ids=body.ids, where=body.where, where_document=body.where_document,
                                       limit=body.limit)
        return dict(result)

    @router.get("/count", summary="Count records")
    def count(tenant: str, database: str, collection_id: str, request: Request,
              read_level: str | None = None) -> int:
        with service_of(request).collection(tenant, database, collection_id, "") as collection:
            return collection.count(read_level)

    @router.post("/get", summary="Get records by ids and/or filters")
    def get(tenant: str, database: str, collection_id: str, body: GetRequest, request: Request) -> dict[str, Any]:
        include: Any = body.include if body.include is not None else DEFAULT_GET_INCLUDE
        with service_of(request).collection(tenant, database, collection_id, "") as collection:
            result = collection.get(ids=body.ids, where=body.where, limit=body.limit, offset=body.offset,
                                    where_document=body.where_document, include=include)
        return result_json(dict(result), include)

    @router.post("/query", summary="Nearest neighbours of query embeddings")
    def query(tenant: str, database: str, collection_id: str, body: QueryRequest,
              request: Request) -> dict[str, Any]:
        include: Any = body.include if body.include is not None else DEFAULT_QUERY_INCLUDE
        # Chroma's server answers n_results 0 (its JS client sends it) with empty results: ask for
        # one, so that everything is still checked, and keep none.
        asked = body.n_results or 1
        with service_of(request).collection(tenant, database, collection_id, GETTING) as collection:
            if asked > 0:  # a negative count: the embedded check answers
                check_query_work(len(body.query_embeddings), asked, collection.count())
            result = chunked_query(collection, decode_embeddings(body.query_embeddings), ids=body.ids,
                                   n_results=asked, where=body.where,
                                   where_document=body.where_document, include=include)
        return result_json(no_results(result) if body.n_results == 0 else result, include)

    @router.post("/search", summary="Chroma's Search API: filter, rank (Knn, Rrf, arithmetic), group, page, select")
    def search(tenant: str, database: str, collection_id: str, body: SearchRequest,
               request: Request) -> dict[str, Any]:
        with service_of(request).collection(tenant, database, collection_id) as collection:
            return dict(collection.search_payloads(body.searches, body.read_level))

    return router


def cloud_only_router() -> APIRouter:
    """Routes only Chroma Cloud serves: 501, as Chroma's local server answers."""
    router = APIRouter(prefix=PREFIX, tags=["cloud-only"])
    for (method, path), feature in CLOUD_ONLY.items():
        router.add_api_route(path, _not_implemented(feature), methods=[method], summary=f"{feature} (Cloud only)")
    return router


def _record_columns(body: RecordSet) -> dict[str, Any]:
    """The keyword arguments of ``Collection.add``/``update``/``upsert`` that a write's body carries."""
    return {"ids": body.ids, "embeddings": decode_embeddings(body.embeddings), "metadatas": decode_metadatas(body.metadatas),
            "documents": body.documents, "uris": body.uris}


def _not_implemented(feature: str) -> Any:
    def handler() -> JSONResponse:
        return error_response(501, "ChromaError", f"{feature} is not implemented for local SedimentDB")

    return handler
