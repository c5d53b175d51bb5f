"""The search for a valid frame after damage: exact, and fast enough for every torn tail."""

from __future__ import annotations

import random
import time
import uuid

import numpy as np

from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.frames import FileHeader, Frame, encode_file_header, encode_frames, parse_frame
from sedimentdb.engine.wal.reader import valid_frame_after

HEADER = encode_file_header(FileHeader(str(uuid.uuid4()), 0, 1, 0))


def slow_valid_frame_after(data: bytes, offset: int) -> int | None:
    """The definition: parse a frame at every aligned offset after ``offset``."""
    for pos in range(F.padded(offset + 1), len(data) - F.FRAME_HEADER_SIZE + 1, F.ALIGN):
        if isinstance(parse_frame(data, pos), Frame):
            return pos
    return None


def damaged_log(rng: random.Random) -> bytes:
    parts = [HEADER]
    for lsn in range(1, rng.randint(1, 10)):
        n = rng.choice([0, 1, 7, 100, 3000])
        parts.append(encode_frames(lsn, 10, rng.randbytes(n) if rng.random() < 0.5 else bytes(n)))
    d = bytearray(b"".join(parts))
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.4 and len(d) > 64:
            d[rng.randrange(64, len(d))] ^= 1 << rng.randrange(8)
        elif op < 0.6:
            del d[rng.randint(64, len(d)):]
        elif op < 0.8 and len(d) > 64:
            i = rng.randrange(64, len(d))
            k = min(rng.randint(1, 200), len(d) - i)
            d[i: i + k] = bytes(k)
        else:
            d += rng.randbytes(rng.randint(0, 300)) if rng.random() < 0.5 else bytes(rng.randint(0, 300))
    return bytes(d)


def test_agrees_with_the_definition_on_damaged_logs():
    rng = random.Random(7)
    for _ in range(300):
        data = damaged_log(rng)
        for off in {64, rng.randrange(0, len(data) + 1), len(data)}:
            assert valid_frame_after(data, off) == slow_valid_frame_after(data, off)


def test_finds_a_frame_beyond_the_first_search_window():
    frame = encode_frames(9, 10, b"payload")
    junk = np.random.default_rng(1).random((3 << 20) // 4, dtype=np.float32).tobytes()
    data = HEADER + junk + frame
    assert valid_frame_after(data, 64) == 64 + len(junk)


def test_torn_tail_of_a_large_record_is_classified_quickly():
    # A torn 20 MB batch of vectors: a per-offset Python parse took seconds here.
    vectors = np.random.default_rng(0).random(5_000_000, dtype=np.float32).tobytes()
    torn = (HEADER + encode_frames(1, 10, vectors))[:-1000]
    started = time.perf_counter()
    assert valid_frame_after(torn, 64) is None
    assert time.perf_counter() - started < 1.0
