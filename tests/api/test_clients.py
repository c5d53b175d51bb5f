"""Clients, the shared engine cache, tenants, databases and collection management (chroma-api.md §1-§2)."""

from __future__ import annotations

import os
import time
import uuid

import numpy as np
import pytest

import sedimentdb as chromadb
from sedimentdb import errors
from sedimentdb.config import Settings
from sedimentdb.local_clients import Client

NAME_MESSAGE = (
    "Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in "
    "[a-zA-Z0-9]. Got: {}"
)


def quiet() -> Settings:
    return Settings(sediment_durability="off")


# ---- clients and the shared engine ----------------------------------------------------------


def test_heartbeat_version_settings_batch_size(client: Client) -> None:
    before = time.time_ns()
    assert before <= client.heartbeat() <= time.time_ns()
    assert client.get_version() == "1.5.9"  # the Chroma API version implemented
    assert client.get_settings().allow_reset is True
    assert client.get_max_batch_size() == 5461


def test_user_identity(client: Client) -> None:
    identity = client.get_user_identity()
    assert (identity.user_id, identity.tenant, identity.databases) == ("", "default_tenant", ["default_database"])


def test_persistent_clients_on_one_resolved_path_share_an_engine(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    a = chromadb.PersistentClient(path="db", settings=quiet())
    b = chromadb.PersistentClient(path=str(tmp_path / "db"), settings=quiet())
    c = chromadb.PersistentClient(path="./sub/../db", settings=quiet())
    assert a._engine() is b._engine() is c._engine()
    a.create_collection("shared", embedding_function=None).add(ids=["x"], embeddings=[[1.0]])
    assert b.get_collection("shared").count() == 1
    for cl in (a, b, c):
        cl.close()


def test_same_path_with_different_settings_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "db")
    a = chromadb.PersistentClient(path=path, settings=quiet())
    with pytest.raises(ValueError) as info:
        chromadb.PersistentClient(path=path, settings=Settings(sediment_durability="off", allow_reset=True))
    assert str(info.value) == f"An instance of Chroma already exists for {os.path.realpath(path)} with different settings"
    a.close()


def test_last_close_closes_the_engine_and_data_persists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "db")
    with chromadb.PersistentClient(path=path, settings=quiet()) as first:
        second = chromadb.PersistentClient(path=path, settings=quiet())
        engine = first._engine()
        col = first.create_collection("kept", metadata={"m": 1}, embedding_function=None)
        col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]], documents=["x", None])
        second.close()
        assert not engine.closed
    assert engine.closed
    first.close()  # idempotent
    with pytest.raises(RuntimeError):
        first.list_collections()
    with chromadb.PersistentClient(path=path, settings=quiet()) as again:
        col = again.get_collection("kept")
        assert col.metadata == {"m": 1}
        got = col.get(include=["embeddings", "documents"])
        assert got["ids"] == ["a", "b"] and got["documents"] == ["x", None]
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 2.0], [3.0, 4.0]])


def test_clear_system_cache_gives_a_fresh_ephemeral_database() -> None:
    first = chromadb.EphemeralClient()
    first.create_collection("gone", embedding_function=None)
    first.clear_system_cache()
    second = chromadb.EphemeralClient()
    assert second.list_collections() == []
    second.close()


def test_client_factory_follows_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    persistent = chromadb.Client(Settings(is_persistent=True, persist_directory=str(tmp_path / "p"),
                                          sediment_durability="off"))
    assert persistent._engine().path == os.path.realpath(tmp_path / "p")
    persistent.close()


def test_settings_read_environment_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_RESET", "TRUE")
    monkeypatch.setenv("Sediment_Durability", "normal")
    monkeypatch.setenv("SEDIMENT_COMPACT_TAIL_RECORDS", "123")
    settings = Settings()
    assert settings.allow_reset is True
    assert Settings(allow_reset=False).allow_reset is False  # explicit wins
    options = settings.engine_options()
    assert (options.durability, options.compact_tail_records) == ("normal", 123)


def test_unknown_settings_are_ignored_and_bad_durability_is_refused() -> None:
    assert not hasattr(Settings(chroma_server_grpc_port=50051), "chroma_server_grpc_port")
    with pytest.raises(ValueError):
        Settings(sediment_durability="sometimes")


def test_pre_0_4_configuration_is_refused_with_chromas_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sedimentdb.config import LEGACY_ERROR

    legacy = Settings(chroma_db_impl="duckdb+parquet", persist_directory=str(tmp_path))
    with pytest.raises(ValueError) as info:
        chromadb.Client(legacy)
    assert str(info.value) == LEGACY_ERROR
    assert "deprecated configuration of Chroma" in LEGACY_ERROR


