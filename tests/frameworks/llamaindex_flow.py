"""LlamaIndex's ``ChromaVectorStore``: insert, query, metadata filters, delete; run as a child process.

    python llamaindex_flow.py embedded PATH   # through the chromadb alias (SEDIMENTDB_AS_CHROMADB=1)
    python llamaindex_flow.py http PORT       # Chroma's chromadb-client against `sediment run`

Every step asserts; the last line printed is a JSON summary the test checks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chromadb  # noqa: E402
from fake_embedding import embed  # noqa: E402
from llama_index.core import Document, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.vector_stores import (  # noqa: E402
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: E402


class WordEmbedding(BaseEmbedding):
    """LlamaIndex's embedding interface over the deterministic fake."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed(text)


DOCS = [Document(text="the cat sat on the mat", metadata={"topic": "pets", "year": 2020}, doc_id="d-cat"),
        Document(text="stock markets fell sharply today", metadata={"topic": "finance", "year": 2022}, doc_id="d-stock"),
        Document(text="the cat chased a mouse", metadata={"topic": "pets", "year": 2023}, doc_id="d-mouse"),
        Document(text="interest rates and stock prices", metadata={"topic": "finance", "year": 2024}, doc_id="d-rates")]


def flow(client: Any) -> dict[str, object]:
    """The whole flow on a fresh collection; what it saw."""
    collection = client.get_or_create_collection("llamaindex-flow")
    store = ChromaVectorStore(chroma_collection=collection)
    index = VectorStoreIndex.from_documents(DOCS, storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=WordEmbedding())
    assert collection.count() == 4
    nodes = index.as_retriever(similarity_top_k=2).retrieve("cat on a mat")
    assert nodes[0].node.get_content() == "the cat sat on the mat", nodes
    assert nodes[0].score is not None and nodes[0].score >= nodes[1].score  # similarity, best first
    finance = MetadataFilters(filters=[MetadataFilter(key="topic", value="finance")])
    hits = index.as_retriever(similarity_top_k=4, filters=finance).retrieve("cat")
    assert {n.node.metadata["topic"] for n in hits} == {"finance"} and len(hits) == 2
    recent = MetadataFilters(filters=[MetadataFilter(key="topic", value="pets"),
                                      MetadataFilter(key="year", value=2021, operator=FilterOperator.GT)])
    hits = index.as_retriever(similarity_top_k=4, filters=recent).retrieve("cat")
    assert [n.node.get_content() for n in hits] == ["the cat chased a mouse"]
    raw = store.query(VectorStoreQuery(query_embedding=embed("stock prices"), similarity_top_k=1))
    assert raw.nodes is not None and raw.nodes[0].get_content() == "interest rates and stock prices"
    index.delete_ref_doc("d-stock")
    assert collection.count() == 3
    left = index.as_retriever(similarity_top_k=4).retrieve("stock markets")
    assert "stock markets fell sharply today" not in [n.node.get_content() for n in left]
    client.delete_collection("llamaindex-flow")
    return {"count_after_delete": 3, "chromadb": chromadb.Collection.__module__.split(".")[0]}


def main(mode: str, where: str) -> dict[str, object]:
    """Run one mode (see the module docstring)."""
    if mode == "embedded":
        return flow(chromadb.PersistentClient(path=where))
    return flow(chromadb.HttpClient(host="127.0.0.1", port=int(where)))


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
