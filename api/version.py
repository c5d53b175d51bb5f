"""SedimentDB's own version, and the version of Chroma whose API it reproduces.

The one place either number is written: ``pyproject.toml`` reads :data:`__version__` from here
(``[tool.setuptools.dynamic]``), and ``sedimentdb.__version__`` re-exports it.

``get_version()`` answers :data:`CHROMA_API_VERSION`, embedded and over HTTP (``GET
/api/v2/version``), as Chroma's own server does: clients and tools read that answer to decide
which Chroma API the server speaks (``1.x``: API v2), so a SedimentDB number there (``0.1.0``)
would make them take it for a pre-0.4 Chroma. SedimentDB's own version is ``__version__``,
``sediment --version``, the ``info.version`` of the server's ``/openapi.json`` and the server's
start log line.
"""

__version__ = "0.1.0"
"""SedimentDB's release (what pip installs and ``sediment --version`` prints)."""

CHROMA_API_VERSION = "1.5.9"
"""The Chroma release whose API and behaviour SedimentDB reproduces (what ``get_version()`` answers)."""