def test_reset_needs_allow_reset() -> None:
    c = chromadb.EphemeralClient()
    with pytest.raises(errors.AuthorizationError) as info:
        c.reset()
    assert str(info.value) == "Reset is disabled by config"
    c.close()


def test_reset_wipes_everything_but_the_defaults(client: Client) -> None:
    client.create_collection("one", embedding_function=None)
    admin = chromadb.AdminClient(client.get_settings())
    admin.create_tenant("tenant2")
    assert client.reset() is True
    assert client.list_collections() == []
    with pytest.raises(errors.NotFoundError):
        admin.get_tenant("tenant2")
    assert admin.get_database("default_database")["name"] == "default_database"
    admin.close()


# ---- tenants and databases --------------------------------------------------------------------


def test_admin_tenants_and_databases(client: Client) -> None:
    admin = chromadb.AdminClient(client.get_settings())
    admin.create_tenant("acme")
    assert admin.get_tenant("acme") == {"name": "acme"}
    admin.create_database("prod", tenant="acme")
    db = admin.get_database("prod", tenant="acme")
    assert db["name"] == "prod" and db["tenant"] == "acme" and isinstance(db["id"], uuid.UUID)
    admin.create_database("stage", tenant="acme")
    assert [d["name"] for d in admin.list_databases(tenant="acme")] == ["prod", "stage"]
    assert [d["name"] for d in admin.list_databases(limit=1, offset=1, tenant="acme")] == ["stage"]
    admin.delete_database("stage", tenant="acme")
    assert [d["name"] for d in admin.list_databases(tenant="acme")] == ["prod"]
    admin.close()


def test_admin_errors(client: Client) -> None:
    admin = chromadb.AdminClient(client.get_settings())
    cases = [
        (lambda: admin.create_tenant("ab"), errors.InvalidArgumentError,
         'Validation error: name: Validation error: length [{"value": String("ab"), "min": Number(3)}]'),
        (lambda: admin.create_database("ab"), errors.InvalidArgumentError,
         "database name must be at least 3 characters"),
        (lambda: admin.create_tenant("default_tenant"), errors.InternalError, "Tenant [default_tenant] already exists"),
        (lambda: admin.create_database("default_database"), errors.InternalError,
         "Database [default_database] already exists"),
        (lambda: admin.get_tenant("nobody"), errors.NotFoundError, "Tenant [nobody] not found"),
        (lambda: admin.get_database("nothing"), errors.NotFoundError,
         "Database [nothing] not found. Are you sure it exists?"),
        (lambda: admin.delete_database("nothing"), errors.NotFoundError, "Database [nothing] not found"),
    ]
    for call, exc_type, message in cases:
        with pytest.raises(exc_type) as info:
            call()
        assert str(info.value) == message
    admin.close()


def test_tenant_and_database_scope_collections(client: Client) -> None:
    admin = chromadb.AdminClient(client.get_settings())
    admin.create_tenant("acme")
    admin.create_database("prod", tenant="acme")
    client.create_collection("here", embedding_function=None)
    scoped = chromadb.EphemeralClient(settings=client.get_settings(), tenant="acme", database="prod")
    assert scoped.list_collections() == []
    scoped.create_collection("here", embedding_function=None)  # same name, other database
    client.set_tenant("acme", "prod")
    assert [c.name for c in client.list_collections()] == ["here"]
    assert client.get_collection("here").tenant == "acme"
    with pytest.raises(errors.NotFoundError):
        client.set_database("missing")
    assert client.database == "prod"
    client.set_tenant("default_tenant")
    assert client.database == "default_database"
    scoped.close()
    admin.close()


def test_client_on_a_missing_database_fails_at_construction() -> None:
    with pytest.raises(errors.NotFoundError) as info:
        chromadb.EphemeralClient(database="missing")
    assert str(info.value) == "Database [missing] not found. Are you sure it exists?"
    with pytest.raises(errors.NotFoundError):
        chromadb.EphemeralClient(tenant="missing")


# ---- collections --------------------------------------------------------------------------


