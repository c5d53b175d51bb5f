"""SedimentDB's own routes: the replication position and the read-only archive of a replicating server.

* ``GET /api/v2/sediment/replication``: ``replication_status`` of the served directory, plus
  the live state of the background shipper when the server replicates.
* ``GET /api/v2/sediment/archive?prefix=P[&after=K&wait=S]``: ``{"keys": [...]}``, the archive
  keys starting with ``P``. With ``after`` and ``wait`` it is a long poll: it answers as soon
  as a key sorting after ``K`` exists, or after ``S`` seconds (at most 30).
* ``GET|HEAD /api/v2/sediment/archive/{key}``: the object's bytes.

The archive routes serve the server's replication destination so a follower can bootstrap
and stream through the primary (``sediment follow --from http://HOST:PORT``); without
``--replicate`` they answer 404 saying how to turn replication on. They sit behind the same
authentication as every other route, and a user restricted to one tenant may not read them:
the archive holds every tenant's data.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.server.error_responses import HTTPProblem
from sedimentdb.server.replication import BackgroundShipper

MAX_WAIT_S = 30.0
NOT_REPLICATING = ("replication is not enabled on this server, so it serves no archive: start it with "
                   "`sediment run --replicate DEST` (or `replicate: DEST` in the config file, or "
                   "SEDIMENT_REPLICATE=DEST)")


def replication_router() -> APIRouter:
    """The replication status and archive routes."""
    router = APIRouter(prefix="/api/v2/sediment", tags=["replication"])

    @router.get("/replication", summary="Replication position of the served directory and the shipper's state")
    def replication(request: Request) -> dict[str, Any]:
        return replication_state(request)

    @router.get("/archive", summary="List archive keys (long poll with after + wait)")
    async def list_keys(request: Request, prefix: str = "", after: str | None = None,
                        wait: float = 0.0) -> dict[str, Any]:
        shipper = _shipper(request)
        _check_key(prefix, "prefix", allow_empty=True)
        if not 0.0 <= wait <= MAX_WAIT_S:
            raise HTTPProblem(400, "InvalidArgumentError", f"wait must be between 0 and {MAX_WAIT_S:g} seconds, "
                                                           f"got {wait:g}")
        return {"keys": await _long_poll(request, shipper, prefix, after, wait)}

    @router.api_route("/archive/{key:path}", methods=["GET", "HEAD"], summary="One archive object's bytes")
    def get_object(key: str, request: Request) -> Response:
        shipper = _shipper(request)
        _check_key(key, "key")
        if not shipper.dest.exists(key):
            raise HTTPProblem(404, "NotFoundError", f"no archive object {key!r}")
        if request.method == "HEAD":
            return Response(media_type="application/octet-stream")
        try:
            data = shipper.dest.get(key)
        except StorageError as exc:  # pruned between the check and the read
            raise HTTPProblem(404, "NotFoundError", f"no archive object {key!r}: {exc}") from exc
        return Response(data, media_type="application/octet-stream")

    return router


def replication_state(request: Request) -> dict[str, Any]:
    """What ``GET /api/v2/sediment/replication`` answers."""
    from sedimentdb.engine.replication.status import LogTail, replication_status

    config = request.app.state.config
    shipper: BackgroundShipper | None = getattr(request.app.state, "shipper", None)
    tail = getattr(request.app.state, "log_tail", None)
    if tail is None:  # one per app: each poll reads only what the log gained since the last
        tail = request.app.state.log_tail = LogTail(config.persist_path)
    return {**replication_status(config.persist_path, tail=tail), "read_only": config.read_only,
            "shipper": shipper.status() if shipper is not None else None}


async def _long_poll(request: Request, shipper: BackgroundShipper, prefix: str, after: str | None,
                     wait: float) -> list[str]:
    deadline = time.monotonic() + wait
    stopping = getattr(request.app.state, "stopping", None)

    def is_stopping() -> bool:
        return bool(stopping is not None and stopping.is_set())

    while True:
        generation = shipper.generation  # read before listing: a round finishing meanwhile re-lists
        keys: list[str] = await run_in_threadpool(shipper.dest.list, prefix)
        if after is None or any(k > after for k in keys) or time.monotonic() >= deadline or is_stopping():
            return keys
        await shipper.changed(generation, deadline, is_stopping)
        if await request.is_disconnected():
            return keys


def _shipper(request: Request) -> BackgroundShipper:
    identity = getattr(request.state, "identity", None)
    if identity is not None and identity.restricted:
        raise HTTPProblem(403, "AuthError", f"user {identity.user_id!r} is restricted to tenant "
                                            f"{identity.tenant!r}; the archive holds every tenant's data")
    shipper: BackgroundShipper | None = getattr(request.app.state, "shipper", None)
    if shipper is None:
        raise HTTPProblem(404, "NotFoundError", NOT_REPLICATING)
    return shipper


def _check_key(key: str, what: str, allow_empty: bool = False) -> None:
    """Keys are relative paths inside the archive: no way out of it."""
    if not key and allow_empty:
        return
    parts = key.split("/")
    trailing_ok = allow_empty and parts[-1] == ""  # a prefix may end with "/"
    bad = [p for p in (parts[:-1] if trailing_ok else parts) if p in ("", ".", "..")]
    if bad or "\\" in key or "\x00" in key:
        raise HTTPProblem(400, "InvalidArgumentError", f"{what} must be a relative archive path without "
                                                       f"'.', '..' or empty parts, got {key!r}")
