"""The ``authz`` fuzz target: requests of restricted users, checked against what they may reach.

One in-process app (token auth, ``allow_reset`` on, durability ``off``) holds tenants ``acme``
(databases ``main``, ``side``) and ``other`` (``main``), a collection ``col`` in each holding
one record whose document and metadata carry a marker of its place. Two restricted users:
``acme-main`` (tenant acme, database main) and ``acme-all`` (tenant acme, every database).

Input: byte 0 picks the user and the header carrying the token, byte 1 the method, byte 2
the number of path segments; the next bytes pick each segment from a vocabulary of route
words, names, resource names, the collections' ids and path tricks (``..``, ``%2F``, empty
parts); the rest is the body. The oracle does not consult the authorization table:

* no 5xx (but 501 of the Cloud-only routes and Chroma's documented ``query(ids=...)`` 500),
  and an error has Chroma's shape;
* the answer never carries a marker of a place outside the user's scope, an id of such a
  collection the request did not name itself, or the server's data path;
* afterwards the out-of-scope collections still exist, unchanged, and no tenant was added.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import tempfile
from typing import Any

import httpx
from app_harness import close_app

from sedimentdb.server import ServerConfig, create_app

PLACES = (("acme", "main"), ("acme", "side"), ("other", "main"))
USERS = {  # name -> (token, places in scope)
    "acme-main": ("tok-fuzz-acme-main", {("acme", "main")}),
    "acme-all": ("tok-fuzz-acme-all", {("acme", "main"), ("acme", "side")}),
}
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
WORDS = ("api", "v2", "v1", "tenants", "databases", "collections", "by-id", "acme", "other", "main", "side",
         "col", "default_tenant", "default_database", "acme:main:col", "acme:side:col", "other:main:col",
         "other%3Amain%3Acol", "reset", "add", "get", "query", "count", "delete", "update", "upsert",
         "collections_count", "sediment", "replication", "archive", "wal", "heartbeat", "healthcheck", "auth",
         "identity", "pre-flight-checks", "fork", "search", "", "..", ".", "%2e%2e", "%2F", "acme%2Fdatabases")
ID_WORD = "<id:{}:{}>"  # a vocabulary entry standing for the current id of a place's collection


def _marker(tenant: str, database: str) -> str:
    return f"MARK-{tenant}-{database}"


class _AuthzHarness:
    """The app, its event loop and an ASGI client; the places' collection ids."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix=f"sediment-fuzz-authz-{os.getpid()}-")
        users = "users:\n  - id: ops\n    tokens: [tok-fuzz-admin]\n"
        for name, (token, places) in USERS.items():
            databases = "" if len(places) > 1 else "\n    databases: [main]"
            users += f"  - id: {name}\n    tenant: acme{databases}\n    tokens: [{token}]\n"
        with open(os.path.join(self.root, "users.yaml"), "w", encoding="utf-8") as handle:
            handle.write(users)
        self.data = os.path.join(self.root, "data")
        self.app = create_app(ServerConfig(
            persist_path=self.data, durability="off", allow_reset=True, authn_provider="token",
            authn_credentials_file=os.path.join(self.root, "users.yaml")))
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://fuzz")
        atexit.register(self.close)
        self.engine = self.app.state.service.engine
        for tenant in ("acme", "other"):
            self.engine.create_tenant(tenant)
        for tenant, database in PLACES:
            self.engine.create_database(tenant, database)
        self.ids: dict[tuple[str, str], str] = {}
        for place in PLACES:
            self.ensure(place)

    def close(self) -> None:
        """Close the engine and remove the directory."""
        close_app(self.loop, self.client, self.app, self.root)

    def ensure(self, place: tuple[str, str]) -> None:
        """The place's database and collection exist (an in-scope user may delete its own)."""
        tenant, database = place
        if not self.engine.has_tenant(tenant):
            self.engine.create_tenant(tenant)
        try:
            self.engine.get_database(tenant, database)
        except Exception:  # noqa: BLE001 - deleted by an allowed request: make it again
            self.engine.create_database(tenant, database)
        try:
            self.engine.get_collection_by_id(self.ids[place])
        except Exception:  # noqa: BLE001 - first call, or deleted/renamed away
            info = self.engine.create_collection(tenant, database, f"col-{len(self.ids)}-{os.urandom(3).hex()}",
                                                 metadata={"place": _marker(tenant, database)})
            self.engine.add(info.id, ["x"], [[1.0, 2.0]], documents=[_marker(tenant, database)],
                            metadatas=[{"place": _marker(tenant, database)}])
            self.engine.modify_collection(info.id, name="col")
            self.ids[place] = info.id

    def fingerprint(self, place: tuple[str, str]) -> Any:
        """What must not change in a place outside the user's scope."""
        info = self.engine.get_collection_by_id(self.ids[place])
        return info.tenant, info.database, info.name, info.metadata, self.engine.count(info.id)

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        """One request into the app."""
        content = body if method not in ("GET", "HEAD") else None
        if content is not None:
            headers = {**headers, "content-type": "application/json"}
        # Absolute: a relative URL may not start with "//" (an empty first segment).
        return self.loop.run_until_complete(self.client.request(method, "http://fuzz" + path, headers=headers,
                                                                content=content))


