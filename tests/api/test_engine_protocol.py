"""The seam between the API and the engines (sedimentdb.engine_protocol), checked at run time.

mypy checks the same statically in ``make lint`` (the clients return each engine as an
``EngineProtocol``); these tests keep the promise where mypy is not run, and show that the
collection reaches the engine through the protocol's methods and validates embeddings once.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import numpy as np
import pytest

from sedimentdb import embedding
from sedimentdb.engine.database import Database
from sedimentdb.engine_protocol import EngineProtocol, SearchEngineProtocol
from sedimentdb.http.remote_engine import RemoteEngine
from sedimentdb.local_clients import Client
from sedimentdb.utils.embedding_functions import EmbeddingFunction
from sedimentdb.utils.embedding_functions import base as ef_base

PROTOCOL_METHODS = sorted(
    name for name, member in vars(EngineProtocol).items() if inspect.isfunction(member) and not name.startswith("_")
)
ENGINES = [Database, RemoteEngine]


def test_the_protocol_names_every_call_the_api_makes() -> None:
    assert PROTOCOL_METHODS == sorted([
        "add", "count", "count_collections", "create_collection", "create_database", "create_tenant", "delete",
        "delete_collection", "delete_database", "fork_collection", "fork_count", "get", "get_collection", "get_collection_by_id", "get_database",
        "has_tenant", "list_collections", "list_databases", "modify_collection", "query", "reset", "update",
        "upsert",
    ])


def test_both_engines_are_engine_protocols(client: Client) -> None:
    remote = RemoteEngine(transport=None, scope=lambda: ("default_tenant", "default_database"))  # type: ignore[arg-type]
    assert isinstance(client._engine(), Database)
    assert isinstance(client._engine(), EngineProtocol)
    assert isinstance(remote, EngineProtocol)


def test_only_the_embedded_engine_runs_search_plans(client: Client) -> None:
    # A remote client sends the search batch to the server instead of running plans over the wire.
    remote = RemoteEngine(transport=None, scope=lambda: ("default_tenant", "default_database"))  # type: ignore[arg-type]
    assert isinstance(client._embedded_engine(), SearchEngineProtocol)
    assert not isinstance(remote, SearchEngineProtocol)


def _shape(function: Any) -> tuple[list[tuple[str, Any]], dict[str, Any], list[inspect.Parameter]]:
    """Positional parameters in order, keyword-only ones by name (their order means nothing)."""
    params = list(inspect.signature(function).parameters.values())
    positional = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    keyword = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
    return positional, keyword, params


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_signature_accepts_every_call_the_protocol_allows(engine: type, name: str) -> None:
    """The protocol's parameters with the same kinds and defaults; extras only optional; the same return type."""
    where = f"{engine.__name__}.{name}"
    wanted_positional, wanted_keyword, _ = _shape(getattr(EngineProtocol, name))
    positional, keyword, params = _shape(getattr(engine, name))
    assert positional[: len(wanted_positional)] == wanted_positional, where
    assert {k: keyword.get(k, "missing") for k in wanted_keyword} == wanted_keyword, where
    assert not [p for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)], where
    extras = [p for p in params if p.name not in wanted_keyword and (p.name, p.default) not in wanted_positional]
    assert all(p.default is not inspect.Parameter.empty for p in extras), f"{where}: {extras}"
    returns = typing.get_type_hints(getattr(engine, name)).get("return")
    assert returns == typing.get_type_hints(getattr(EngineProtocol, name))["return"], where


class _Recorder:
    """An engine that records the protocol calls made on it and passes them on."""

    def __init__(self, engine: EngineProtocol) -> None:
        self.engine = engine
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.engine, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return recorded


def test_each_collection_call_is_one_named_engine_call(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    collection = client.create_collection("seam", embedding_function=None)
    recorder = _Recorder(client._engine())
    monkeypatch.setattr(client, "_engine", lambda: recorder)
    vectors = [[1.0, 0.0], [0.0, 1.0]]
    collection.add(ids=["a", "b"], embeddings=vectors, metadatas=[{"k": 1}, {"k": 2}])
    collection.update(ids=["a"], metadatas=[{"k": 3}])
    collection.upsert(ids=["c"], embeddings=[[0.5, 0.5]])
    collection.get(ids=["a"])
    collection.query(query_embeddings=[[1.0, 0.0]], n_results=1)
    collection.count()
    collection.delete(ids=["c"])
    # The add brings a new metadata key, so the collection's schema learns it (modify_collection).
    assert recorder.calls == ["add", "modify_collection", "update", "upsert", "get", "query", "count", "delete"]


class _Doubling(EmbeddingFunction[Any]):
    def __init__(self) -> None:
        pass

    def __call__(self, input: Any) -> Any:
        return [[float(len(text)), 2.0] for text in input]


class _OwnQuery(_Doubling):
    def embed_query(self, input: Any) -> Any:
        return [[1.0, float(len(text))] for text in input]


def _plain(input: Any) -> Any:
    return [[float(len(text)), 3.0] for text in input]


@pytest.mark.parametrize(
    "function, is_query, by_wrapper, by_collection",
    [
        (_Doubling(), False, 1, 0),  # the subclass's wrapped __call__ checks; the collection trusts it
        (_Doubling(), True, 1, 0),  # the inherited embed_query calls that same __call__
        (_OwnQuery(), True, 0, 1),  # an embed_query of its own is not wrapped: the collection checks
        (_plain, False, 0, 1),  # a plain callable: the collection checks
    ],
    ids=["subclass", "subclass-query", "own-embed_query", "plain-callable"],
)
def test_embeddings_are_validated_once(
    function: Any, is_query: bool, by_wrapper: int, by_collection: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = {"wrapper": 0, "collection": 0}

    def counting(key: str, check: Any) -> Any:
        def counted(value: Any) -> Any:
            counts[key] += 1
            return check(value)

        return counted

    monkeypatch.setattr(ef_base, "validate_embeddings", counting("wrapper", ef_base.validate_embeddings))
    monkeypatch.setattr(embedding, "validate_embeddings", counting("collection", embedding.validate_embeddings))
    vectors = embedding.call(function, ["ab", "c"], is_query)
    assert counts == {"wrapper": by_wrapper, "collection": by_collection}
    assert all(isinstance(v, np.ndarray) and v.ndim == 1 for v in vectors)


def test_a_collection_embeds_and_validates_documents_once(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    for module in (ef_base, embedding):
        check = module.validate_embeddings
        monkeypatch.setattr(module, "validate_embeddings", lambda v, check=check: checks.append(len(v)) or check(v))
    collection = client.create_collection("once", embedding_function=_Doubling())
    collection.add(ids=["a", "b"], documents=["ab", "c"])
    collection.query(query_texts=["ab"], n_results=1)
    assert checks == [2, 1]  # the add's two vectors, then the query's one: each checked once
