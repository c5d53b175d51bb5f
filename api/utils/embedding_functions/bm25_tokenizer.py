"""Chroma's BM25 tokenizer: punctuation to spaces, lower case, whitespace split, English stopwords
and over-long tokens dropped, Snowball English stemming (the ``snowballstemmer`` package, extra
``bm25``).

The stopword list is Chroma's ``DEFAULT_ENGLISH_STOPWORDS`` (NLTK's English list); the fixture test
(tests/compat/test_bm25.py) compares whole outputs with chromadb 1.5.9's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sedimentdb.engine.extras import MissingExtraError

DEFAULT_ENGLISH_STOPWORDS: list[str] = """
a about above after again against ain all am an and any are aren aren't as at be because been
before being below between both but by can couldn couldn't d did didn didn't do does doesn
doesn't doing don don't down during each few for from further had hadn hadn't has hasn hasn't
have haven haven't having he her here hers herself him himself his how i if in into is isn isn't
it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn
needn't no nor not now o of off on once only or other our ours ourselves out over own re s same
shan shan't she she's should should've shouldn shouldn't so some such t than that that'll the
their theirs them themselves then there these they this those through to too under until up ve
very was wasn wasn't we were weren weren't what when where which while who whom why will with
won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves""".split()

DEFAULT_CHROMA_BM25_STOPWORDS: list[str] = list(DEFAULT_ENGLISH_STOPWORDS)

# Runs of characters that are neither word characters nor whitespace become one space.
_NON_ALPHANUMERIC = re.compile(r"[^\w\s]+", flags=re.UNICODE)


class Bm25ExtraMissingError(MissingExtraError, ValueError):
    """``snowballstemmer`` is not installed. Also a ``ValueError``, which is what Chroma raises."""

    def __init__(self) -> None:
        super().__init__("ChromaBm25EmbeddingFunction (BM25 sparse vectors)", "the package 'snowballstemmer'",
                         "bm25", module="snowballstemmer")


def english_stemmer() -> Any:
    """Snowball's English stemmer; :class:`Bm25ExtraMissingError` without the ``bm25`` extra."""
    try:
        import snowballstemmer
    except ImportError:
        raise Bm25ExtraMissingError() from None
    return snowballstemmer.stemmer("english")


class Bm25Tokenizer:
    """Text to the stemmed tokens BM25 counts, in order (repeats kept)."""

    def __init__(self, stemmer: Any, stopwords: Iterable[str], token_max_length: int) -> None:
        self._stemmer = stemmer
        self._stopwords = {word.lower() for word in stopwords}
        self._token_max_length = token_max_length
        self._stems: dict[str, str] = {}  # Snowball is pure Python; words repeat

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        tokens = []
        for token in _NON_ALPHANUMERIC.sub(" ", text).lower().split():
            if token in self._stopwords or len(token) > self._token_max_length:
                continue
            stemmed = self._stems.get(token)
            if stemmed is None:
                stemmed = self._stemmer.stemWord(token).strip()
                if len(self._stems) < 1 << 16:
                    self._stems[token] = stemmed
            if stemmed:
                tokens.append(stemmed)
        return tokens