def test_create_get_list_count_delete(client: Client) -> None:
    created = client.create_collection("alpha", metadata={"m": "x"}, embedding_function=None)
    assert isinstance(created.id, uuid.UUID)
    assert repr(created) == "Collection(name=alpha)"
    client.create_collection("beta", embedding_function=None)
    assert client.count_collections() == 2
    listed = client.list_collections()
    assert all(isinstance(c, chromadb.Collection) for c in listed)
    assert sorted(c.name for c in listed) == ["alpha", "beta"]
    assert [c.id for c in listed] == sorted((c.id for c in listed), key=str)  # Chroma 1.x orders by id
    assert len(client.list_collections(limit=1)) == 1
    assert client.list_collections(offset=1)[0].name == listed[1].name
    assert client.get_collection("alpha", embedding_function=None) == created
    assert client.get_collection("alpha") != created  # Chroma compares embedding functions too
    assert client.get_collection_by_id(created.id).name == "alpha"
    client.delete_collection("alpha")
    assert client.count_collections() == 1
    with pytest.raises(errors.NotFoundError) as info:
        client.get_collection("alpha")
    assert str(info.value) == "Collection [alpha] does not exist"
    with pytest.raises(errors.NotFoundError, match="does not exist"):
        client.delete_collection("alpha")


def test_duplicate_collection_name(client: Client) -> None:
    client.create_collection("dup", embedding_function=None)
    with pytest.raises(errors.InternalError) as info:
        client.create_collection("dup", embedding_function=None)
    assert str(info.value) == "Collection [dup] already exists"
    assert isinstance(info.value, errors.UniqueConstraintError)  # what 0.4-0.6 code catches


def test_get_or_create_ignores_metadata_of_an_existing_collection(client: Client) -> None:
    first = client.get_or_create_collection("goc", metadata={"v": 1}, embedding_function=None)
    again = client.get_or_create_collection("goc", metadata={"v": 2}, embedding_function=None)
    assert again.id == first.id and again.metadata == {"v": 1}
    with pytest.raises(errors.InvalidArgumentError) as info:
        client.get_or_create_collection("goc", metadata={}, embedding_function=None)
    assert str(info.value) == "Validation error: metadata: Metadata cannot be empty"


# "a..b" and IP addresses have messages of their own (tests/api/test_quirks.py).
@pytest.mark.parametrize(
    "name", ["ab", "-abc", "abc-", "::1", "has space", "x" * 513, "ü-name"]
)
def test_invalid_collection_names(client: Client, name: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        client.create_collection(name)
    assert str(info.value) == NAME_MESSAGE.format(name)
    assert client.count_collections() == 0


@pytest.mark.parametrize("name", ["abc", "a.b-c_d", "A1" + "x" * 510, "1.2.3"])
def test_valid_collection_names(client: Client, name: str) -> None:
    assert client.create_collection(name, embedding_function=None).name == name


def test_rename_and_rename_clash(client: Client) -> None:
    col = client.create_collection("old-name", embedding_function=None)
    client.create_collection("taken", embedding_function=None)
    col.modify(name="new-name")
    assert col.name == "new-name"
    assert client.get_collection("new-name").id == col.id
    with pytest.raises(errors.ChromaError, match="already exists"):
        col.modify(name="taken")
    with pytest.raises(errors.InvalidArgumentError) as info:
        col.modify(name="x")
    assert str(info.value) == NAME_MESSAGE.format("x").replace("error: name:", "error: new_name:")


def test_stale_collection_object_after_delete(client: Client) -> None:
    col = client.create_collection("stale", embedding_function=None)
    client.delete_collection("stale")
    with pytest.raises(errors.NotFoundError):
        col.count()


def test_fork_chromas_documentation_example(client: Client) -> None:
    """docs.trychroma.com/cloud/features/collection-forking, "Examples", with its promises checked."""
    source_collection = client.create_collection(name="main-repo-index")
    source_collection.add(documents=["def main(): pass", "README"], ids=["main.py", "README.md"])

    # Create a forked collection. Name must be unique within the database.
    forked_collection = source_collection.fork(new_name="main-repo-index-pr-1234")

    # Forked collection is immediately queryable; changes are isolated
    forked_collection.add(documents=["new content"], ids=["doc-pr-1"])

    assert forked_collection.name == "main-repo-index-pr-1234"
    assert source_collection.count() == 2 and forked_collection.count() == 3
    assert forked_collection.query(query_texts=["new content"], n_results=1)["ids"] == [["doc-pr-1"]]
    assert source_collection.fork_count() == forked_collection.fork_count() == 1
    assert client.get_collection("main-repo-index-pr-1234").count() == 3


def test_fork_errors_are_chromas(client: Client) -> None:
    col = client.create_collection("fork-me", embedding_function=None, metadata={"a": 1})
    col.add(ids=["x"], embeddings=[[1.0, 2.0]])
    with pytest.raises(errors.InternalError) as info:
        col.fork("fork-me")
    assert str(info.value) == "Collection [fork-me] already exists"
    with pytest.raises(errors.InvalidArgumentError) as bad:
        col.fork("x")
    assert str(bad.value) == NAME_MESSAGE.format("x").replace("error: name:", "error: new_name:")
    copy = col.fork("fork-copy")
    assert copy.metadata == {"a": 1} and copy.get(include=["embeddings"])["embeddings"].tolist() == [[1.0, 2.0]]
    client.delete_collection("fork-me")
    with pytest.raises(errors.NotFoundError):
        col.fork("again")
    with pytest.raises(errors.NotFoundError):
        col.fork_count()
    assert copy.fork_count() == 1


# ---- HNSW configuration and distances ---------------------------------------------------------


def test_default_configuration(client: Client) -> None:
    col = client.create_collection("defaults", embedding_function=None)
    assert col.configuration_json["hnsw"] == {
        "space": "l2", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16,
        "resize_factor": 1.2, "sync_threshold": 1000,
    }
    assert col.configuration_json["spann"] is None
    assert col.configuration_json["embedding_function"] is None


def test_legacy_metadata_keys_build_the_configuration(client: Client) -> None:
    col = client.create_collection(
        "legacy", embedding_function=None,
        metadata={"hnsw:space": "ip", "hnsw:M": 32, "hnsw:construction_ef": 50, "hnsw:search_ef": 20},
    )
    hnsw = col.configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["max_neighbors"], hnsw["ef_construction"], hnsw["ef_search"]) == ("ip", 32, 50, 20)
    assert col.metadata["hnsw:space"] == "ip"  # the metadata itself is kept


