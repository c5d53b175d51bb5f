"""Authorization: one decision per request, from the matched route's declared rule (deny by default).

Every route of the app has an entry in :data:`RULES`: the *level* of access it needs and where
its tenant and database come from. The decision is taken once, in the auth middleware, after
the request is matched to its route exactly as the router will match it, so the path form that
names the tenant and database does not matter:

* ``/api/v2/tenants/{tenant}/databases/{database}/...``: the path parameters;
* ``/api/v2/collections/{crn}``: the ``<tenant>:<database>:<name>`` resource name;
* a route carrying a ``collection_id``: the path's tenant and database *and* those the
  collection really belongs to (looked up before deciding), so an id can never reach across.

A route that matches but has no rule is refused (403) for everyone, and
``tests/http/test_authz.py`` walks every route of the app so a route added without a rule
fails CI. Levels, from open to closed:

``any``
    any authenticated caller; the route touches no tenant's data (heartbeat, identity, ...).
``tenant-member``
    the caller may reach the tenant, in any of its databases (``GET /tenants/{tenant}``, which
    every client calls when it connects).
``database``
    the caller may reach that database of that tenant.
``tenant``
    the caller holds the whole tenant (a users-file entry with ``tenant`` and no ``databases``,
    or ``databases: ["*"]``): list, create and delete databases, update the tenant.
``admin``
    unrestricted callers only: ``reset``, tenant creation, replication status and archive.

Unrestricted callers (a user without ``tenant``; everyone when auth is off) pass every level.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.routing import compile_path, get_route_path

from sedimentdb.server.auth import Identity

ANY = "any"
TENANT_MEMBER = "tenant-member"
DATABASE = "database"
TENANT = "tenant"
ADMIN = "admin"
LEVELS = (ANY, TENANT_MEMBER, DATABASE, TENANT, ADMIN)

# Where a route's tenant and database come from.
NONE = "none"
PATH = "path"  # {tenant} and {database} path parameters
CRN = "crn"  # {crn} = tenant:database:name
COLLECTION = "collection"  # {tenant}/{database} in the path and the collection_id's own

V2 = "/api/v2"
DB = V2 + "/tenants/{tenant}/databases/{database}"
COL = DB + "/collections/{collection_id}"
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
UNRESTRICTED = Identity(user_id="", restricted=False)


@dataclass(frozen=True)
class Rule:
    """What one route needs: an access level, and where its tenant/database come from."""

    level: str
    source: str = NONE
    what: str = ""  # a few words for the docs table


@dataclass(frozen=True)
class Decision:
    """The answer for one request: allowed, or refused with the reason the caller is told."""

    allowed: bool
    reason: str = ""


def _rules(entries: Iterable[tuple[Iterable[str], str, Rule]]) -> dict[tuple[str, str], Rule]:
    table: dict[tuple[str, str], Rule] = {}
    for methods, path, rule in entries:
        for method in methods:
            table[(method, path)] = rule
    return table


_RECORD_OPS = ("add", "update", "upsert", "delete", "get", "query", "search")
_CLOUD_ONLY = (("GET", "/indexing_status"),
               ("POST", "/functions/attach"), ("GET", "/functions/{function_name}"),
               ("POST", "/attached_functions/{function_name}/add_input"),
               ("POST", "/attached_functions/{function_name}/detach"))

# (method, path template) -> rule. Keep in route order; docs/SERVER.md shows it (render_table).
RULES: dict[tuple[str, str], Rule] = _rules([
    (["GET"], V2, Rule(ANY, what="heartbeat")),
    (["GET"], V2 + "/heartbeat", Rule(ANY, what="heartbeat")),
    (["GET"], V2 + "/version", Rule(ANY, what="version")),
    (["GET"], V2 + "/healthcheck", Rule(ANY, what="readiness")),
    (["GET"], V2 + "/pre-flight-checks", Rule(ANY, what="limits")),
    (["GET"], V2 + "/auth/identity", Rule(ANY, what="who the caller is")),
    (["POST"], V2 + "/reset", Rule(ADMIN, what="wipe every tenant")),
    (["POST"], V2 + "/tenants", Rule(ADMIN, what="create a tenant")),
    (["GET"], V2 + "/tenants/{tenant}", Rule(TENANT_MEMBER, PATH, "get a tenant")),
    (["PATCH"], V2 + "/tenants/{tenant}", Rule(TENANT, PATH, "update a tenant")),
    (["GET"], V2 + "/tenants/{tenant}/databases", Rule(TENANT, PATH, "list databases")),
    (["POST"], V2 + "/tenants/{tenant}/databases", Rule(TENANT, PATH, "create a database")),
    (["GET"], DB, Rule(DATABASE, PATH, "get a database")),
    (["DELETE"], DB, Rule(TENANT, PATH, "delete a database")),
    (["GET"], DB + "/collections", Rule(DATABASE, PATH, "list collections")),
    (["POST"], DB + "/collections", Rule(DATABASE, PATH, "create a collection")),
    (["GET"], DB + "/collections_count", Rule(DATABASE, PATH, "count collections")),
    (["GET"], DB + "/collections/by-id/{collection_id}", Rule(DATABASE, COLLECTION, "get a collection by id")),
    (["GET"], DB + "/collections/{name}", Rule(DATABASE, PATH, "get a collection by name")),
    (["PUT"], COL, Rule(DATABASE, COLLECTION, "modify a collection")),
    (["DELETE"], DB + "/collections/{name}", Rule(DATABASE, PATH, "delete a collection")),
    (["GET"], V2 + "/collections/{crn}", Rule(DATABASE, CRN, "get a collection by tenant:database:name")),
    *((["POST"], COL + "/" + op, Rule(DATABASE, COLLECTION, f"records: {op}")) for op in _RECORD_OPS),
    (["GET"], COL + "/count", Rule(DATABASE, COLLECTION, "records: count")),
    (["POST"], COL + "/fork", Rule(DATABASE, COLLECTION, "fork a collection (into its database)")),
    (["GET"], COL + "/fork_count", Rule(DATABASE, COLLECTION, "count the forks of a collection's lineage")),
    *(([method], COL + tail, Rule(DATABASE, COLLECTION, "Cloud-only (501)")) for method, tail in _CLOUD_ONLY),
    (["GET"], V2 + "/sediment/replication", Rule(ADMIN, what="replication status (server paths)")),
    (["GET"], V2 + "/sediment/archive", Rule(ADMIN, what="replication archive (every tenant's data)")),
    (["GET", "HEAD"], V2 + "/sediment/archive/{key:path}", Rule(ADMIN, what="replication archive object (every tenant's data)")),
    (ALL_METHODS, "/api/v1", Rule(ANY, what="v1: 410")),
    (ALL_METHODS, "/api/v1/{rest:path}", Rule(ANY, what="v1: 410")),
    (["GET", "HEAD"], "/openapi.json", Rule(ANY, what="API description")),
    (["GET", "HEAD"], "/docs", Rule(ANY, what="Swagger UI")),
    (["GET", "HEAD"], "/docs/oauth2-redirect", Rule(ANY, what="Swagger UI")),
    (["GET", "HEAD"], "/redoc", Rule(ANY, what="ReDoc")),
])

# A collection id -> (tenant, database) of that collection, or None when there is none.
CollectionLookup = Callable[[str], "tuple[str, str] | None"]


def app_routes(app: Any) -> list[tuple[str, frozenset[str]]]:
    """Every route of ``app`` as (path template, methods), in the router's order.

    FastAPI 0.1xx keeps included routers as nested entries; ``iter_route_contexts`` flattens
    them (older versions hold the routes flat already).
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.router.routes is already flat
        contexts: Iterable[Any] = app.router.routes
    else:
        contexts = iter_route_contexts(app.router.routes)
    return [(ctx.path, frozenset(getattr(ctx, "methods", None) or ())) for ctx in contexts if ctx.path]


