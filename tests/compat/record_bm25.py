"""Record chromadb 1.5.9's ``ChromaBm25EmbeddingFunction`` outputs into ``chromadb_bm25.json``.

Run it with the FULL chromadb installed plus ``snowballstemmer`` (Chroma's function needs it)::

    /tmp/chroma159/bin/pip install chromadb==1.5.9 snowballstemmer
    /tmp/chroma159/bin/python tests/compat/record_bm25.py > tests/compat/chromadb_bm25.json

tests/compat/test_bm25.py checks that SedimentDB's function gives exactly these vectors.
"""

from __future__ import annotations

import json
import random
import sys

TEXTS = [
    "The quick brown fox jumps over the lazy dog",
    "A fast auburn fox leaps over a sleepy canine",
    "Machine learning is a subset of artificial intelligence",
    "", "   ", "!!!", "the and of",  # nothing left after punctuation and stopwords
    "Running runners run; they ran, and they're running again!",
    "don't won't it's shouldn't've",
    "e-mail re-entry co-operate state-of-the-art",
    "snake_case and CamelCase and UPPERCASE words_with_underscores",
    "numbers 42 3.14 1,000,000 2026-12-07 v1.5.9",
    "Ünïcödé naïve café résumé Straße",
    "日本語のテキスト and 中文 mixed with English",
    "emoji 🚀 rockets 🚀🚀 launch",
    "tab\tseparated\nnew line\r\nwindows",
    "supercalifragilisticexpialidocious " + "x" * 41 + " " + "y" * 40,
    "repeat repeat repeat repeat different",
    "generously generous generation generational generate",
]
CONFIGS = [
    {},
    {"include_tokens": True},
    {"k": 2.0, "b": 0.3, "avg_doc_length": 10.0},
    {"token_max_length": 5, "include_tokens": True},
    {"stopwords": ["quick", "FOX", "run"]},
]


def random_texts(n: int) -> list[str]:
    """Pseudo-random word soup from a fixed vocabulary (seeded: the same file every run)."""
    rng = random.Random(19)
    vocab = [w for t in TEXTS for w in t.split()] + ["the", "a", "is", "of", ".", ",", "?"]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 30))) for _ in range(n)]


def main() -> None:
    """Print the fixture JSON."""
    import chromadb
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    texts = TEXTS + random_texts(40)
    cases = []
    for config in CONFIGS:
        ef = ChromaBm25EmbeddingFunction(**config)
        vectors = ef(texts)
        cases.append({"config": config, "get_config": ef.get_config(),
                      "outputs": [{"indices": v.indices, "values": v.values, "labels": v.labels} for v in vectors],
                      "query": [{"indices": v.indices, "values": v.values} for v in ef.embed_query(texts[:3])]})
    json.dump({"chromadb": chromadb.__version__, "texts": texts, "cases": cases}, sys.stdout, indent=1,
              ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
