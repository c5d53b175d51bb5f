"""Authorization (issue 16, items 1-2): one decision per request, a rule for every route, deny by default.

The walk enumerates the app's routes from its router, so a route added later without a rule
fails here. Each route is called for every role and for targets inside and outside the role's
scope, through the real auth middleware in front of a recorder (the handlers are not run, so
destructive routes can be walked too); the decision must match the level model written here,
independently of ``authz.py``. The end-to-end regressions then run the real handlers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from sedimentdb import system
from sedimentdb.server import ServerConfig, authz, create_app
from sedimentdb.server.auth import Identity, build_authenticator
from sedimentdb.server.middleware import AuthMiddleware

TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthenticationServerProvider"
TOKENS = {"admin": "tok-admin-1", "tenant": "tok-acme-all-2", "database": "tok-acme-main-3", "outsider": "tok-zeta-4"}
USERS = f"""users:
  - id: ops
    tokens: [{TOKENS['admin']}]
  - id: acme-all
    tenant: acme
    tokens: [{TOKENS['tenant']}]
  - id: acme-main
    tenant: acme
    databases: [main]
    tokens: [{TOKENS['database']}]
  - id: zeta
    tenant: zeta
    tokens: [{TOKENS['outsider']}]
"""
# Targets a request may name: own database, another database of the own tenant, another tenant.
TARGETS = [("acme", "main"), ("acme", "side"), ("other", "main")]
SECRET = "SECRET-OF-OTHER"


def expected(role: str, level: str, tenant: str | None, database: str | None) -> bool:
    """The decision model, written out independently of authz.may_reach."""
    if role == "admin" or level == authz.ANY:
        return True
    if level == authz.ADMIN:
        return False
    own_tenant = {"tenant": "acme", "database": "acme", "outsider": "zeta"}[role]
    if tenant != own_tenant:
        return False
    if level in (authz.TENANT_MEMBER,):
        return True
    if level == authz.TENANT:
        return role in ("tenant", "outsider")
    return role in ("tenant", "outsider") or database == "main"


@pytest.fixture(autouse=True)
def fresh_system() -> None:
    """Overrides conftest's: clearing the engine cache between tests would close this module's shared app."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An app with token users, reset allowed, and a collection in each target (ids recorded)."""
    root = tmp_path_factory.mktemp("authz")
    (root / "users.yaml").write_text(USERS)
    config = ServerConfig(persist_path=str(root / "data"), durability="off", allow_reset=True,
                          authn_provider=TOKEN_PROVIDER, authn_credentials_file=str(root / "users.yaml"))
    app = create_app(config)
    ids: dict[tuple[str, str], str] = {}
    with TestClient(app, raise_server_exceptions=False) as http:  # a 500 is an answer to check
        admin = {"X-Chroma-Token": TOKENS["admin"]}
        for tenant in ("acme", "other", "zeta"):
            assert http.post("/api/v2/tenants", json={"name": tenant}, headers=admin).status_code == 200
        for tenant, database in TARGETS:
            http.post(f"/api/v2/tenants/{tenant}/databases", json={"name": database}, headers=admin)
            r = http.post(f"/api/v2/tenants/{tenant}/databases/{database}/collections",
                          json={"name": "col", "metadata": {"owner": f"{tenant}/{database}"}}, headers=admin)
            assert r.status_code == 200, r.text
            ids[(tenant, database)] = r.json()["id"]
            r = http.post(f"/api/v2/tenants/{tenant}/databases/{database}/collections/{r.json()['id']}/add",
                          json={"ids": ["x"], "embeddings": [[1.0, 2.0]], "documents": [SECRET]}, headers=admin)
            assert r.status_code == 201, r.text
        yield {"app": app, "http": http, "ids": ids, "root": root}
    system.clear()


def _routes(app: Any) -> list[tuple[str, str]]:
    return sorted({(m, path) for path, methods in authz.app_routes(app) for m in methods})


