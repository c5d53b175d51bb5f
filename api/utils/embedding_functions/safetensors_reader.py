"""Read a ``.safetensors`` file into numpy arrays, without the safetensors package.

The format is small and fixed: an 8-byte little-endian header length, a JSON header mapping
tensor names to ``{"dtype", "shape", "data_offsets"}``, then the raw little-endian bytes.
Reading it here keeps the optional extra one package lighter.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Return every tensor in ``path`` by name (metadata entries are skipped)."""
    data = path.read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} exceeds the file size {len(data)}")
    header = json.loads(data[8 : 8 + header_len])
    body = memoryview(data)[8 + header_len :]
    return {name: _tensor(path, name, spec, body) for name, spec in header.items() if name != "__metadata__"}


def _tensor(path: Path, name: str, spec: dict, body: memoryview) -> np.ndarray:
    dtype = _DTYPES.get(spec["dtype"])
    if dtype is None:
        raise ValueError(f"{path}: tensor {name} has unsupported dtype {spec['dtype']}")
    start, end = spec["data_offsets"]
    shape = tuple(spec["shape"])
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if end - start != expected or end > len(body):
        raise ValueError(f"{path}: tensor {name} has {end - start} bytes, shape {shape} needs {expected}")
    # Copy out of the file buffer so the (large) bytes object can be freed after the build.
    return np.frombuffer(body[start:end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()
