"""What the in-process HTTP fuzz harnesses share."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any


def close_app(loop: asyncio.AbstractEventLoop, client: Any, app: Any, root: str) -> None:
    """Close the client, the engine (log synced, lock released) and the loop; remove the data directory."""
    try:
        loop.run_until_complete(client.aclose())
        app.state.service.close()
        loop.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
