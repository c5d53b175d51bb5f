"""One API scenario, run unchanged against every client (embedded, HTTP, async HTTP, Chroma's own).

Written as a coroutine that awaits each call through :func:`aw`, so the same lines drive
synchronous clients (values) and asynchronous ones (coroutines). It asserts as it goes and
returns a transcript of every result, normalised to plain data, so transcripts of different
clients can be compared for equality.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import numpy as np
import pytest

RECORDS = {
    "ids": ["a", "b", "c", "d"],
    "embeddings": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
    "metadatas": [{"color": "red", "n": 1}, {"color": "yellow", "n": 2}, {"color": "red", "n": 3}, None],
    "documents": ["apple pie", "banana split", "cherry tart", "date"],
}


async def aw(value: Any) -> Any:
    """Await coroutines, pass values through."""
    return await value if inspect.isawaitable(value) else value


def plain(value: Any) -> Any:
    """Results as plain, comparable data (arrays to lists, floats rounded)."""
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 5)
    return value


async def expect_error(errors: ModuleType, kind: str, call: Any) -> str:
    """Run ``call``; it must raise ``errors.<kind>`` (or the builtin of that name). Its message."""
    expected = getattr(errors, kind, None) or getattr(__builtins__, kind, None) or {
        "ValueError": ValueError, "TypeError": TypeError}[kind]
    with pytest.raises(expected) as caught:
        await aw(call())
    return str(caught.value)


async def run_scenario(client: Any, errors: ModuleType, name: str) -> list[Any]:
    """The full scenario on ``client``; the transcript of results."""
    log: list[Any] = []
    version = await aw(client.heartbeat())
    assert isinstance(version, int) and version > 0

    col = await aw(client.create_collection(name, metadata={"topic": "fruit"}, embedding_function=None))
    assert col.name == name and col.metadata == {"topic": "fruit"}
    await aw(col.add(**RECORDS))
    assert await aw(col.count()) == 4

    got = await aw(col.get(where={"color": "red"}))
    assert got["ids"] == ["a", "c"] and got["documents"] == ["apple pie", "cherry tart"]
    assert got["embeddings"] is None
    log.append(plain({k: got[k] for k in ("ids", "documents", "metadatas")}))

    got = await aw(col.get(where_document={"$contains": "an"}, include=["documents"]))
    assert got["ids"] == ["b"] and got["metadatas"] is None
    log.append(plain(got["ids"]))

    got = await aw(col.get(ids=["c", "a"], include=["embeddings", "metadatas"]))
    assert got["ids"] == ["a", "c"]
    assert np.asarray(got["embeddings"]).shape == (2, 3)
    log.append(plain({"ids": got["ids"], "embeddings": got["embeddings"], "metadatas": got["metadatas"]}))

    got = await aw(col.get(where={"$and": [{"color": "red"}, {"n": {"$gt": 1}}]}, limit=5, offset=0))
    assert got["ids"] == ["c"]

    res = await aw(col.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=2))
    assert res["ids"] == [["a", "d"]]
    assert [round(d, 5) for d in res["distances"][0]] == [0.0, 1.0]
    assert res["metadatas"][0][1] is None
    log.append(plain({k: res[k] for k in ("ids", "distances", "documents", "metadatas")}))

    res = await aw(col.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=2, where={"n": {"$gte": 2}},
                             include=["distances"]))
    assert res["ids"] == [["b", "c"]] and res["documents"] is None
    log.append(plain({k: res[k] for k in ("ids", "distances")}))

    res = await aw(col.query(query_embeddings=[[0.0, 0.0, 1.0]], n_results=3,
                             where_document={"$contains": "tart"}, include=["documents", "embeddings"]))
    assert res["ids"] == [["c"]] and res["documents"] == [["cherry tart"]]
    log.append(plain({"ids": res["ids"], "embeddings": res["embeddings"]}))

    await aw(col.update(ids=["a", "zz"], metadatas=[{"n": 10, "color": None}, {"n": 0}]))
    got = await aw(col.get(ids=["a"]))
    assert got["metadatas"] == [{"n": 10}]
    await aw(col.update(ids=["a"], documents=["apple crumble"], embeddings=[[1.0, 0.0, 0.1]]))

    await aw(col.upsert(ids=["b", "e"], embeddings=[[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]],
                        metadatas=[{"color": "green"}, {"n": 5}], documents=["blueberry", "elderberry"]))
    got = await aw(col.get(ids=["a", "b", "e"]))
    assert got["metadatas"] == [{"n": 10}, {"color": "green", "n": 2}, {"n": 5}]
    assert got["documents"] == ["apple crumble", "blueberry", "elderberry"]
    log.append(plain(got))

    assert dict(await aw(col.delete(ids=["d"]))) == {"deleted": 1}
    assert dict(await aw(col.delete(where={"color": "red"}))) == {"deleted": 1}
    assert await aw(col.count()) == 3
    got = await aw(col.peek(limit=10))
    assert got["ids"] == ["a", "b", "e"]

    renamed = name + "-renamed"
    await aw(col.modify(name=renamed, metadata={"topic": "berries"}))
    again = await aw(client.get_collection(renamed, embedding_function=None))
    assert again.metadata == {"topic": "berries"} and again.id == col.id
    assert renamed in [c.name for c in await aw(client.list_collections())]
    count_before = await aw(client.count_collections())

    log.append(await expect_error(errors, "NotFoundError",
                                  lambda: client.get_collection("no-such-collection", embedding_function=None)))
    log.append(await expect_error(errors, "InvalidArgumentError",
                                  lambda: col.add(ids=["x"], embeddings=[[1.0, 2.0]])))
    log.append(await expect_error(errors, "InvalidArgumentError",
                                  lambda: col.query(query_embeddings=[[1.0, 2.0]], n_results=1)))
    log.append(await expect_error(errors, "InvalidArgumentError",
                                  lambda: client.create_collection("x!", embedding_function=None)))
    log.append(await expect_error(errors, "UniqueConstraintError",
                                  lambda: client.create_collection(renamed, embedding_function=None)))
    await expect_error(errors, "DuplicateIDError", lambda: col.add(ids=["q", "q"], embeddings=[[1.0, 0, 0]] * 2))
    await expect_error(errors, "ValueError", lambda: col.get(include=["distances"]))
    await expect_error(errors, "TypeError", lambda: col.query(query_embeddings=[[1.0, 0, 0]], n_results=0))
    assert await aw(col.count()) == 3  # nothing rejected was written

    await aw(client.delete_collection(renamed))
    assert await aw(client.count_collections()) == count_before - 1
    await expect_error(errors, "NotFoundError", lambda: client.get_collection(renamed, embedding_function=None))
    return log
