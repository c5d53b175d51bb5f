"""ASGI middleware: structured access log, authentication, request body limit.

Written against raw ASGI rather than Starlette's ``BaseHTTPMiddleware`` so a request costs
no extra task or body copy.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sedimentdb.server.auth import Authenticator, AuthFailure, Identity
from sedimentdb.server.authz import UNRESTRICTED, collection_lookup, decide, match_route
from sedimentdb.server.error_responses import HTTPProblem, error_response

access_log = structlog.get_logger("sedimentdb.server.access")


class AccessLogMiddleware:
    """One structured line per request: method, path, status, duration, client, user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            client = scope.get("client")
            state = scope.get("state") or {}
            identity = state.get("identity")
            access_log.info(
                "request",
                method=scope["method"], path=scope["path"], status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                client=f"{client[0]}:{client[1]}" if client else None,
                user=getattr(identity, "user_id", None) or None,
                user_agent=Headers(scope=scope).get("user-agent"),
            )


class AuthMiddleware:
    """Authenticate, then authorize: one decision per request from the matched route's rule (authz.py).

    Open paths (GET heartbeat/version by default) skip both. Without an authenticator every
    caller is unrestricted, but a route without a rule is still refused.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator | None,
                 ignore_paths: dict[str, list[str]]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.ignore = {path.rstrip("/") or "/": {m.upper() for m in methods} for path, methods in ignore_paths.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope):
            await self.app(scope, receive, send)
            return
        try:
            if self.authenticator is None:
                self._identity_and_decision(scope)  # unrestricted: matching only, no lookup, no thread
            else:
                # bcrypt is slow on purpose and the decision may look a collection up: off the event loop.
                await anyio.to_thread.run_sync(self._identity_and_decision, scope)
        except AuthFailure as failure:
            extra = {"WWW-Authenticate": failure.challenge} if failure.challenge else None
            response = error_response(failure.status, "AuthError", failure.message, headers=extra)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _identity_and_decision(self, scope: Scope) -> Identity | None:
        """The caller's identity (None with auth off), after the route's authorization passed."""
        identity = self.authenticator.authenticate(Headers(scope=scope)) if self.authenticator else None
        if identity is not None:
            scope.setdefault("state", {})["identity"] = identity  # the access log names refused users too
        app = scope.get("app")
        matched = match_route(app, scope) if app is not None else None
        if matched is None:
            return identity  # no route: the router answers 404/405, which reveals no data
        template, params = matched
        decision = decide(identity or UNRESTRICTED, scope["method"], template, params, collection_lookup(app))
        if not decision.allowed:
            raise AuthFailure(403, message=decision.reason)
        return identity

    def _open(self, scope: Scope) -> bool:
        if scope["method"] == "OPTIONS":
            return True  # CORS pre-flight carries no credentials
        path = scope["path"].rstrip("/") or "/"
        return scope["method"] in self.ignore.get(path, ())


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _problem(self, size: Any) -> HTTPProblem:
        return HTTPProblem(413, "ChromaError",
                           f"Request body of {size} bytes is larger than the limit of {self.limit} bytes "
                           "(max_payload_size_bytes / CHROMA_MAX_PAYLOAD_SIZE_BYTES)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            problem = self._problem(declared)
            await error_response(problem.status, problem.name, problem.message)(scope, receive, send)
            return
        received = 0
        too_big = False

        async def counting_receive() -> Message:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Frameworks turn errors raised while reading into their own 400; end the
                    # body instead, drop whatever the app answers, and answer 413 here.
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_big:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_big:
                raise
        if too_big:
            problem = self._problem(f"more than {self.limit}")
            await error_response(problem.status, problem.name, problem.message)(scope, receive, send)


# Chroma's server names the OpenTelemetry trace of every request in this header; with tracing
# off (always, here) the id is all zeros. Its Python client attaches it to the errors it raises.
TRACE_HEADER = (b"chroma-trace-id", b"0" * 32)


class TraceIdMiddleware:
    """Add Chroma's ``chroma-trace-id`` header to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), TRACE_HEADER]
            await send(message)

        await self.app(scope, receive, send_with_trace)