def test_every_route_of_the_app_has_a_rule(world: dict[str, Any]) -> None:
    """Enumerated from the router: a route added without a rule fails here (and is refused at run time)."""
    missing = [route for route in _routes(world["app"]) if route not in authz.RULES]
    assert not missing, f"routes without an authorization rule in api/server/authz.py: {missing}"
    stale = [route for route in authz.RULES if route not in set(_routes(world["app"]))]
    assert not stale, f"rules for routes the app does not have: {stale}"


# Operations that must stay admin-only whatever else changes in the table (issue 16 items 1-2).
PINNED = {("POST", "/api/v2/reset"): authz.ADMIN, ("POST", "/api/v2/tenants"): authz.ADMIN,
          ("GET", "/api/v2/sediment/replication"): authz.ADMIN, ("GET", "/api/v2/sediment/archive"): authz.ADMIN,
          ("GET", "/api/v2/collections/{crn}"): authz.DATABASE,
          ("DELETE", "/api/v2/tenants/{tenant}/databases/{database}"): authz.TENANT}


def test_pinned_levels() -> None:
    """The levels of the operations issue 16 found open."""
    for route, level in PINNED.items():
        assert authz.RULES[route].level == level, route


def _fill(template: str, tenant: str, database: str, collection_id: str) -> str:
    values = {"tenant": tenant, "database": database, "collection_id": collection_id, "name": "col",
              "crn": f"{tenant}:{database}:col", "key": "wal/x", "rest": "x", "function_name": "f"}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], template)


class _Recorder:
    """Stands in for the routes: answers 299 when the middleware lets a request through."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _gate(world: dict[str, Any]) -> TestClient:
    """The real auth middleware in front of a recorder; routes are matched against the real app."""
    app = world["app"]
    config = app.state.config
    middleware = AuthMiddleware(_Recorder(), build_authenticator(config.authn_provider, None,
                                                                 config.authn_credentials_file),
                                ignore_paths={})

    async def with_app(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = app
        await middleware(scope, receive, send)

    return TestClient(with_app)  # type: ignore[arg-type]


def _cases(world: dict[str, Any]) -> Iterator[tuple[str, str, str, str | None, str | None, list[tuple[str, str]]]]:
    """(method, template, url, tenant, database, owners) for every route and target."""
    ids = world["ids"]
    for method, template in _routes(world["app"]):
        rule = authz.RULES[(method, template)]
        for tenant, database in TARGETS:
            url = _fill(template, tenant, database, ids[(tenant, database)])
            yield method, template, url, tenant, database, [(tenant, database)]
            if rule.source == authz.COLLECTION:
                # The path names the own database, the id belongs to another tenant's collection.
                url = _fill(template, "acme", "main", ids[(tenant, database)])
                yield method, template, url, "acme", "main", [("acme", "main"), (tenant, database)]


@pytest.mark.parametrize("role", list(TOKENS))
def test_walk_every_route_for_every_role(world: dict[str, Any], role: str) -> None:
    """Each route x target is allowed exactly when the level model says so."""
    wrong = []
    count = 0
    gate = _gate(world)  # no `with`: the recorder has no lifespan
    for method, template, url, _tenant, _database, owners in _cases(world):
        level = authz.RULES[(method, template)].level
        if authz.RULES[(method, template)].source == authz.NONE:
            owners = [(None, None)]
        want = all(expected(role, level, t, d) for t, d in owners)
        r = gate.request(method, url, headers={"X-Chroma-Token": TOKENS[role]})
        count += 1
        got = r.status_code == 299
        if got != want or (not got and r.status_code != 403):
            wrong.append(f"{method} {url}: {r.status_code}, expected {'allowed' if want else '403'}")
        if not got and role != "admin" and method != "HEAD":
            body = r.json()
            assert body["error"] == "AuthError" and TOKENS[role] not in body["message"]
            assert "other" not in body["message"].replace("another", ""), body  # never names others' scope
    assert count > 100
    assert not wrong, "\n".join(wrong)


def test_unknown_route_is_refused_for_everyone(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Deny by default: a route with no rule is 403, even for the admin."""
    # A copy without the rule (delitem would put it back at the end, reordering the docs table).
    monkeypatch.setattr(authz, "RULES", {k: v for k, v in authz.RULES.items() if k != ("GET", "/api/v2/version")})
    r = _gate(world).get("/api/v2/version", headers={"X-Chroma-Token": TOKENS["admin"]})
    assert r.status_code == 403 and "no authorization rule" in r.json()["message"]


