"""System, tenant and database routes of Chroma's v2 API, plus the answers for v1 and Cloud-only routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sedimentdb.server.authz import redact_paths
from sedimentdb.server.error_responses import error_response
from sedimentdb.server.models import CreateDatabase, CreateTenant, UpdateTenant
from sedimentdb.server.service import Service
from sedimentdb.version import CHROMA_API_VERSION

V1_MESSAGE = "The v1 API is deprecated. Please use /v2 apis"


def service_of(request: Request) -> Service:
    """The application's service."""
    return request.app.state.service  # type: ignore[no-any-return]


def readiness_response(request: Request) -> JSONResponse:
    """Chroma's healthcheck shape; when not ready, 503 and a ``reason`` so an orchestrator restarts us."""
    ready, reason = service_of(request).readiness()
    body: dict[str, Any] = {"is_executor_ready": ready, "is_log_client_ready": ready}
    if reason is not None:
        config = request.app.state.config
        body["reason"] = redact_paths(reason, getattr(request.state, "identity", None),
                                      (config.persist_path, config.replicate))
    return JSONResponse(body, status_code=200 if ready else 503)


def system_router() -> APIRouter:
    """Heartbeat, version, health, pre-flight, identity and reset."""
    router = APIRouter(prefix="/api/v2", tags=["system"])

    @router.get("", summary="Heartbeat")
    @router.get("/heartbeat", summary="Heartbeat")
    def heartbeat() -> dict[str, int]:
        return {"nanosecond heartbeat": Service.heartbeat()}

    @router.get("/version", summary="Server version")
    def version() -> str:
        # The API version, as embedded get_version() answers: clients pick features by it.
        return CHROMA_API_VERSION

    @router.get("/healthcheck", summary="Health check: 503 with the reason once writes fail for good")
    def healthcheck(request: Request) -> JSONResponse:
        return readiness_response(request)

    @router.get("/pre-flight-checks", summary="Limits and encodings clients may use")
    def pre_flight() -> dict[str, Any]:
        return Service.pre_flight()

    @router.get("/auth/identity", summary="Who the caller is")
    def identity(request: Request) -> dict[str, Any]:
        found = getattr(request.state, "identity", None) or Service.default_identity()
        return {"user_id": found.user_id, "tenant": found.tenant, "databases": list(found.databases)}

    @router.post("/reset", summary="Delete everything (only when allow_reset is set)")
    def reset(request: Request) -> bool:
        return service_of(request).reset()

    return router


def tenant_router() -> APIRouter:
    """Tenants and databases."""
    router = APIRouter(prefix="/api/v2/tenants", tags=["tenants"])

    @router.post("", summary="Create a tenant")
    def create_tenant(body: CreateTenant, request: Request) -> dict[str, Any]:
        service_of(request).create_tenant(body.name)
        return {}

    @router.get("/{tenant}", summary="Get a tenant")
    def get_tenant(tenant: str, request: Request) -> dict[str, Any]:
        return service_of(request).get_tenant(tenant)

    @router.patch("/{tenant}", summary="Update a tenant (Cloud resource names are accepted and ignored)")
    def update_tenant(tenant: str, body: UpdateTenant, request: Request) -> dict[str, Any]:
        service_of(request).get_tenant(tenant)
        return {}

    @router.get("/{tenant}/databases", summary="List databases")
    def list_databases(tenant: str, request: Request, limit: int | None = None,
                       offset: int | None = None) -> list[dict[str, Any]]:
        return service_of(request).list_databases(tenant, limit, offset)

    @router.post("/{tenant}/databases", summary="Create a database")
    def create_database(tenant: str, body: CreateDatabase, request: Request) -> dict[str, Any]:
        service_of(request).create_database(tenant, body.name)
        return {}

    @router.get("/{tenant}/databases/{database}", summary="Get a database")
    def get_database(tenant: str, database: str, request: Request) -> dict[str, Any]:
        return service_of(request).get_database(tenant, database)

    @router.delete("/{tenant}/databases/{database}", summary="Delete a database")
    def delete_database(tenant: str, database: str, request: Request) -> dict[str, Any]:
        service_of(request).delete_database(tenant, database)
        return {}

    return router


def legacy_router() -> APIRouter:
    """``/api/v1/*``: gone, as in Chroma 1.x."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/api/v1", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @router.api_route("/api/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def v1(rest: str = "") -> JSONResponse:
        return error_response(410, "Unimplemented", V1_MESSAGE)

    return router