def test_configuration_wins_over_metadata_unless_it_only_restates_defaults(client: Client) -> None:
    col = client.create_collection("c-wins", embedding_function=None, metadata={"hnsw:space": "ip"},
                                   configuration={"hnsw": {"space": "cosine"}})
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    col = client.create_collection("m-wins", embedding_function=None, metadata={"hnsw:space": "ip"},
                                   configuration={"hnsw": {"space": "l2"}})
    assert col.configuration_json["hnsw"]["space"] == "ip"


HNSW_FIELDS = "`space`, `ef_construction`, `ef_search`, `max_neighbors`, `num_threads`, `resize_factor`, " \
    "`sync_threshold`, `batch_size`"


@pytest.mark.parametrize(
    ("kwargs", "exc_type", "message"),
    [
        ({"metadata": {"hnsw:unknown": 1}}, errors.InvalidArgumentError,
         "Failed to parse hnsw parameters from segment metadata"),
        ({"metadata": {"hnsw:space": "manhattan"}}, errors.InvalidArgumentError,
         "Failed to parse hnsw parameters from segment metadata"),
        ({"metadata": {"hnsw:batch_size": 1}}, errors.InvalidArgumentError,
         "Failed to parse hnsw parameters from segment metadata"),
        ({"metadata": {"hnsw:M": "16"}}, errors.InvalidArgumentError,
         "Failed to parse hnsw parameters from segment metadata"),
        ({"configuration": {"hnsw": {"foo": 1}}}, errors.InvalidArgumentError,
         f"unknown field `foo`, expected one of {HNSW_FIELDS} at line 1 column 15"),
        ({"configuration": {"hnsw": {"space": "foo"}}}, errors.InvalidArgumentError,
         "unknown variant `foo`, expected one of `l2`, `cosine`, `ip` at line 1 column 24"),
        ({"configuration": {"hnsw": {"max_neighbors": "16"}}}, errors.InvalidArgumentError,
         'invalid type: string "16", expected usize at line 1 column 31'),
        ({"configuration": {"hnsw": {"ef_search": -1}}}, errors.InvalidArgumentError,
         "invalid value: integer `-1`, expected usize at line 1 column 25"),
        ({"configuration": {"hnsw": {}, "spann": {}}}, ValueError, "hnsw and spann cannot both be provided"),
        ({"metadata": {}}, errors.InvalidArgumentError, "Validation error: metadata: Metadata cannot be empty"),
        ({"metadata": {"#k": 1}}, errors.InvalidArgumentError,
         "Validation error: metadata: Metadata key cannot start with '#' or '$': #k"),
        ({"metadata": {"k": None}}, TypeError, "argument 'metadata': Cannot convert Python object to MetadataValue"),
        ({"metadata": {"k": {"a": 1}}}, TypeError,
         "argument 'metadata': Cannot convert Python object to MetadataValue"),
    ],
)
def test_invalid_collection_settings(client: Client, kwargs: dict, exc_type: type, message: str) -> None:
    with pytest.raises(exc_type) as info:
        client.create_collection("bad", embedding_function=None, **kwargs)
    assert str(info.value) == message
    assert client.count_collections() == 0


