"""``sedimentdb.http``: clients of a SedimentDB (or Chroma) server, with the embedded client's API.

``HttpClient`` and ``CloudClient`` are the embedded ``Client`` with a remote engine under it
(:mod:`sedimentdb.http.remote_engine`): arguments are validated, embeddings computed and
results shaped by exactly the code embedded users run, then each engine call becomes one
request of Chroma's HTTP API v2. ``AsyncHttpClient`` offers the same API as coroutines.
"""

from sedimentdb.http.async_client import AsyncClient, AsyncCollection
from sedimentdb.http.client import RemoteAdminClient, RemoteClient
from sedimentdb.http.factories import AsyncHttpClient, CloudClient, HttpAdminClient, HttpClient

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
