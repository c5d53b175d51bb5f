"""Authentication with the providers and settings Chroma's Python server used (chroma-api.md §10).

* Basic: ``chromadb.auth.basic_authn.BasicAuthenticationServerProvider`` (or ``basic``), an
  htpasswd file of bcrypt hashes (``CHROMA_SERVER_AUTHN_CREDENTIALS_FILE``) or the same lines
  inline (``CHROMA_SERVER_AUTHN_CREDENTIALS``).
* Token: ``chromadb.auth.token_authn.TokenAuthenticationServerProvider`` (or ``token``), one
  static token inline, or a YAML file ``users: [{id, tokens, tenant, databases}]``. The token
  is read from ``Authorization: Bearer`` or ``X-Chroma-Token``.

Missing credentials answer 401, wrong ones 403, both with ``{"error": "AuthError"}`` so
Chroma's clients raise ``ChromaAuthError``. Secrets are compared in constant time; an
unknown user still costs one bcrypt check so timing does not reveal which users exist.
Nothing here logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sedimentdb.engine.extras import require_extra

BASIC_PROVIDERS = {"basic", "chromadb.auth.basic_authn.BasicAuthenticationServerProvider",
                   "chromadb.auth.basic.BasicAuthServerProvider"}
TOKEN_PROVIDERS = {"token", "chromadb.auth.token_authn.TokenAuthenticationServerProvider",
                   "chromadb.auth.token.TokenAuthServerProvider"}
TOKEN_HEADER = "x-chroma-token"
_VERIFIED_CACHE_LIMIT = 1024


@dataclass(frozen=True)
class Identity:
    """Who a request comes from; ``restricted`` users may only reach their tenant and databases."""

    user_id: str
    tenant: str = "default_tenant"
    databases: list[str] = field(default_factory=lambda: ["default_database"])
    restricted: bool = False


class AuthFailure(Exception):
    """Credentials missing (401) or wrong (403), or the route is not allowed to this caller (403)."""

    def __init__(self, status: int, challenge: str | None = None, message: str | None = None) -> None:
        self.message = message or ("Unauthorized" if status == 401 else "Forbidden")
        super().__init__(self.message)
        self.status = status
        self.challenge = challenge


class Authenticator(Protocol):
    """Turns request headers into an identity or raises AuthFailure."""

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        """The caller's identity."""
        ...


# ---- basic ----------------------------------------------------------------------------------


def _bcrypt_hash(stored: str) -> bytes:
    # htpasswd -B writes $2y$, which is the same algorithm as $2b$.
    return ("$2b$" + stored[4:] if stored.startswith("$2y$") else stored).encode()


def bcrypt_cost(hashed: bytes) -> int:
    """The work factor of a bcrypt hash (``$2b$12$...`` -> 12); ValueError if it has none."""
    parts = hashed.split(b"$")
    if len(parts) < 4 or not parts[2].isdigit() or not 4 <= int(parts[2]) <= 31:
        raise ValueError("basic auth credentials must be bcrypt hashes ($2b$/$2y$ with a cost of 4-31)")
    return int(parts[2])


class BasicAuthenticator:
    """``Authorization: Basic`` against htpasswd lines with bcrypt hashes."""

    def __init__(self, htpasswd_lines: list[str]) -> None:
        bcrypt = require_extra("bcrypt", "server", "Basic authentication (htpasswd)")
        self._bcrypt = bcrypt
        self._users: dict[str, bytes] = {}
        for line in htpasswd_lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.startswith("$2"):
                raise ValueError("basic auth credentials must be htpasswd lines 'user:<bcrypt hash>'")
            self._users[user] = _bcrypt_hash(hashed)
        if not self._users:
            raise ValueError("basic auth needs at least one user")
        # An unknown user costs one check at the configured users' work factor (the highest, if
        # they differ), so a wrong user answers no faster than a real user's wrong password.
        self.dummy_cost = max(bcrypt_cost(h) for h in self._users.values())
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=self.dummy_cost))
        # bcrypt costs ~100 ms by design; a keyed digest of credentials already verified
        # lets repeat requests skip it without keeping any password in memory.
        self._key = secrets.token_bytes(32)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        """Check the Basic credentials."""
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise AuthFailure(401, challenge='Basic realm="sedimentdb"')
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise AuthFailure(403) from None
        if not sep:
            raise AuthFailure(403)
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            if digest in self._verified:
                return Identity(user_id=user)
        stored = self._users.get(user)
        ok = self._bcrypt.checkpw(password.encode(), stored if stored is not None else self._dummy)
        if not ok or stored is None:
            raise AuthFailure(403)
        with self._lock:
            if len(self._verified) >= _VERIFIED_CACHE_LIMIT:
                self._verified.clear()
            self._verified.add(digest)
        return Identity(user_id=user)


# ---- token ----------------------------------------------------------------------------------