_harness: _AuthzHarness | None = None
DOCUMENTED_500 = "Error finding id"


def _path(h: _AuthzHarness, data: bytes) -> tuple[str, int]:
    """The path the bytes after the header pick, and where the body starts."""
    words = [*WORDS, *(ID_WORD.format(t, d) for t, d in PLACES)]
    count = data[2] % 10 + 1 if len(data) > 2 else 1
    picks = data[3:3 + count]
    segments = []
    for b in picks:
        word = words[b % len(words)]
        if word.startswith("<id:"):
            tenant, database = word[4:-1].split(":")
            word = h.ids[(tenant, database)]
        segments.append(word)
    return "/" + "/".join(segments), 3 + len(picks)


def authz(data: bytes) -> None:
    """A restricted user's request: never reaches, changes or reveals another place."""
    global _harness
    if len(data) < 2:
        return
    if _harness is None:
        _harness = _AuthzHarness()
    h = _harness
    user = list(USERS)[data[0] % len(USERS)]
    token, scope = USERS[user]
    headers = {"authorization": f"Bearer {token}"} if data[0] & 0x80 else {"x-chroma-token": token}
    method = METHODS[data[1] % len(METHODS)]
    path, body_start = _path(h, data)
    outside = [p for p in PLACES if p not in scope]
    before = {p: h.fingerprint(p) for p in outside}
    tenants_before = set(h.engine.list_tenants())
    r = h.request(method, path, headers, data[body_start:])
    text = r.text
    if r.status_code >= 500 and r.status_code != 501:  # 501: the Cloud-only routes
        assert DOCUMENTED_500 in text, f"{method} {path}: {r.status_code} {text[:300]}"
    if r.status_code >= 400 and method != "HEAD":
        body = r.json()
        assert isinstance(body, dict) and set(body) == {"error", "message"}, f"{method} {path}: {text[:300]}"
    for place in outside:
        assert _marker(*place) not in text, f"{user} read {place} through {method} {path}: {text[:300]}"
        if h.ids[place] not in path:
            assert h.ids[place] not in text, f"{user} learned the id of {place} through {method} {path}"
    assert h.data not in text and os.path.realpath(h.data) not in text, f"data path in {method} {path}"
    for place in outside:
        assert h.fingerprint(place) == before[place], f"{user} changed {place} through {method} {path}"
    assert set(h.engine.list_tenants()) == tenants_before, f"{user} changed the tenants through {method} {path}"
    for place in scope:
        h.ensure(place)
