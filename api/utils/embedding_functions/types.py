"""The value types an embedding function consumes and produces, as Chroma names them."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Document = str
"""One text to embed."""

Documents = list[Document]
"""A batch of texts; the input of :meth:`EmbeddingFunction.__call__`."""

Embedding = npt.NDArray[np.float32]
"""One vector: a 1-D numpy array."""

Embeddings = list[Embedding]
"""A batch of vectors, one per input, in input order."""

Space = Literal["cosine", "l2", "ip"]
"""The distance spaces a collection may use."""

ALL_SPACES: list[Space] = ["cosine", "l2", "ip"]