class TokenAuthenticator:
    """A static token in ``Authorization: Bearer`` or ``X-Chroma-Token``."""

    def __init__(self, tokens: dict[str, Identity], transport_header: str | None = None) -> None:
        if not tokens:
            raise ValueError("token auth needs at least one token")
        for token in tokens:
            if not token or not all(33 <= ord(c) <= 126 for c in token):
                raise ValueError("tokens must be printable ASCII without spaces")
        # Keyed digests have one length, so compare_digest compares like with like.
        self._key = secrets.token_bytes(32)
        self._tokens = [(self._digest(t), identity) for t, identity in tokens.items()]
        self._header = (transport_header or "").lower() or None

    def _digest(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def _presented(self, headers: Mapping[str, str]) -> str | None:
        if self._header in (None, "authorization"):
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        if self._header in (None, TOKEN_HEADER):
            token = headers.get(TOKEN_HEADER, "").strip()
            if token:
                return token
        return None

    def authenticate(self, headers: Mapping[str, str]) -> Identity:
        """Check the token against every configured one, in constant time each."""
        token = self._presented(headers)
        if token is None:
            raise AuthFailure(401)
        digest = self._digest(token)
        found = None
        for candidate, identity in self._tokens:
            if hmac.compare_digest(candidate, digest):
                found = identity
        if found is None:
            raise AuthFailure(403)
        return found


USER_KEYS = ("id", "tokens", "tenant", "databases")


def _token_user(index: int, user: Any) -> tuple[Identity, list[str]]:
    """One ``users:`` entry as an identity and its tokens; anything ambiguous is refused.

    ``databases`` without ``tenant`` is refused rather than guessed: read as unrestricted it
    would open every tenant to a user its author meant to restrict (issue 16).
    """
    where = f"users[{index}]"
    if not isinstance(user, dict):
        raise ValueError(f"{where} of the auth users file must be a mapping with keys {', '.join(USER_KEYS)}")
    where += f" (id {user.get('id')!r})"
    unknown = sorted(str(k) for k in user if k not in USER_KEYS)
    if unknown:
        raise ValueError(f"{where} of the auth users file has unsupported keys {unknown} (allowed: "
                         f"{', '.join(USER_KEYS)}; roles are not supported: restrict a user with tenant/databases)")
    if not isinstance(user.get("id"), (str, int)) or str(user.get("id")) == "":
        raise ValueError(f"{where} of the auth users file needs an id")
    tokens = user.get("tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, (str, int)) for t in tokens):
        raise ValueError(f"{where} of the auth users file needs tokens: a non-empty list of strings")
    if "databases" in user and "tenant" not in user:
        raise ValueError(f"{where} of the auth users file lists databases but no tenant: add the tenant the "
                         "databases belong to (e.g. tenant: default_tenant), or remove databases for a user "
                         "that may use every tenant")
    tenant = user.get("tenant")
    if "tenant" in user and (not isinstance(tenant, str) or not tenant):
        raise ValueError(f"{where} of the auth users file: tenant must be a non-empty string")
    databases = user.get("databases", ["*"])
    if not isinstance(databases, list) or not databases or not all(isinstance(d, str) and d for d in databases):
        raise ValueError(f"{where} of the auth users file: databases must be a non-empty list of names")
    identity = Identity(user_id=str(user["id"]), tenant=str(tenant or "default_tenant"), databases=databases,
                        restricted="tenant" in user)
    return identity, [str(t) for t in tokens]


def _token_users(path: str) -> dict[str, Identity]:
    yaml = require_extra("yaml", "server", "The token users file")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and "users" in data:
        if not isinstance(data["users"], list):
            raise ValueError(f"the auth users file {path}: users must be a list")
        tokens: dict[str, Identity] = {}
        for index, user in enumerate(data["users"]):
            identity, user_tokens = _token_user(index, user)
            for token in user_tokens:
                if token in tokens and tokens[token] != identity:
                    raise ValueError(f"the auth users file {path}: a token of users[{index}] is also another "
                                     "user's token")
                tokens[token] = identity
        return tokens
    # Otherwise: one token per line.
    return {line.strip(): Identity(user_id="") for line in text.splitlines() if line.strip()}


def build_authenticator(provider: str | None, credentials: str | None, credentials_file: str | None,
                        transport_header: str | None = None) -> Authenticator | None:
    """The authenticator the settings describe, or ``None`` when auth is off."""
    if not provider:
        return None
    if credentials and credentials_file:
        raise ValueError("give auth credentials inline or as a file, not both")
    if not credentials and not credentials_file:
        raise ValueError(f"auth provider {provider} needs credentials or a credentials file")
    if provider in BASIC_PROVIDERS:
        if credentials_file:
            with open(credentials_file, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        else:
            lines = (credentials or "").replace(",", "\n").splitlines()
        return BasicAuthenticator(lines)
    if provider in TOKEN_PROVIDERS:
        tokens = _token_users(credentials_file) if credentials_file else {str(credentials): Identity(user_id="")}
        return TokenAuthenticator(tokens, transport_header)
    raise ValueError(f"unknown auth provider {provider}; use basic or token")


def env_secret_free(config: Any) -> dict[str, Any]:
    """The auth settings as safe to log: the provider and where credentials come from, never them."""
    return {
        "auth_provider": config.authn_provider,
        "auth_credentials": "file" if config.authn_credentials_file else ("inline" if config.authn_credentials else None),
    }


