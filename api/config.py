"""Client settings (``chromadb.config``), readable from environment variables.

Like Chroma's pydantic ``BaseSettings``, every field can be set by an environment variable of
the same name, case-insensitive (``ALLOW_RESET=TRUE``); an explicit argument wins over the
environment. Chroma's fields are accepted so existing code runs; those that only make sense
for Chroma's own machinery (telemetry, SQLite, the Rust bindings) are accepted and ignored.
No telemetry is ever sent, whatever ``anonymized_telemetry`` says.

SedimentDB's own engine settings are the ``sediment_*`` fields; each maps to the
:class:`~sedimentdb.engine.options.DatabaseOptions` field of the same name without the prefix
(``sediment_read_only`` -> ``read_only``), except ``sediment_refresh_interval``, which is the
client's: how often a read-only client catches up with the writer (docs/REPLICATION.md,
"Reading a replica").
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from sedimentdb.engine.options import DEFAULT_MAX_UNINDEXED_ROWS, DatabaseOptions
from sedimentdb.version import CHROMA_API_VERSION

CHROMA_VERSION = CHROMA_API_VERSION  # the Chroma release whose behaviour this package reproduces
DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"

_ENGINE_PREFIX = "sediment_"

LEGACY_ERROR = """\033[91mYou are using a deprecated configuration of Chroma.

\033[94mIf you do not have data you wish to migrate, you only need to change how you construct
your Chroma client. Please see the "New Clients" section of https://docs.trychroma.com/deployment/migration.
________________________________________________________________________________________________

If you do have data you wish to migrate, we have a migration tool you can use in order to
migrate your data to the new Chroma architecture.
Please `pip install chroma-migrate` and run `chroma-migrate` to migrate your data and then
change how you construct your Chroma client.

See https://docs.trychroma.com/deployment/migration for more information or join our discord at https://discord.gg/MMeYNTmh3x for help!\033[0m"""
# Settings of Chroma before 0.4 (DuckDB/ClickHouse); a client refuses them with LEGACY_ERROR.
_LEGACY_VALUES = {
    "duckdb", "duckdb+parquet", "clickhouse", "local", "rest", "chromadb.db.duckdb.DuckDB",
    "chromadb.db.duckdb.PersistentDuckDB", "chromadb.db.clickhouse.Clickhouse", "chromadb.api.local.LocalAPI",
}
_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}


def _env_lookup(name: str) -> str | None:
    """The value of environment variable ``name``, matched case-insensitively."""
    if name in os.environ:
        return os.environ[name]
    wanted = name.lower()
    for key, value in os.environ.items():
        if key.lower() == wanted:
            return value
    return None


def _parse(raw: str, annotation: Any) -> Any:
    """Coerce an environment string to the field's type (bool, int, float, str, optionals)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _parse(raw, args[0])
    if annotation is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"cannot read {raw!r} as a boolean")
    if annotation is int:
        return int(raw)
    if annotation is float:
        return float(raw)
    return raw


@dataclass(init=False)
class Settings:
    """What a client is configured with. Equality decides whether two clients may share an engine."""

    # --- Chroma's client settings ---
    chroma_api_impl: str = "chromadb.api.rust.RustBindingsAPI"
    is_persistent: bool = False
    persist_directory: str = "./chroma"
    allow_reset: bool = False
    anonymized_telemetry: bool = True  # accepted and ignored: no telemetry, ever
    chroma_server_host: str | None = None
    chroma_server_http_port: int | None = None
    chroma_server_ssl_enabled: bool | None = False
    chroma_server_ssl_verify: bool | str | None = None
    chroma_server_headers: dict[str, str] | None = None
    chroma_server_api_default_path: str = "/api/v2"
    chroma_server_cors_allow_origins: list[str] = field(default_factory=list)
    chroma_http_keepalive_secs: float | None = 40.0
    chroma_http_max_connections: int | None = None
    chroma_http_max_keepalive_connections: int | None = None
    chroma_client_auth_provider: str | None = None
    chroma_client_auth_credentials: str | None = None
    chroma_auth_token_transport_header: str | None = None
    chroma_server_authn_provider: str | None = None
    chroma_server_authn_credentials: str | None = None
    chroma_server_authn_credentials_file: str | None = None
    chroma_server_authz_provider: str | None = None
    chroma_server_authz_config: Any = None
    chroma_server_authz_config_file: str | None = None
    chroma_server_auth_ignore_paths: dict[str, list[str]] | None = None
    chroma_overwrite_singleton_tenant_database_access_from_auth: bool = False
    chroma_product_telemetry_impl: str | None = None
    chroma_telemetry_impl: str | None = None
    chroma_segment_cache_policy: str | None = None
    chroma_memory_limit_bytes: int = 0
    chroma_server_nofile: int | None = None
    migrations: str = "apply"
    migrations_hash_algorithm: str = "md5"
    chroma_db_impl: str | None = None  # pre-0.4 only; refused when a client starts

    # --- SedimentDB's engine settings (see DatabaseOptions) ---
    sediment_durability: str = "full"
    sediment_sync_interval_ms: int = 200
    sediment_background_compaction: bool = True
    sediment_compact_tail_records: int = 20_000
    sediment_compact_tail_bytes: int = 64 * 1024 * 1024
    sediment_compact_tail_age_s: float = 600.0
    sediment_max_segments_per_collection: int = 8
    # No compaction job writes or rewrites more than about this many records at once (its
    # memory is bounded by it); bigger outputs are split into several segments. Past
    # max_segments_per_collection times this, the cap is live records / that count instead.
    sediment_max_segment_records: int = 50_000
    # A segment is rewritten once more than this share of its rows is deleted or superseded.
    sediment_vacuum_deleted_fraction: float = 0.1
    # Manifest generations kept; 2 or more keeps a fallback for a damaged newest one at the
    # cost of the previous generation's segments and log on disk.
    sediment_keep_manifests: int = 1
    # A write that leaves more than this many of its collection's log-tail rows in no graph
    # indexes them before it returns, so no query scans more (0: writes never index, for
    # bulk loads at log speed; queries then scan what the background indexer has not done).
    sediment_max_unindexed_rows: int = DEFAULT_MAX_UNINDEXED_ROWS
    sediment_wal_roll_bytes: int = 64 * 1024 * 1024
    sediment_retain_wal: bool = False
    # ReadLevel.INDEX_AND_BOUNDED_WAL reads at most this many of a collection's log records
    # after its last compaction (docs/SEARCH.md, "Read levels").
    sediment_bounded_wal_records: int = 1000
    sediment_recovery_mode: str = "strict"
    # Open the data directory read-only (no writer lock, so it can read a replica that
    # `sediment follow` or another process writes); every write raises ReadOnlyError.
    sediment_read_only: bool = False
    # A read-only client catches up with the writer before a read at most this often
    # (seconds); 0 catches up before every read. Ignored when not read-only.
    sediment_refresh_interval: float = 0.5

    def __init__(self, **values: Any) -> None:
        """Explicit ``values`` win; any other field comes from its environment variable, else its default.

        Unknown fields are ignored, as Chroma's settings ignore them (old code passes retired ones).
        """
        known = {f.name: f for f in dataclasses.fields(self)}
        hints = typing.get_type_hints(type(self))
        for name, spec in known.items():
            if name in values:
                value = values[name]
            else:
                raw = _env_lookup(name)
                if raw is not None:
                    value = _parse(raw, hints[name])
                elif spec.default_factory is not dataclasses.MISSING:
                    value = spec.default_factory()
                else:
                    value = spec.default
            object.__setattr__(self, name, value)
        if self.sediment_durability not in ("full", "normal", "off"):
            raise ValueError(f"sediment_durability must be one of full, normal, off, got {self.sediment_durability!r}")
        if not isinstance(self.sediment_refresh_interval, (int, float)) or self.sediment_refresh_interval < 0:
            raise ValueError("sediment_refresh_interval must be a number of seconds >= 0, "
                             f"got {self.sediment_refresh_interval!r}")

    def require(self, key: str) -> Any:
        """The value of ``key``; ValueError if it is unset (Chroma's helper)."""
        value = getattr(self, key)
        if value is None:
            raise ValueError(f"Missing required config value '{key}'")
        return value

    def __getitem__(self, key: str) -> Any:
        """Chroma's settings can be read like a mapping (and refuse pre-0.4 values when read so)."""
        value = getattr(self, key)
        if isinstance(value, str) and value in _LEGACY_VALUES:
            raise ValueError(LEGACY_ERROR)
        return value

    def check_not_legacy(self) -> None:
        """ValueError(LEGACY_ERROR) for a pre-0.4 configuration, as a Chroma client raises at start."""
        if self.chroma_db_impl is not None:
            raise ValueError(LEGACY_ERROR)

    def copy(self, **changes: Any) -> Settings:
        """A new Settings with ``changes`` applied (the rest copied, not re-read from the environment)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Settings has no field(s): {', '.join(sorted(unknown))}")
        values.update(changes)
        return Settings(**values)

    def engine_options(self) -> DatabaseOptions:
        """The engine options these settings describe."""
        option_names = {f.name for f in dataclasses.fields(DatabaseOptions)}
        chosen = {}
        for f in dataclasses.fields(self):
            if f.name.startswith(_ENGINE_PREFIX) and f.name[len(_ENGINE_PREFIX):] in option_names:
                chosen[f.name[len(_ENGINE_PREFIX):]] = getattr(self, f.name)
        return DatabaseOptions(**chosen)


# ---- the rest of ``chromadb.config``'s public names ---------------------------------------------

C = typing.TypeVar("C")
T = typing.TypeVar("T")


def get_fqn(cls: type) -> str:
    """``module.ClassName`` of a class (Chroma names its components this way in settings)."""
    return f"{cls.__module__}.{cls.__name__}"


def get_class(fqn: str, type: type) -> type:  # noqa: A002 - Chroma's parameter name
    """The class a fully qualified name designates."""
    import importlib

    module_name, _, class_name = fqn.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def is_thin_client() -> bool:
    """Whether this is Chroma's HTTP-only client package: SedimentDB is the full database."""
    return False


def _declare_unimplemented() -> None:
    from sedimentdb.unimplemented import declare

    # Chroma's dependency-injection system; SedimentDB's clients wire themselves.
    declare(globals(), "chromadb.config", "APIVersion Component RoutingMode System")


_declare_unimplemented()
