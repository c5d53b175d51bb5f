"""``sedimentdb.server``: Chroma's HTTP API v2 over one embedded engine (``sediment run``).

:func:`create_app` builds the FastAPI application from a :class:`ServerConfig`; the
``sediment run`` command (``sedimentdb.tools.run_cmd``) serves it with uvicorn.
"""

from sedimentdb.engine.extras import require_extra

require_extra("fastapi", "server", "The HTTP server (sedimentdb.server, `sediment run`)")

from sedimentdb.server.app import create_app  # noqa: E402 - after the check, so a missing extra says so
from sedimentdb.server.config import ServerConfig  # noqa: E402

__all__ = ["ServerConfig", "create_app"]
