"""Embedding functions: computed when documents come without embeddings, persisted, rebuilt (chroma-api.md §8)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sedimentdb as chromadb
from sedimentdb.local_clients import Client
from sedimentdb.utils.embedding_functions import (
    EmbeddingFunction,
    HashingEmbeddingFunction,
    register_embedding_function,
)


@register_embedding_function
class LengthEmbedding(EmbeddingFunction):  # type: ignore[type-arg]
    """A two-dimensional toy: (length, vowel count); queries are scaled to tell them apart."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, input: Any) -> Any:
        return [np.array([len(t) * self.scale, sum(c in "aeiou" for c in t)], dtype=np.float32) for t in input]

    def embed_query(self, input: Any) -> Any:
        return [v * 2 for v in self(input)]

    @staticmethod
    def name() -> str:
        return "test_length"

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LengthEmbedding:
        return LengthEmbedding(config["scale"])


def test_documents_are_embedded_and_the_function_is_persisted(client: Client) -> None:
    ef = HashingEmbeddingFunction(dim=16)
    col = client.create_collection("docs", embedding_function=ef)
    assert col.configuration_json["embedding_function"] == {
        "name": "sediment_hashing", "type": "known", "config": {"dim": 16},
    }
    assert col.configuration_json["hnsw"]["space"] == "cosine"  # the function's default space
    col.add(ids=["a", "b"], documents=["the quick brown fox", "lorem ipsum dolor"])
    got = col.get(include=["embeddings"])
    np.testing.assert_allclose(got["embeddings"], np.asarray(ef(["the quick brown fox", "lorem ipsum dolor"])))
    # get_collection without a function rebuilds the persisted one
    again = client.get_collection("docs")
    assert isinstance(again.configuration["embedding_function"], HashingEmbeddingFunction)
    res = again.query(query_texts=["quick brown fox"], n_results=1)
    assert res["ids"] == [["a"]]


def test_persisted_function_survives_reopen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "db")
    settings = chromadb.Settings(sediment_durability="off")
    with chromadb.PersistentClient(path, settings=settings) as c:
        c.create_collection("docs", embedding_function=LengthEmbedding(scale=3.0))
    with chromadb.PersistentClient(path, settings=settings) as c:
        col = c.get_collection("docs")
        col.add(ids=["x"], documents=["banana"])
        np.testing.assert_allclose(col.get(include=["embeddings"])["embeddings"], [[18.0, 3.0]])


def test_query_texts_use_embed_query(client: Client) -> None:
    col = client.create_collection("qqq", embedding_function=LengthEmbedding())
    col.add(ids=["a"], embeddings=[[4.0, 2.0]])
    res = col.query(query_texts=["ab"], n_results=1, include=["distances"])
    assert res["distances"][0][0] == pytest.approx(0.0)  # embed_query doubles (2, 1) to (4, 2)


def test_update_with_documents_recomputes_embeddings(client: Client) -> None:
    col = client.create_collection("uuu", embedding_function=LengthEmbedding())
    col.add(ids=["a"], documents=["aa"])
    col.update(ids=["a"], documents=["aaaa"])
    np.testing.assert_allclose(col.get(include=["embeddings"])["embeddings"], [[4.0, 4.0]])
    col.upsert(ids=["b"], documents=["bbb"])
    assert col.get(ids=["b"], include=["documents"])["documents"] == ["bbb"]


def test_conflicting_functions_on_create_and_get(client: Client) -> None:
    with pytest.raises(ValueError) as info:
        client.create_collection("ccc", embedding_function=LengthEmbedding(),
                                 configuration={"embedding_function": HashingEmbeddingFunction(dim=4)})
    assert str(info.value) == (
        "Multiple embedding functions provided. Please provide only one. Embedding function conflict: "
        "test_length vs sediment_hashing"
    )
    client.create_collection("ccc", embedding_function=HashingEmbeddingFunction(dim=4))
    with pytest.raises(ValueError) as info:
        client.get_collection("ccc", embedding_function=LengthEmbedding())
    assert str(info.value) == (
        "An embedding function already exists in the collection configuration, and a new one is provided. "
        "If this is intentional, please embed documents separately. Embedding function conflict: "
        "new: test_length vs persisted: sediment_hashing"
    )


