"""A read-only archive served by a running ``sediment run --replicate`` (``http://HOST:PORT``).

The server exposes the objects of its replication destination under
``/api/v2/sediment/archive``; this destination reads them, so ``restore``, ``follow`` and
``archive-verify`` work against a primary without access to its archive storage. Writes are
refused: only the primary's own shipper writes its archive.

Credentials: ``http://user:password@host:port`` sends HTTP basic auth (the user info is
never part of :attr:`url`, which is logged and stored in replica positions), and
``SEDIMENT_ARCHIVE_TOKEN`` sends a token in ``Authorization: Bearer`` (or in the header
named by ``CHROMA_AUTH_TOKEN_TRANSPORT_HEADER``, e.g. ``X-Chroma-Token``).
"""

from __future__ import annotations

import builtins
import os
from typing import Any
from urllib.parse import quote, urlparse

from sedimentdb.engine.extras import require_extra
from sedimentdb.engine.replication.destination import UnreachableError
from sedimentdb.engine.storage_errors import StorageError

ARCHIVE_ROUTE = "/api/v2/sediment/archive"
TOKEN_ENV = "SEDIMENT_ARCHIVE_TOKEN"
HEADER_ENV = "CHROMA_AUTH_TOKEN_TRANSPORT_HEADER"
TIMEOUT_S = 30.0
MAX_WAIT_S = 30.0  # the server caps a long poll here too


class HttpDestination:
    """The archive of a replicating server, read over its HTTP API (read-only)."""

    def __init__(self, url: str, *, token: str | None = None, client: Any = None) -> None:
        parts = urlparse(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StorageError(f"not an http(s) server address: {url!r}", hint="use http://HOST:PORT")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        self.url = f"{parts.scheme}://{host}{parts.path.rstrip('/')}"
        self._base = self.url + ARCHIVE_ROUTE
        self.client = client or _http_client(parts.username, parts.password, token or os.environ.get(TOKEN_ENV))

    # ---- reads -----------------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        """The bytes of ``key`` (StorageError if missing or the server cannot be read)."""
        response = self._request("GET", f"{self._base}/{quote(key)}", key)
        if response.status_code == 404:
            raise StorageError("archive object not found on the server", path=f"{self.url}:{key}")
        self._check(response, key)
        return bytes(response.content)

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (a HEAD request)."""
        response = self._request("HEAD", f"{self._base}/{quote(key)}", key)
        if response.status_code == 404:
            return False
        self._check(response, key)
        return True

    def list(self, prefix: str) -> list[str]:
        """Sorted keys starting with ``prefix``."""
        return self._list(prefix, None, 0.0)[0]

    def wait_for_keys(self, prefix: str, after: str, timeout: float) -> bool:
        """Long poll: return once a key under ``prefix`` sorts after ``after``, or after ``timeout``
        seconds (at most :data:`MAX_WAIT_S`); whether such a key exists."""
        return self._list(prefix, after, min(max(timeout, 0.0), MAX_WAIT_S))[1]

    def _list(self, prefix: str, after: str | None, wait: float) -> tuple[builtins.list[str], bool]:
        params: dict[str, Any] = {"prefix": prefix}
        if after is not None:
            params.update(after=after, wait=wait)
        response = self._request("GET", self._base, prefix, params=params, timeout=TIMEOUT_S + wait)
        self._check(response, prefix)
        keys = response.json().get("keys")
        if not isinstance(keys, list):
            raise StorageError("the server's archive listing has no key list", path=self.url)
        return sorted(keys), after is not None and any(k > after for k in keys)

    # ---- writes are the primary's ------------------------------------------------------------------

    def put_once(self, key: str, data: bytes) -> bool:
        """Always refused: a server's archive is read-only over HTTP."""
        raise StorageError("an archive read over HTTP is read-only", path=f"{self.url}:{key}",
                           hint="ship to a directory or s3:// destination instead")

    def delete(self, key: str) -> None:
        """Always refused: a server's archive is read-only over HTTP."""
        raise StorageError("an archive read over HTTP is read-only", path=f"{self.url}:{key}",
                           hint="prune the archive where the primary ships it")

    # ---- plumbing ---------------------------------------------------------------------------------

    def _request(self, method: str, url: str, key: str, **kwargs: Any) -> Any:
        import httpx

        try:
            return self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise UnreachableError(f"cannot reach the server: {type(exc).__name__}: {exc}", path=f"{self.url}:{key}",
                               hint="is `sediment run --replicate` running there?") from exc

    def _check(self, response: Any, key: str) -> None:
        if response.status_code < 400:
            return
        message = _error_message(response)
        hint = None
        if response.status_code in (401, 403):
            hint = f"give credentials: http://user:password@host:port or {TOKEN_ENV}"
        elif response.status_code == 404:
            hint = "start the server with --replicate DEST"
        kind = UnreachableError if response.status_code in (502, 503, 504) else StorageError
        raise kind(f"the server answered {response.status_code}: {message}", path=f"{self.url}:{key}", hint=hint)


def _error_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] if response.request.method != "HEAD" else response.reason_phrase
    return str(body.get("message") or body) if isinstance(body, dict) else str(body)


def _http_client(user: str | None, password: str | None, token: str | None) -> Any:
    httpx = require_extra("httpx", "replication", "Reading an archive from a server (http://...)")
    headers: dict[str, str] = {}
    if token:
        header = os.environ.get(HEADER_ENV) or "Authorization"
        headers[header] = f"Bearer {token}" if header.lower() == "authorization" else token
    auth = httpx.BasicAuth(user, password or "") if user else None
    return httpx.Client(headers=headers, auth=auth, timeout=TIMEOUT_S, follow_redirects=False)
