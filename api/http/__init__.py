"""``sedimentdb.http``: clients of a SedimentDB (or Chroma) server, with the embedded client's API.

``HttpClient`` and ``CloudClient`` are the embedded ``Client`` with a remote engine under it
(:mod:`sedimentdb.http.remote_engine`): arguments are validated, embeddings computed and
results shaped by exactly the code embedded users run, then each engine call becomes one
request of Chroma's HTTP API v2. ``AsyncHttpClient`` offers the same API as coroutines.
"""

from sedimentdb.engine.extras import require_extra

require_extra("httpx", "server", "The HTTP client (HttpClient, AsyncHttpClient, CloudClient)")

from sedimentdb.http.async_client import AsyncClient, AsyncCollection  # noqa: E402 - after the check
from sedimentdb.http.factories import AsyncHttpClient, CloudClient, HttpAdminClient, HttpClient  # noqa: E402
from sedimentdb.http.remote_clients import RemoteAdminClient, RemoteClient  # noqa: E402

__all__ = [
    "AsyncClient",
    "AsyncCollection",
    "AsyncHttpClient",
    "CloudClient",
    "HttpAdminClient",
    "HttpClient",
    "RemoteAdminClient",
    "RemoteClient",
]
