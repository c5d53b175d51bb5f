"""One HTTP session to a server: URL, headers, client auth, JSON in and out, errors back to classes.

Error answers (``{"error": name, "message": text}``) become the exception class the embedded
client raises for the same failure, so code catching errors works the same either way.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

import httpx
import numpy as np

from sedimentdb import errors
from sedimentdb.config import Settings
from sedimentdb.version import __version__

BASIC_CLIENT_PROVIDERS = {"basic", "chromadb.auth.basic_authn.BasicAuthClientProvider",
                          "chromadb.auth.basic.BasicAuthClientProvider"}
TOKEN_CLIENT_PROVIDERS = {"token", "chromadb.auth.token_authn.TokenAuthClientProvider",
                          "chromadb.auth.token.TokenAuthClientProvider"}
TOKEN_HEADERS = {"authorization": "Authorization", "x-chroma-token": "X-Chroma-Token"}


def resolve_url(host: str, port: int | None, ssl: bool | None, api_path: str = "/api/v2") -> str:
    """Chroma's rule: ``host`` may be a bare name (port appended) or a full ``http(s)://`` URL (port not)."""
    parsed = urlparse(host)
    if "/" in host and parsed.scheme not in ("http", "https"):
        if host.startswith("http") or "://" in host:
            raise ValueError(f"Invalid URL. Unrecognized protocol - {parsed.scheme}.")
        raise ValueError(
            "Invalid URL. Seems that you are trying to pass URL as a host but without specifying the protocol. "
            "Please add http:// or https:// to the host."
        )
    if host.startswith("http"):
        scheme = "https" if ssl else parsed.scheme
        path = parsed.path.rstrip("/")
        if not path.endswith(api_path):
            path += api_path
        return urlunparse((scheme, parsed.netloc, quote(path), "", "", ""))
    scheme = "https" if ssl else "http"
    return f"{scheme}://{host}:{port if port is not None else 8000}{api_path}"


def auth_headers(settings: Settings) -> dict[str, str]:
    """The headers the client auth settings ask for (Chroma's client auth providers)."""
    provider = settings.chroma_client_auth_provider
    if not provider:
        return {}
    credentials = settings.chroma_client_auth_credentials
    if credentials is None:
        raise ValueError("chroma_client_auth_credentials must be set with chroma_client_auth_provider")
    if provider in BASIC_CLIENT_PROVIDERS:
        return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii")}
    if provider in TOKEN_CLIENT_PROVIDERS:
        if not credentials or not all(33 <= ord(c) <= 126 for c in credentials):
            raise ValueError("Invalid token. Token must contain only ASCII letters, digits and punctuation.")
        header = TOKEN_HEADERS.get((settings.chroma_auth_token_transport_header or "Authorization").lower())
        if header is None:
            raise ValueError("chroma_auth_token_transport_header must be Authorization or X-Chroma-Token")
        return {header: f"Bearer {credentials}" if header == "Authorization" else credentials}
    raise ValueError(f"Unknown client auth provider {provider}")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_json(body: Any) -> bytes:
    """Compact JSON; numpy values become plain numbers."""
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def raise_for_error(response: httpx.Response) -> None:
    """Raise the class the embedded client would, for an error answer."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        name, message = body["error"], body.get("message", "")
    except (ValueError, KeyError, TypeError):
        raise errors.ChromaError(f"HTTP {response.status_code}: {response.text}") from None
    if name == "UniqueConstraintError":
        raise errors.already_exists(message)
    error_class = errors.error_types.get(name)
    if error_class is None:
        raise errors.ChromaError(f"{name}: {message}")
    raise error_class(message)


def _headers(settings: Settings) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": f"SedimentDB Python Client v{__version__}"}
    headers.update(settings.chroma_server_headers or {})
    headers.update(auth_headers(settings))
    return headers


def _limits(settings: Settings) -> httpx.Limits:
    kwargs: dict[str, Any] = {"keepalive_expiry": settings.chroma_http_keepalive_secs or 40.0}
    if settings.chroma_http_max_connections is not None:
        kwargs["max_connections"] = settings.chroma_http_max_connections
    if settings.chroma_http_max_keepalive_connections is not None:
        kwargs["max_keepalive_connections"] = settings.chroma_http_max_keepalive_connections
    return httpx.Limits(**kwargs)


class Transport:
    """A synchronous session against one server's ``/api/v2``; thread-safe (httpx's pool is)."""

    def __init__(self, settings: Settings) -> None:
        self.url = resolve_url(str(settings.require("chroma_server_host")), settings.chroma_server_http_port,
                               settings.chroma_server_ssl_enabled, settings.chroma_server_api_default_path)
        verify = settings.chroma_server_ssl_verify
        self._session = httpx.Client(
            timeout=None, limits=_limits(settings), headers=_headers(settings),
            verify=verify if verify is not None else True,
        )

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Send one request; the decoded JSON answer, or the matching error raised."""
        content = encode_json(body) if body is not None else None
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._session.request(method, self.url + quote(path, safe="/:"), content=content,
                                         params=clean or None)
        raise_for_error(response)
        return response.json()

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()
