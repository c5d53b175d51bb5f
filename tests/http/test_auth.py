"""Auth on ``sediment run``: htpasswd/bcrypt basic auth and static tokens, with Chroma's settings.

Checks the statuses (open heartbeat/version, 401 without credentials, 403 with wrong ones),
that Chroma's official client and ours authenticate with the client auth settings, that
tenant-scoped tokens stay in their tenant, and that no credential reaches the server log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
import structlog
from click.testing import CliRunner

import sedimentdb as ours
from sedimentdb import errors
from sedimentdb.tools.cli import cli
from tests.http.server_process import ServerProcess

PASSWORD = "correct-horse-battery"
TOKEN = "tok-3f9a1c7e55d2b4a0"
SCOPED_TOKEN = "tok-acme-only-91bd"
COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"
BASIC_PROVIDER = "chromadb.auth.basic_authn.BasicAuthenticationServerProvider"
TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthenticationServerProvider"


@pytest.fixture(scope="module")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with basic auth from an htpasswd file (``htpasswd -B`` writes ``$2y$`` hashes)."""
    root = tmp_path_factory.mktemp("basic")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode().replace("$2b$", "$2y$", 1)
    (root / "htpasswd").write_text(f"admin:{hashed}\n")
    env = {"CHROMA_SERVER_AUTHN_PROVIDER": BASIC_PROVIDER,
           "CHROMA_SERVER_AUTHN_CREDENTIALS_FILE": str(root / "htpasswd")}
    proc = ServerProcess(root / "data", root / "server.log", env=env).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with static tokens from a YAML users file; one token is limited to tenant ``acme``."""
    root = tmp_path_factory.mktemp("token")
    (root / "users.yaml").write_text(
        "users:\n"
        f"  - id: ops\n    tokens: [{TOKEN}]\n"
        f"  - id: acme-app\n    tenant: acme\n    databases: [main]\n    tokens: [{SCOPED_TOKEN}]\n"
    )
    env = {"CHROMA_SERVER_AUTHN_PROVIDER": TOKEN_PROVIDER,
           "CHROMA_SERVER_AUTHN_CREDENTIALS_FILE": str(root / "users.yaml")}
    proc = ServerProcess(root / "data", root / "server.log", env=env).start()
    yield proc
    proc.stop()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- basic ----------------------------------------------------------------------------------


def test_basic_open_paths_need_no_credentials(basic_server: ServerProcess) -> None:
    """Heartbeat and version stay open, as in Chroma's server."""
    assert httpx.get(basic_server.url + "/api/v2/heartbeat").status_code == 200
    assert httpx.get(basic_server.url + "/api/v2/version").status_code == 200


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    (_basic("admin", "wrong"), 403),
    (_basic("nobody", PASSWORD), 403),
    ({"Authorization": "Basic !!!not-base64"}, 403),
    ({"Authorization": f"Bearer {PASSWORD}"}, 401),
    (_basic("admin", PASSWORD), 200),
])
def test_basic_statuses(basic_server: ServerProcess, headers: dict[str, str], status: int) -> None:
    """Missing credentials 401 (with a challenge), wrong ones 403, right ones through."""
    response = httpx.get(basic_server.url + COLLECTIONS, headers=headers)
    assert response.status_code == status
    if status in (401, 403):
        assert response.json()["error"] == "AuthError"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


def test_basic_with_clients(basic_server: ServerProcess) -> None:
    """Chroma's client and ours, configured with the basic auth client provider."""
    chromadb = pytest.importorskip("chromadb")
    settings = dict(chroma_client_auth_provider="chromadb.auth.basic_authn.BasicAuthClientProvider",
                    chroma_client_auth_credentials=f"admin:{PASSWORD}")
    official = chromadb.HttpClient(host="127.0.0.1", port=basic_server.port,
                                   settings=chromadb.Settings(anonymized_telemetry=False, **settings))
    official.get_or_create_collection("basic-official", embedding_function=None).add(ids=["a"], embeddings=[[1.0]])
    client = ours.HttpClient(host="127.0.0.1", port=basic_server.port, settings=ours.Settings(**settings))
    assert client.get_collection("basic-official", embedding_function=None).count() == 1
    with pytest.raises(chromadb.errors.ChromaAuthError):
        chromadb.HttpClient(host="127.0.0.1", port=basic_server.port,
                            settings=chromadb.Settings(anonymized_telemetry=False))
    with pytest.raises(errors.ChromaAuthError):
        ours.HttpClient(host="127.0.0.1", port=basic_server.port,
                        settings=ours.Settings(chroma_client_auth_provider="basic",
                                               chroma_client_auth_credentials="admin:nope"))