def test_function_given_only_in_configuration(client: Client) -> None:
    col = client.create_collection("cfg", configuration={"embedding_function": LengthEmbedding(scale=2.0)})
    col.add(ids=["a"], documents=["ab"])
    np.testing.assert_allclose(col.get(include=["embeddings"])["embeddings"], [[4.0, 1.0]])
    assert col.configuration_json["embedding_function"]["config"] == {"scale": 2.0}


def test_changing_the_function_configuration(client: Client) -> None:
    col = client.create_collection("chg", embedding_function=LengthEmbedding(scale=1.0))
    col.modify(configuration={"embedding_function": LengthEmbedding(scale=5.0)})
    assert client.get_collection("chg").configuration_json["embedding_function"]["config"] == {"scale": 5.0}
    with pytest.raises(ValueError, match=r"Cannot update embedding function: incompatible types"):
        col.modify(configuration={"embedding_function": HashingEmbeddingFunction(dim=2)})


def test_call_signature_must_name_input(client: Client) -> None:
    class OldStyle:
        def __call__(self, texts: Any) -> Any:
            return [[1.0]]

    with pytest.raises(ValueError, match="Expected EmbeddingFunction.__call__ to have the following signature"):
        client.create_collection("old", embedding_function=OldStyle())


def test_legacy_function_without_name_is_stored_as_legacy(client: Client) -> None:
    class Legacy:
        def __call__(self, input: Any) -> Any:
            return [[float(len(t))] for t in input]

    col = client.create_collection("legacy", embedding_function=Legacy())
    assert col.configuration_json["embedding_function"] == {"type": "legacy"}
    col.add(ids=["a"], documents=["abc"])
    np.testing.assert_allclose(col.get(include=["embeddings"])["embeddings"], [[3.0]])


def test_default_function_is_recorded_by_name(client: Client) -> None:
    col = client.create_collection("default-ef")
    assert col.configuration_json["embedding_function"] == {"type": "known", "name": "default", "config": {}}


def test_without_any_function_documents_use_the_default(client: Client) -> None:
    # Chroma 1.5's default schema carries the default function, so embedding_function=None
    # at creation still embeds documents with it.
    ef = embedding_functions_default()
    col = client.create_collection("no-ef", embedding_function=None)
    col.add(ids=["a"], documents=["a sentence to embed"])
    np.testing.assert_allclose(col.get(include=["embeddings"])["embeddings"], ef(["a sentence to embed"]), rtol=1e-5)


def embedding_functions_default() -> Any:
    from sedimentdb.utils.embedding_functions import DefaultEmbeddingFunction, EmbeddingExtraMissingError

    ef = DefaultEmbeddingFunction()
    try:
        ef(["probe"])
    except EmbeddingExtraMissingError as exc:
        pytest.skip(f"the default model is not installed here: {exc}")
    return ef


def test_unregistered_persisted_function_is_reported(client: Client) -> None:
    col = client.create_collection("orphan", embedding_function=LengthEmbedding())
    engine = client._engine()
    config = dict(col.configuration_json)
    config["embedding_function"] = {"type": "known", "name": "nobody_knows", "config": {}}
    engine.modify_collection(col._model.id, configuration=config)
    orphan = client.get_collection("orphan")
    with pytest.raises(ValueError) as info:
        orphan.add(ids=["a"], documents=["x"])
    assert str(info.value) == (
        "Embedding function nobody_knows not found. Add @register_embedding_function decorator to the class "
        "definition. in add."
    )


def test_utils_is_an_attribute_of_the_package_as_in_chroma() -> None:
    """``import chromadb; chromadb.utils.embedding_functions.X`` works in Chroma (and EMBEDDINGS.md
    promises it for ``import sedimentdb as chromadb``); a fresh interpreter, where nothing has
    imported ``sedimentdb.utils`` yet, raised AttributeError."""
    import subprocess
    import sys

    code = ("import sedimentdb as chromadb\n"
            "ef = chromadb.utils.embedding_functions.HashingEmbeddingFunction(dim=4)\n"
            "print(len(ef(['x'])[0]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"
