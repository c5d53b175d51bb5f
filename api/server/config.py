"""What one server runs with: data path, address, limits, reset, CORS, auth, replication.

Resolution order, highest first: explicit values (the ``sediment run`` flags), ``CHROMA_*``
environment variables (Chroma 1.x server names, then the names of Chroma's Python server and
its old Docker image), a YAML config file (Chroma 1.x keys), then Chroma's defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any

from sedimentdb.engine.extras import require_extra

DEFAULT_MAX_PAYLOAD = 40 * 1024 * 1024  # Chroma 1.x max_payload_size_bytes

# Each setting's environment variables, most specific first.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "persist_path": ("CHROMA_PERSIST_PATH", "PERSIST_DIRECTORY"),
    "host": ("CHROMA_LISTEN_ADDRESS", "CHROMA_HOST_ADDR", "CHROMA_SERVER_HOST"),
    "port": ("CHROMA_PORT", "CHROMA_HOST_PORT", "CHROMA_SERVER_HTTP_PORT"),
    "allow_reset": ("CHROMA_ALLOW_RESET", "ALLOW_RESET"),
    "max_payload_size_bytes": ("CHROMA_MAX_PAYLOAD_SIZE_BYTES",),
    "cors_allow_origins": ("CHROMA_CORS_ALLOW_ORIGINS", "CHROMA_SERVER_CORS_ALLOW_ORIGINS"),
    "authn_provider": ("CHROMA_SERVER_AUTHN_PROVIDER", "CHROMA_SERVER_AUTH_PROVIDER"),
    "authn_credentials": ("CHROMA_SERVER_AUTHN_CREDENTIALS", "CHROMA_SERVER_AUTH_CREDENTIALS"),
    "authn_credentials_file": ("CHROMA_SERVER_AUTHN_CREDENTIALS_FILE", "CHROMA_SERVER_AUTH_CREDENTIALS_FILE"),
    "auth_token_transport_header": ("CHROMA_AUTH_TOKEN_TRANSPORT_HEADER",),
    "auth_ignore_paths": ("CHROMA_SERVER_AUTH_IGNORE_PATHS",),
    "durability": ("SEDIMENT_DURABILITY",),
    "replicate": ("SEDIMENT_REPLICATE",),
    "replicate_interval": ("SEDIMENT_REPLICATE_INTERVAL",),
    "replicate_snapshot_interval": ("SEDIMENT_REPLICATE_SNAPSHOT_INTERVAL",),
    "replicate_retain_snapshots": ("SEDIMENT_REPLICATE_RETAIN_SNAPSHOTS",),
    "read_only": ("SEDIMENT_READ_ONLY",),
}

# Chroma 1.x YAML keys that differ from ours.
FILE_KEYS = {"listen_address": "host", "persist_path": "persist_path", "port": "port",
             "allow_reset": "allow_reset", "max_payload_size_bytes": "max_payload_size_bytes",
             "cors_allow_origins": "cors_allow_origins",
             # SedimentDB's own keys (Chroma has no replication)
             "replicate": "replicate", "replicate_interval": "replicate_interval",
             "replicate_snapshot_interval": "replicate_snapshot_interval",
             "replicate_retain_snapshots": "replicate_retain_snapshots", "read_only": "read_only"}

FLOAT_FIELDS = ("replicate_interval", "replicate_snapshot_interval")
INT_FIELDS = ("port", "max_payload_size_bytes", "replicate_retain_snapshots")
BOOL_FIELDS = ("allow_reset", "read_only")

DEFAULT_IGNORE_PATHS: dict[str, list[str]] = {
    "/api/v2": ["GET"], "/api/v2/heartbeat": ["GET"], "/api/v2/version": ["GET"],
    "/api/v1": ["GET"], "/api/v1/heartbeat": ["GET"], "/api/v1/version": ["GET"],
}


@dataclass
class ServerConfig:
    """Everything ``create_app`` and ``sediment run`` need."""

    persist_path: str = "./chroma"
    host: str = "localhost"
    port: int = 8000
    allow_reset: bool = False
    max_payload_size_bytes: int = DEFAULT_MAX_PAYLOAD
    cors_allow_origins: list[str] = field(default_factory=list)
    authn_provider: str | None = None
    authn_credentials: str | None = None
    authn_credentials_file: str | None = None
    auth_token_transport_header: str | None = None
    auth_ignore_paths: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_IGNORE_PATHS))
    durability: str = "full"
    replicate: str | None = None  # archive the server ships to in the background (None: off)
    replicate_interval: float = 1.0
    replicate_snapshot_interval: float = 3600.0
    replicate_retain_snapshots: int | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        if self.replicate_interval <= 0:
            raise ValueError(f"replicate_interval must be positive seconds, got {self.replicate_interval!r}")
        if self.replicate_snapshot_interval <= 0:
            raise ValueError("replicate_snapshot_interval must be positive seconds, "
                             f"got {self.replicate_snapshot_interval!r}")
        if self.replicate_retain_snapshots is not None and self.replicate_retain_snapshots < 1:
            raise ValueError(f"replicate_retain_snapshots must be at least 1, got {self.replicate_retain_snapshots!r}")
        if self.replicate is not None and not str(self.replicate).strip():
            raise ValueError("replicate needs a destination: a directory or s3://bucket/prefix")
        if self.replicate and str(self.replicate).startswith(("http://", "https://")):
            raise ValueError(f"cannot replicate to {self.replicate}: an archive served over HTTP is read-only; "
                             "ship to a directory or s3://bucket/prefix")
        if self.replicate and self.read_only:
            raise ValueError("read_only and replicate cannot be combined: a read-only server writes nothing, "
                             "and shipping records the shipped position in the data directory")

    @classmethod
    def resolve(cls, explicit: dict[str, Any] | None = None, config_file: str | None = None,
                environ: dict[str, str] | None = None) -> ServerConfig:
        """Flags over environment over config file over defaults."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_file = config_file or environ.get("CONFIG_PATH")
        if config_file:
            values.update(_read_file(config_file))
        for name, env_names in ENV_NAMES.items():
            for env_name in env_names:
                if environ.get(env_name) not in (None, ""):
                    values[name] = environ[env_name]
                    break
        values.update({k: v for k, v in (explicit or {}).items() if v is not None})
        return cls(**{f.name: _coerce(f.name, values[f.name]) for f in fields(cls) if f.name in values})

    @property
    def url(self) -> str:
        """The address clients connect to."""
        return f"http://{self.host}:{self.port}"


def _read_file(path: str) -> dict[str, Any]:
    yaml = require_extra("yaml", "server", "The YAML config file of `sediment run`")
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a mapping")
    return {FILE_KEYS[k]: v for k, v in raw.items() if k in FILE_KEYS}


def _coerce(name: str, value: Any) -> Any:
    """Environment strings to the field's type; values from files and flags are already typed."""
    if not isinstance(value, str):
        return value
    try:
        if name in INT_FIELDS:
            return int(value)
        if name in FLOAT_FIELDS:
            return float(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if name in BOOL_FIELDS:
        return value.strip().lower() in ("1", "true", "yes", "on")
    if name == "cors_allow_origins":
        return json.loads(value) if value.strip().startswith("[") else [o for o in value.split(",") if o]
    if name == "auth_ignore_paths":
        return json.loads(value)
    return value
