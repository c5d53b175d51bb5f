"""``chromadb.api.models.Collection``: where Chroma code imports ``Collection`` from."""

from sedimentdb.api.collection_configuration import UpdateCollectionConfiguration  # noqa: F401
from sedimentdb.api.types import *  # noqa: F403
from sedimentdb.api.types import (  # noqa: F401
    IndexingStatus,
    ReadLevel,
    SearchResult,
    maybe_cast_one_to_many,
)
from sedimentdb.collection import Collection
from sedimentdb.search import Search  # noqa: F401
from sedimentdb.unimplemented import declare

declare(globals(), "chromadb.api.models.Collection", "CollectionCommon Function")

__all__ = ["Collection"]
