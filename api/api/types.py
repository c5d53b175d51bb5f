"""``chromadb.api.types``: the same names as :mod:`sedimentdb.types`."""

from typing import Any

from sedimentdb import types as _types
from sedimentdb.filters import validate_where, validate_where_document  # noqa: F401
from sedimentdb.types import *  # noqa: F403
from sedimentdb.types import GetResult, Include, QueryResult  # noqa: F401  (explicit for type checkers)
from sedimentdb.validation import (  # noqa: F401
    validate_embeddings,
    validate_ids,
    validate_include,
    validate_metadata,
    validate_metadatas,
    validate_n_results,
)


def __getattr__(name: str) -> Any:
    """Embedding-function names, loaded lazily as in :mod:`sedimentdb.types`."""
    return _types.__getattr__(name)
