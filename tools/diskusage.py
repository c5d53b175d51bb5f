"""Disk usage of a directory tree, for reports: stands alone (no engine, no API), so the Chroma
reader can use it as well as the engine-facing tools."""

from __future__ import annotations

import os


def tree_bytes(path: str) -> int:
    """Total size of the regular files under ``path`` (0 if missing)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass  # a file removed while walking no longer counts
    return total
