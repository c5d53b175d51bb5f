"""LangChain's ``Chroma`` vector store, the way an application uses it; run as a child process.

    python langchain_flow.py embedded-write PATH    # through the chromadb alias (SEDIMENTDB_AS_CHROMADB=1)
    python langchain_flow.py embedded-reopen PATH   # a new process reopens what the first one wrote
    python langchain_flow.py http PORT              # Chroma's chromadb-client against `sediment run`

Every step asserts; the last line printed is a JSON summary the test checks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chromadb  # noqa: E402
from fake_embedding import embed  # noqa: E402
from langchain_chroma import Chroma  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402


class WordEmbeddings(Embeddings):
    """LangChain's embedding interface over the deterministic fake."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


TEXTS = ["the cat sat on the mat", "dogs chase cats in the park", "stock markets fell sharply today",
         "the cat chased a mouse", "interest rates and stock prices"]
METAS = [{"topic": "pets", "year": 2020}, {"topic": "pets", "year": 2021}, {"topic": "finance", "year": 2022},
         {"topic": "pets", "year": 2023}, {"topic": "finance", "year": 2024}]
IDS = [f"doc{i}" for i in range(len(TEXTS))]


def _store(**kwargs: object) -> Chroma:
    return Chroma(collection_name="langchain-flow", embedding_function=WordEmbeddings(),
                  collection_metadata={"hnsw:space": "cosine"}, **kwargs)  # type: ignore[arg-type]


def write_and_search(store: Chroma) -> dict[str, object]:
    """The whole flow on an empty store; what it saw."""
    assert store.add_texts(TEXTS, metadatas=METAS, ids=IDS) == IDS
    top = store.similarity_search("cat on a mat", k=2)
    assert top[0].page_content == "the cat sat on the mat" and top[0].metadata["topic"] == "pets", top
    scored = store.similarity_search_with_score("stock prices", k=2)
    assert scored[0][0].page_content == "interest rates and stock prices", scored
    assert scored[0][1] <= scored[1][1]  # distances, nearest first
    mmr = store.max_marginal_relevance_search("cat", k=2, fetch_k=5, lambda_mult=0.5)
    assert len(mmr) == 2 and len({d.page_content for d in mmr}) == 2
    finance = store.similarity_search("cat", k=5, filter={"topic": "finance"})
    assert {d.metadata["topic"] for d in finance} == {"finance"} and len(finance) == 2
    recent = store.similarity_search("cat", k=5, filter={"$and": [{"topic": "pets"}, {"year": {"$gte": 2021}}]})
    assert {d.page_content for d in recent} == {"dogs chase cats in the park", "the cat chased a mouse"}
    mouse = store.similarity_search("cat", k=5, where_document={"$contains": "mouse"})
    assert [d.page_content for d in mouse] == ["the cat chased a mouse"]
    got = store.get(ids=["doc2"], include=["documents", "metadatas"])
    assert got["documents"] == ["stock markets fell sharply today"] and got["metadatas"][0]["year"] == 2022
    assert len(store.get(where={"topic": "pets"})["ids"]) == 3
    store.delete(ids=["doc1"])
    assert store.get(ids=["doc1"])["ids"] == []
    remaining = store.get()["ids"]
    assert sorted(remaining) == ["doc0", "doc2", "doc3", "doc4"], remaining
    return {"remaining": sorted(remaining), "chromadb": chromadb.Collection.__module__.split(".")[0]}


def reopen(store: Chroma) -> dict[str, object]:
    """What a new process sees in the store another process wrote."""
    remaining = sorted(store.get()["ids"])
    assert remaining == ["doc0", "doc2", "doc3", "doc4"], remaining
    top = store.similarity_search("cat on a mat", k=1)
    assert top[0].page_content == "the cat sat on the mat"
    return {"remaining": remaining, "chromadb": chromadb.Collection.__module__.split(".")[0]}


def main(mode: str, where: str) -> dict[str, object]:
    """Run one mode (see the module docstring)."""
    if mode == "embedded-write":
        return write_and_search(_store(persist_directory=where))
    if mode == "embedded-reopen":
        return reopen(_store(persist_directory=where))
    client = chromadb.HttpClient(host="127.0.0.1", port=int(where))
    out = write_and_search(_store(client=client))
    _store(client=client).delete_collection()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
