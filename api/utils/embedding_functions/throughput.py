"""Measure embedding throughput: ``python -m sedimentdb.utils.embedding_functions.throughput``.

Embeds synthetic sentences (seeded, so every run sees the same texts) in calls of
``--batch-size`` texts and prints texts per second, after one warm-up call that loads the
model (and builds its graph if this machine has never done so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np

from sedimentdb.utils.embedding_functions.default import DefaultEmbeddingFunction
from sedimentdb.utils.embedding_functions.hashing import HashingEmbeddingFunction

_WORDS = (
    "the a vector database stores embeddings and documents while queries find nearest neighbours "
    "quickly write ahead log segment compaction crash safe recovery index collection metadata filter "
    "cosine distance model sentence token batch cache offline memory disk replica snapshot"
).split()


def synthetic_texts(count: int, words: int, seed: int = 0) -> list[str]:
    """``count`` sentences of about ``words`` words each (±30%), reproducible for a seed."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(1, int(words * 0.7)), int(words * 1.3) + 2, size=count)
    return [" ".join(rng.choice(_WORDS, size=int(n))) + "." for n in lengths]


def measure(
    function_name: str, texts: Sequence[str], batch_size: int, repeats: int
) -> tuple[list[float], list[float]]:
    """Texts per wall-clock second and per CPU second (all threads), for each of ``repeats`` passes.

    The CPU figure is what to compare across machines or on a busy one: it does not drop
    when other processes compete for the cores.
    """
    ef = DefaultEmbeddingFunction() if function_name == "default" else HashingEmbeddingFunction()
    ef(list(texts[:batch_size]))  # warm-up: load (or build) the model outside the timing
    wall_rates, cpu_rates = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), batch_size):
            ef(list(texts[start : start + batch_size]))
        wall_rates.append(len(texts) / (time.perf_counter() - wall))
        cpu_rates.append(len(texts) / (time.process_time() - cpu))
    return wall_rates, cpu_rates


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the measurement and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", choices=["default", "hashing"], default="default")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--texts", type=int, default=1024)
    parser.add_argument("--words", type=int, default=10, help="mean words per text")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    texts = synthetic_texts(args.texts, args.words)
    wall, cpu = measure(args.function, texts, args.batch_size, args.repeats)
    print(
        f"{args.function}: batch {args.batch_size}, {args.texts} texts of ~{args.words} words, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}: "
        f"median {statistics.median(wall):,.0f} texts/s wall (min {min(wall):,.0f}, max {max(wall):,.0f}), "
        f"{statistics.median(cpu):,.0f} texts per CPU-second, {args.repeats} runs"
    )


if __name__ == "__main__":
    main()
