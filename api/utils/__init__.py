"""Helpers Chroma users reach through ``chromadb.utils``; here ``sedimentdb.utils``.

:mod:`sedimentdb.utils.embedding_functions` and :mod:`sedimentdb.utils.batch_utils`. With the
``chromadb`` alias on (:func:`sedimentdb.install_as_chromadb`), ``from chromadb.utils import
embedding_functions`` imports them.
"""

from sedimentdb.config import C, get_class  # noqa: F401  (Chroma re-exports these here)