def test_hnsw_settings_are_checked_before_the_name(client: Client) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Failed to parse hnsw parameters"):
        client.create_collection("x", metadata={"hnsw:space": "nope"})


def test_runtime_hnsw_parameters_change_and_structural_ones_do_not(client: Client) -> None:
    col = client.create_collection("tune", embedding_function=None)
    col.modify(configuration={"hnsw": {"ef_search": 250, "resize_factor": 2.0}})
    assert col.configuration_json["hnsw"]["ef_search"] == 250
    assert client.get_collection("tune").configuration_json["hnsw"]["resize_factor"] == 2.0
    # accepted but not stored, as in Chroma 1.5
    col.modify(configuration={"hnsw": {"max_neighbors": 8, "num_threads": 2, "batch_size": 10}})
    assert col.configuration_json["hnsw"]["max_neighbors"] == 16
    for frozen, column in (({"space": "ip"}, 17), ({"ef_construction": 10}, 27)):
        with pytest.raises(errors.InvalidArgumentError) as info:
            col.modify(configuration={"hnsw": frozen})
        key = next(iter(frozen))
        assert str(info.value) == (
            f"unknown field `{key}`, expected one of `ef_search`, `max_neighbors`, `num_threads`, "
            f"`resize_factor`, `sync_threshold`, `batch_size` at line 1 column {column}"
        )
    assert col.configuration_json["hnsw"]["space"] == "l2"


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
def test_distances_are_exactly_chromas(client: Client, space: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    query = rng.normal(size=(1, 8)).astype(np.float32)
    col = client.create_collection(f"space-{space}", metadata={"hnsw:space": space}, embedding_function=None)
    col.add(ids=[str(i) for i in range(40)], embeddings=vectors)
    res = col.query(query_embeddings=query, n_results=5, include=["distances", "embeddings"])
    q = query[0].astype(np.float64)
    v = vectors.astype(np.float64)
    if space == "l2":
        expected = ((v - q) ** 2).sum(axis=1)
    elif space == "ip":
        expected = 1.0 - v @ q
    else:
        expected = 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    order = np.argsort(expected)[:5]
    assert res["ids"][0] == [str(i) for i in order]
    np.testing.assert_allclose(res["distances"][0], expected[order], rtol=1e-4, atol=1e-5)
    # get returns the vector as given, not normalized, even for cosine
    np.testing.assert_allclose(res["embeddings"][0], vectors[order], rtol=1e-6)


def test_a_second_process_on_the_same_path_fails_at_construction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    path = str(tmp_path / "db")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, sedimentdb; c = sedimentdb.PersistentClient(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert holder.stdout is not None
        while "held" not in holder.stdout.readline():
            pass
        with pytest.raises(errors.InternalError, match="another process .* is writing to this data directory") as err:
            chromadb.PersistentClient(path=path, settings=quiet())
        # The hint names how to read anyway (a Chroma user expects two processes to share a path).
        assert "Settings(sediment_read_only=True)" in str(err.value)
        reader = chromadb.PersistentClient(path=path, settings=chromadb.Settings(sediment_read_only=True))
        assert reader.list_collections() == []
        reader.close()
    finally:
        holder.communicate("", timeout=30)


def test_shared_system_client_and_batches(client: Client) -> None:
    from sedimentdb.api.client import SharedSystemClient
    from sedimentdb.utils.batch_utils import create_batches

    batches = create_batches(client, ids=[str(i) for i in range(6000)], embeddings=[[1.0]] * 6000)
    assert [len(b[0]) for b in batches] == [5461, 539]
    col = client.create_collection("batched", embedding_function=None)
    for ids, embeddings, _, _ in batches:
        col.add(ids=ids, embeddings=embeddings)
    assert col.count() == 6000
    SharedSystemClient.clear_system_cache()
    assert chromadb.EphemeralClient().list_collections() == []


def test_every_engine_setting_defaults_to_the_engine_default() -> None:
    import dataclasses

    from sedimentdb.engine.options import DatabaseOptions

    engine = {f.name: f.default for f in dataclasses.fields(DatabaseOptions)}
    settings = Settings()
    mapped = {f.name[len("sediment_"):] for f in dataclasses.fields(Settings) if f.name.startswith("sediment_")}
    assert mapped - {"refresh_interval"} <= set(engine)
    for name in mapped - {"refresh_interval"}:
        assert getattr(settings, f"sediment_{name}") == engine[name], name
    options = Settings(sediment_max_segment_records=1000, sediment_keep_manifests=2).engine_options()
    assert (options.max_segment_records, options.keep_manifests) == (1000, 2)
