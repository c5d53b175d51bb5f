"""``sedimentdb.server``: Chroma's HTTP API v2 over one embedded engine (``sediment run``).

:func:`create_app` builds the FastAPI application from a :class:`ServerConfig`; the
``sediment run`` command (``sedimentdb.tools.run_cmd``) serves it with uvicorn.
"""

from sedimentdb.server.app import create_app
from sedimentdb.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