def _compiled(app: Any, method: str) -> list[tuple[Any, dict[str, Any], str]]:
    """The app's routes for ``method``, compiled for matching, in the router's order.

    Flattening FastAPI's included routers costs ~1 ms, so it is done once (again when the
    app's route list changes length), not per request.
    """
    key = len(app.router.routes)
    cached = getattr(app.state, "authz_routes", None)
    if cached is None or cached[0] != key:
        by_method: dict[str, list[tuple[Any, dict[str, Any], str]]] = {}
        for path, methods in app_routes(app):
            regex, _, convertors = compile_path(path)
            for m in methods:
                by_method.setdefault(m, []).append((regex, convertors, path))
        cached = (key, by_method)
        app.state.authz_routes = cached
    return cached[1].get(method, [])  # type: ignore[no-any-return]


def match_route(app: Any, scope: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The path template and path parameters of the route the router will pick, or None.

    Routes are tried in the router's order and the first one matching path and method wins,
    as in Starlette's router; a path matched only for another method (a 405) or not at all
    (a 404) is None: the router answers those without running a handler.
    """
    path = get_route_path(scope)
    for regex, convertors, template in _compiled(app, scope["method"]):
        found = regex.match(path)
        if found:
            return template, {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
    return None


def may_reach(identity: Identity, level: str, tenant: str | None, database: str | None) -> bool:
    """Whether ``identity`` passes ``level`` for ``tenant``/``database`` (None: not named)."""
    if not identity.restricted or level == ANY:
        return True
    if level == ADMIN or tenant is None or tenant != identity.tenant:
        return False
    whole_tenant = "*" in identity.databases
    if level == TENANT_MEMBER:
        return True
    if level == TENANT:
        return whole_tenant
    return database is not None and (whole_tenant or database in identity.databases)


def _targets(rule: Rule, params: dict[str, Any], lookup: CollectionLookup) -> list[tuple[str | None, str | None]]:
    """Every (tenant, database) the request names or reaches; all must be allowed."""
    if rule.source == NONE:
        return [(None, None)]
    if rule.source == CRN:
        parts = str(params.get("crn", "")).split(":")
        return [(parts[0], parts[1])] if len(parts) == 3 and all(parts) else [(None, None)]
    targets: list[tuple[str | None, str | None]] = [(params.get("tenant"), params.get("database"))]
    if rule.source == COLLECTION:
        owner = lookup(str(params.get("collection_id", "")))
        if owner is not None:
            targets.append(owner)
    return targets


def decide(identity: Identity, method: str, template: str, params: dict[str, Any],
           lookup: CollectionLookup) -> Decision:
    """The one authorization decision of a request to ``method template`` with ``params``."""
    rule = RULES.get((method, template))
    if rule is None:
        return Decision(False, f"{method} {template} has no authorization rule, so it is refused")
    if not identity.restricted:
        return Decision(True)
    for tenant, database in _targets(rule, params, lookup):
        if not may_reach(identity, rule.level, tenant, database):
            return Decision(False, _refusal(identity, rule))
    return Decision(True)


def _refusal(identity: Identity, rule: Rule) -> str:
    """Why a restricted user is refused; names the user's own scope, never someone else's."""
    scope = f"tenant {identity.tenant!r}"
    if "*" not in identity.databases:
        scope += f", databases {sorted(identity.databases)}"
    needs = {ADMIN: "an unrestricted user", TENANT: "access to the whole tenant",
             TENANT_MEMBER: "access to the tenant", DATABASE: "access to the tenant and database"}[rule.level]
    return f"Forbidden: user {identity.user_id!r} is restricted to {scope}; {rule.what} needs {needs}"


def collection_lookup(app: Any) -> CollectionLookup:
    """Resolve collection ids with the app's engine (a missing or malformed id resolves to None)."""

    def lookup(collection_id: str) -> tuple[str, str] | None:
        try:
            info = app.state.service.engine.get_collection_by_id(collection_id)
        except Exception:  # noqa: BLE001 - absent, malformed or engine closed: the handler answers it
            return None
        return info.tenant, info.database

    return lookup


def redact_paths(message: str, identity: Identity | None, paths: Iterable[str | None]) -> str:
    """``message`` with the server's filesystem paths hidden from restricted users."""
    if identity is None or not identity.restricted:
        return message
    variants: set[str] = set()
    for path in paths:
        if path and "://" not in path:
            variants.update({path, os.path.abspath(path), os.path.realpath(path)})
    for variant in sorted(variants, key=len, reverse=True):  # longest first: no half-replaced paths
        message = message.replace(variant, "<data-dir>")
    return message


def render_table() -> str:
    """The route x role table of docs/SERVER.md, from :data:`RULES`."""
    roles = [("admin", UNRESTRICTED),
             ("tenant user", Identity("t", tenant="T", databases=["*"], restricted=True)),
             ("database user", Identity("d", tenant="T", databases=["D"], restricted=True))]
    lines = ["| Method | Route | What | Level | " + " | ".join(name for name, _ in roles) + " |",
             "|---|---|---|---|" + "---|" * len(roles)]
    for (method, path), rule in RULES.items():
        cells = [_cell(identity, rule) for _, identity in roles]
        lines.append(f"| {method} | `{path}` | {rule.what} | {rule.level} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(identity: Identity, rule: Rule) -> str:
    """One role's column: yes, no, or the condition on the tenant (T) and database (D) the request names."""
    if may_reach(identity, rule.level, "other", "other"):
        return "yes"
    if may_reach(identity, rule.level, "T", "other"):
        return "own tenant"
    if may_reach(identity, rule.level, "T", "D"):
        return "own database"
    return "no"