def test_basic_credentials_never_logged(basic_server: ServerProcess) -> None:
    """Neither the password nor the encoded header appears in the server's log."""
    httpx.get(basic_server.url + COLLECTIONS, headers=_basic("admin", PASSWORD))
    httpx.get(basic_server.url + COLLECTIONS, headers=_basic("admin", PASSWORD + "x"))
    log = basic_server.log()
    assert '"path": "' + COLLECTIONS in log  # the access log is there...
    assert PASSWORD not in log  # ...without credentials
    assert base64.b64encode(f"admin:{PASSWORD}".encode()).decode() not in log


# ---- token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ({"X-Chroma-Token": TOKEN}, 200),
    ({"Authorization": "Bearer wrong-token"}, 403),
    ({"X-Chroma-Token": TOKEN + "x"}, 403),
    ({"Authorization": f"Basic {TOKEN}"}, 401),
])
def test_token_statuses(token_server: ServerProcess, headers: dict[str, str], status: int) -> None:
    """Bearer or X-Chroma-Token; missing 401, wrong 403."""
    response = httpx.get(token_server.url + COLLECTIONS, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.json() == {"error": "AuthError", "message": "Unauthorized" if status == 401 else "Forbidden"}


@pytest.mark.parametrize("transport", ["Authorization", "X-Chroma-Token"])
def test_token_with_clients(token_server: ServerProcess, transport: str) -> None:
    """Both clients with the token provider over either transport header."""
    chromadb = pytest.importorskip("chromadb")
    settings = dict(chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                    chroma_client_auth_credentials=TOKEN, chroma_auth_token_transport_header=transport)
    official = chromadb.HttpClient(host="127.0.0.1", port=token_server.port,
                                   settings=chromadb.Settings(anonymized_telemetry=False, **settings))
    assert official.get_user_identity().user_id == "ops"
    name = f"token-{transport.lower()}"
    official.create_collection(name, embedding_function=None)
    client = ours.HttpClient(host="127.0.0.1", port=token_server.port, settings=ours.Settings(**settings))
    assert name in [c.name for c in client.list_collections()]


def test_tenant_scoped_token(token_server: ServerProcess) -> None:
    """A token limited to tenant acme / database main: CloudClient lands there, other tenants are 403."""
    admin = ours.HttpClient(host="127.0.0.1", port=token_server.port,
                            settings=ours.Settings(chroma_client_auth_provider="token",
                                                   chroma_client_auth_credentials=TOKEN))
    admin._engine().create_tenant("acme")
    admin._engine().create_database("acme", "main")
    cloud = ours.CloudClient(api_key=SCOPED_TOKEN, cloud_host="127.0.0.1", cloud_port=token_server.port,
                             enable_ssl=False)
    assert (cloud.tenant, cloud.database) == ("acme", "main")
    cloud.create_collection("scoped", embedding_function=None)
    outside = httpx.get(token_server.url + COLLECTIONS, headers={"X-Chroma-Token": SCOPED_TOKEN})
    assert outside.status_code == 403


def test_token_never_logged(token_server: ServerProcess) -> None:
    """No token, right or wrong, appears in the server's log."""
    httpx.get(token_server.url + COLLECTIONS, headers={"Authorization": f"Bearer {TOKEN}"})
    httpx.get(token_server.url + COLLECTIONS, headers={"X-Chroma-Token": "tok-wrong-secret"})
    log = token_server.log()
    assert TOKEN not in log and SCOPED_TOKEN not in log and "tok-wrong-secret" not in log


def test_cloud_client_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without api_key or CHROMA_API_KEY, CloudClient refuses, as Chroma's does."""
    monkeypatch.delenv("CHROMA_API_KEY", raising=False)
    with pytest.raises(ValueError, match="Missing required arguments: api_key"):
        ours.CloudClient()


def test_misconfigured_auth_refuses_to_start(tmp_path: Path) -> None:
    """A provider without credentials is a start-up error (exit 1, a message), never an open server."""
    saved = structlog.get_config()  # the command configures logging, as entry points do
    try:
        result = CliRunner().invoke(cli, ["run", "--path", str(tmp_path / "data"), "--port", "1"],
                                    env={"CHROMA_SERVER_AUTHN_PROVIDER": TOKEN_PROVIDER})
    finally:
        structlog.configure(**saved)
    assert result.exit_code == 1
    assert "needs credentials or a credentials file" in result.output
