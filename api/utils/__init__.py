"""Helpers Chroma users reach through ``chromadb.utils``; here ``sedimentdb.utils``.

The only resident today is :mod:`sedimentdb.utils.embedding_functions`, so that
``from chromadb.utils import embedding_functions`` keeps working after
``import sedimentdb as chromadb``.
"""
