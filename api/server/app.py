"""The FastAPI application: routes, error shapes, middleware and the engine's lifetime."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sedimentdb.engine import storage_errors as engine_errors
from sedimentdb.errors import ChromaError
from sedimentdb.server.auth import build_authenticator
from sedimentdb.server.authz import redact_paths
from sedimentdb.server.config import ServerConfig
from sedimentdb.server.error_responses import HTTPProblem, error_response, status_and_name
from sedimentdb.server.middleware import (
    AccessLogMiddleware,
    AuthMiddleware,
    BodyLimitMiddleware,
    TraceIdMiddleware,
)
from sedimentdb.server.replication import BackgroundShipper
from sedimentdb.server.routes_collections import (
    cloud_only_router,
    collection_router,
    crn_router,
    record_router,
)
from sedimentdb.server.routes_replication import replication_router
from sedimentdb.server.routes_system import legacy_router, system_router, tenant_router
from sedimentdb.server.service import Service
from sedimentdb.version import __version__

log = structlog.get_logger("sedimentdb.server")
EXPECTED_ERRORS = (ChromaError, HTTPProblem, ValueError, TypeError, OverflowError, KeyError, NotImplementedError)


def create_app(config: ServerConfig, service: Service | None = None) -> FastAPI:
    """The application serving ``config.persist_path``; the engine opens now and closes at shutdown."""
    authenticator = build_authenticator(config.authn_provider, config.authn_credentials,
                                        config.authn_credentials_file, config.auth_token_transport_header)
    service = service if service is not None else Service(config)
    shipper = _background_shipper(config, service)
    stopping = threading.Event()  # set when shutdown begins: long polls answer at once

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if shipper is not None:
            shipper.start()
        try:
            yield
        finally:
            stopping.set()
            log.info("server shutting down, closing the engine", path=config.persist_path)
            try:
                service.close()
            finally:
                # After the close (the log is synced): the final round ships every acknowledged write.
                if shipper is not None:
                    shipper.stop(final_round=True)

    app = FastAPI(title="sedimentdb", version=__version__, lifespan=lifespan,
                  description="Chroma's HTTP API v2 served by SedimentDB")
    app.state.service = service
    app.state.config = config
    app.state.shipper = shipper
    app.state.stopping = stopping
    for router in (system_router(), tenant_router(), collection_router(), crn_router(), record_router(),
                   cloud_only_router(), replication_router(), legacy_router()):
        app.include_router(router)
    _install_error_handlers(app)
    # Added inner to outer: the body limit sits closest to the routes, the access log outermost.
    app.add_middleware(BodyLimitMiddleware, limit=config.max_payload_size_bytes)
    # Always installed: with auth off it still refuses routes missing from the authorization table.
    app.add_middleware(AuthMiddleware, authenticator=authenticator, ignore_paths=config.auth_ignore_paths)
    if config.cors_allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.cors_allow_origins, allow_methods=["*"],
                           allow_headers=["*"])
    app.add_middleware(TraceIdMiddleware)  # outermost but the log: auth refusals carry it too
    app.add_middleware(AccessLogMiddleware)
    return app


def _background_shipper(config: ServerConfig, service: Service) -> BackgroundShipper | None:
    """The shipper of ``--replicate`` (None without it); it starts with the server."""
    if not config.replicate:
        return None
    try:
        return BackgroundShipper(config.persist_path, config.replicate, interval=config.replicate_interval,
                                 snapshot_interval=config.replicate_snapshot_interval,
                                 retain_snapshots=config.replicate_retain_snapshots,
                                 local_lsn=lambda: service.engine.last_lsn)
    except engine_errors.StorageError as exc:  # e.g. s3:// without boto3: refuse to start, say why
        service.close()
        raise ValueError(f"cannot replicate to {config.replicate}: {exc}") from exc


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "InvalidArgumentError", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = "NotFoundError" if exc.status_code == 404 else "ChromaError"
        return error_response(exc.status_code, name, str(exc.detail), headers=getattr(exc, "headers", None))

    async def known_error(request: Request, exc: Exception) -> JSONResponse:
        status, name, message = status_and_name(exc)
        if status >= 500:
            _log_failure(request, exc)
        config = request.app.state.config
        message = redact_paths(message, getattr(request.state, "identity", None),
                               (config.persist_path, config.replicate))
        return error_response(status, name, message)

    # Expected failures are answered inside the app; anything else reaches the outermost
    # handler, which answers the same shape and lets the server log the traceback.
    for kind in EXPECTED_ERRORS:
        app.add_exception_handler(kind, known_error)
    app.add_exception_handler(Exception, known_error)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return f"Malformed JSON body: {error.get('ctx', {}).get('error', error.get('msg'))}"
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg')}")
    return "Invalid request: " + "; ".join(parts[:5])


def _log_failure(request: Request, exc: Exception) -> None:
    """A failure inside the server, with the engine's LSN context (never the request body)."""
    cause: Any = exc.__cause__ if isinstance(exc.__cause__, engine_errors.StorageError) else exc
    service: Service = request.app.state.service
    fields: dict[str, Any] = {"method": request.method, "path": request.url.path, "error": str(exc)}
    if isinstance(cause, engine_errors.StorageError):
        fields.update(lsn=cause.lsn, file=cause.path, hint=cause.hint)
    fields["last_lsn"] = getattr(service.engine, "last_lsn", None)
    log.error("request failed", exc_info=exc, **fields)