@given(tenant=st.sampled_from(["acme", "other", ""]), database=st.sampled_from(["main", "side", ""]),
       own=st.sampled_from(["acme", "other"]), dbs=st.lists(st.sampled_from(["main", "side", "*"]), min_size=1),
       level=st.sampled_from(authz.LEVELS), restricted=st.booleans())
@settings(max_examples=300, deadline=None)
def test_may_reach_property(tenant: str, database: str, own: str, dbs: list[str], level: str,
                            restricted: bool) -> None:
    """may_reach against the definition, for random identities and targets."""
    identity = Identity("u", tenant=own, databases=dbs, restricted=restricted)
    got = authz.may_reach(identity, level, tenant or None, database or None)
    if not restricted or level == authz.ANY:
        assert got
    elif level == authz.ADMIN or tenant != own:
        assert not got
    elif level == authz.TENANT_MEMBER:
        assert got
    elif level == authz.TENANT:
        assert got == ("*" in dbs)
    else:
        assert got == (bool(database) and ("*" in dbs or database in dbs))


# ---- end to end through the real handlers (regressions of issue 16) ---------------------------


def _as(role: str) -> dict[str, str]:
    return {"X-Chroma-Token": TOKENS[role]}


def test_restricted_user_cannot_reset(world: dict[str, Any]) -> None:
    """Item 1: a user restricted to acme could POST /reset (allow_reset on) and wipe every tenant."""
    http = world["http"]
    for role in ("tenant", "database"):
        r = http.post("/api/v2/reset", headers=_as(role))
        assert r.status_code == 403 and r.json()["error"] == "AuthError", r.text
        assert "unrestricted" in r.json()["message"]
    r = http.get("/api/v2/tenants/other/databases/main/collections/col", headers=_as("admin"))
    assert r.status_code == 200  # nothing was wiped


def test_restricted_user_cannot_read_another_tenant_by_crn(world: dict[str, Any]) -> None:
    """Item 2: GET /api/v2/collections/{tenant}:{database}:{name} reached across tenants."""
    http = world["http"]
    r = http.get("/api/v2/collections/other:main:col", headers=_as("database"))
    assert r.status_code == 403, r.text
    assert world["ids"][("other", "main")] not in r.text and "other/main" not in r.text
    assert http.get("/api/v2/collections/acme:side:col", headers=_as("database")).status_code == 403
    assert http.get("/api/v2/collections/acme:main:col", headers=_as("database")).status_code == 200
    assert http.get("/api/v2/collections/acme:side:col", headers=_as("tenant")).status_code == 200
    assert http.get("/api/v2/collections/garbage", headers=_as("database")).status_code == 403
    assert http.get("/api/v2/collections/garbage", headers=_as("admin")).status_code == 400


def test_restricted_user_cannot_create_tenants(world: dict[str, Any]) -> None:
    """Item 2: tenant creation is admin-only."""
    r = world["http"].post("/api/v2/tenants", json={"name": "sneaky"}, headers=_as("tenant"))
    assert r.status_code == 403
    assert world["http"].get("/api/v2/tenants/sneaky", headers=_as("admin")).status_code == 404


def test_collection_id_of_another_tenant_is_refused(world: dict[str, Any]) -> None:
    """An id from another tenant under the own tenant's path: refused before the handler runs."""
    other = world["ids"][("other", "main")]
    r = world["http"].post(f"/api/v2/tenants/acme/databases/main/collections/{other}/get", json={},
                           headers=_as("database"))
    assert r.status_code == 403 and SECRET not in r.text


def test_replication_status_is_admin_only_and_errors_hide_paths(world: dict[str, Any]) -> None:
    """The status route shows the data path: restricted users get 403, the admin the status."""
    http = world["http"]
    assert http.get("/api/v2/sediment/replication", headers=_as("tenant")).status_code == 403
    assert http.get("/api/v2/sediment/replication", headers=_as("admin")).status_code == 200
    root = str(world["root"])
    message = f"CorruptionError: bad frame in {root}/data/wal/0001.log at offset 7"
    hidden = authz.redact_paths(message, Identity("u", tenant="acme", restricted=True), [root + "/data"])
    assert root not in hidden and "<data-dir>/wal/0001.log" in hidden
    assert authz.redact_paths(message, Identity("ops"), [root + "/data"]) == message


def test_error_bodies_hide_the_data_path_from_restricted_users(world: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure whose message names a file answers restricted users with the path hidden."""
    from sedimentdb.engine.storage_errors import CorruptionError
    from sedimentdb.server.service import Service

    data = world["app"].state.config.persist_path

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise CorruptionError(f"checksum mismatch in {data}/segments/x.seg", path=f"{data}/segments/x.seg")

    monkeypatch.setattr(Service, "count_collections", broken)
    http = world["http"]
    r = http.get("/api/v2/tenants/acme/databases/main/collections_count", headers=_as("database"))
    assert r.status_code >= 400 and data not in r.text and str(Path(data).resolve()) not in r.text, r.text
    r = http.get("/api/v2/tenants/acme/databases/main/collections_count", headers=_as("admin"))
    assert data in r.text  # the operator still sees where


def test_scoped_users_keep_working(world: dict[str, Any]) -> None:
    """What the scopes allow still works: the database user's own collection, the tenant user's databases."""
    http = world["http"]
    own = world["ids"][("acme", "main")]
    r = http.post(f"/api/v2/tenants/acme/databases/main/collections/{own}/get", json={}, headers=_as("database"))
    assert r.status_code == 200 and r.json()["ids"] == ["x"]
    assert http.get("/api/v2/tenants/acme", headers=_as("database")).status_code == 200
    assert http.get("/api/v2/tenants/acme/databases", headers=_as("database")).status_code == 403
    assert http.get("/api/v2/tenants/acme/databases", headers=_as("tenant")).status_code == 200
    assert http.get("/api/v2/auth/identity", headers=_as("database")).json()["tenant"] == "acme"


@pytest.mark.parametrize(("entry", "message"), [
    ("  - id: x\n    databases: [main]\n    tokens: [t1]\n", "lists databases but no tenant"),
    ("  - id: x\n    role: reader\n    tokens: [t1]\n", "unsupported keys ['role']"),
    ("  - id: x\n    tenant: acme\n    databases: []\n    tokens: [t1]\n", "databases must be a non-empty list"),
    ("  - id: x\n    tokens: []\n", "needs tokens"),
    ("  - just-a-string\n", "must be a mapping"),
])
def test_ambiguous_users_file_entries_are_refused_at_load(tmp_path: Path, entry: str, message: str) -> None:
    """Item 2: `databases:` without `tenant:` was unrestricted; it (and other ambiguities) now fails at start."""
    (tmp_path / "users.yaml").write_text("users:\n" + entry)
    with pytest.raises(ValueError, match=re.escape(message)):
        build_authenticator("token", None, str(tmp_path / "users.yaml"))


def test_docs_show_the_table_of_the_code() -> None:
    """docs/SERVER.md carries the route x role table exactly as render_table() builds it."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "SERVER.md").read_text()
    assert authz.render_table() in docs, "regenerate: python -c 'from sedimentdb.server.authz import " \
                                         "render_table; print(render_table())'"
