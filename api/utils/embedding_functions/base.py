"""The embedding function protocol, as Chroma 1.x defines it.

Subclasses implement ``__call__(self, input)``; for persistence they also implement
``name()``, ``get_config()`` and ``build_from_config()`` and register themselves with
:func:`sedimentdb.utils.embedding_functions.register_embedding_function`, so a collection
reopened later can rebuild its function from the stored ``{"name", "config"}`` pair.
"""

from __future__ import annotations

import functools
import warnings
from abc import abstractmethod
from inspect import signature
from typing import Any, Protocol, TypeVar, runtime_checkable

from sedimentdb.utils.embedding_functions.validation import normalize_embeddings, validate_embeddings
from sedimentdb.utils.embedding_functions.value_types import ALL_SPACES, Embeddings, Space

D = TypeVar("D", contravariant=True)


@runtime_checkable
class EmbeddingFunction(Protocol[D]):
    """Turns a batch of inputs (texts, for every function shipped here) into vectors.

    Every subclass's ``__call__`` is wrapped so its result is normalised to a list of 1-D
    numpy arrays and validated, whatever shape the implementation returned.
    """

    @abstractmethod
    def __call__(self, input: D) -> Embeddings:
        """Embed a batch; one vector per input, in order."""
        ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Wrap only a __call__ this class defines itself: wrapping an inherited one again
        # would just validate the same result twice.
        if "__call__" in cls.__dict__:
            cls.__call__ = _checked_call(cls.__dict__["__call__"])  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Accept anything; a subclass without its own ``__init__`` gets a warning, as in Chroma."""
        warnings.warn(
            f"The class {self.__class__.__name__} does not implement __init__. "
            "This will be required in a future version.",
            DeprecationWarning,
            stacklevel=2,
        )

    def embed_query(self, input: D) -> Embeddings:
        """Embed query inputs (``query_texts``); the same as ``__call__`` unless overridden."""
        return self.__call__(input)

    def embed_with_retries(self, input: D, **retry_kwargs: Any) -> Embeddings:
        """Embed without retrying: every shipped function is local, so a failure will not heal.

        Chroma passes ``retry_kwargs`` to tenacity; they are accepted for compatibility.
        """
        return self.__call__(input)

    @staticmethod
    def name() -> str:
        """The registry name stored in a collection's configuration (``NotImplemented`` = legacy)."""
        warnings.warn(
            "The EmbeddingFunction class does not implement name(). This will be required in a future version.",
            DeprecationWarning,
            stacklevel=2,
        )
        return NotImplemented  # type: ignore[return-value]

    def default_space(self) -> Space:
        """The distance space a collection uses when none is configured."""
        return "l2"

    def supported_spaces(self) -> list[Space]:
        """The distance spaces this function's vectors make sense in."""
        return list(ALL_SPACES)

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Any]:
        """Rebuild a function from :meth:`get_config` output (``NotImplemented`` = legacy)."""
        warnings.warn(
            "The EmbeddingFunction class does not implement build_from_config(). "
            "This will be required in a future version.",
            DeprecationWarning,
            stacklevel=2,
        )
        return NotImplemented  # type: ignore[return-value]

    def get_config(self) -> dict[str, Any]:
        """The JSON-serialisable arguments that rebuild this function (``NotImplemented`` = legacy)."""
        warnings.warn(
            f"The class {self.__class__.__name__} does not implement get_config(). "
            "This will be required in a future version.",
            DeprecationWarning,
            stacklevel=2,
        )
        return NotImplemented  # type: ignore[return-value]

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Reject a configuration change that would make stored vectors incomparable; allows all by default."""
        return

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Reject a malformed configuration; accepts all by default."""
        return

    def is_legacy(self) -> bool:
        """True when the function cannot be persisted by name (it lacks name/get_config/build_from_config)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if self.name() is NotImplemented or self.get_config() is NotImplemented:
                return True
            return self.build_from_config(self.get_config()) is NotImplemented


# Set on the wrapped ``__call__`` of every subclass: its result is already normalised and validated.
_CHECKS_OUTPUT = "_sedimentdb_checks_output"


def _checked_call(call: Any) -> Any:
    def __call__(self: EmbeddingFunction[Any], input: Any) -> Embeddings:
        result = call(self, input)
        if result is None:
            raise ValueError(f"{type(self).__name__}.__call__ returned None; expected embeddings")
        return validate_embeddings(normalize_embeddings(result))

    # Keep the name and docstring but not __wrapped__: like Chroma, the visible signature
    # is always (self, input), whatever the implementation called its parameter.
    functools.update_wrapper(__call__, call, updated=())
    del __call__.__wrapped__  # type: ignore[attr-defined]
    setattr(__call__, _CHECKS_OUTPUT, True)
    return __call__


def returns_checked_embeddings(embedding_function: Any, is_query: bool) -> bool:
    """Whether embedding with this function (its ``embed_query`` when ``is_query``) already checks the result.

    True for a subclass whose ``__call__`` is wrapped above and whose ``embed_query``, if asked
    for, is the inherited one (which calls ``__call__``); the collection then does not check
    the same vectors a second time. A plain callable, or an ``embed_query`` of its own, is not.
    """
    cls = type(embedding_function)
    call_checked = bool(getattr(cls.__call__, _CHECKS_OUTPUT, False))
    if is_query and hasattr(embedding_function, "embed_query"):
        return call_checked and getattr(cls, "embed_query", None) is EmbeddingFunction.embed_query
    return call_checked


def validate_embedding_function(embedding_function: Any) -> None:
    """Raise ``ValueError`` when an object's ``__call__`` does not take a parameter named ``input``.

    Chroma changed the interface in 0.4.16; this catches functions written for the old one.
    """
    function_signature = signature(embedding_function.__class__.__call__).parameters.keys()
    protocol_signature = signature(EmbeddingFunction.__call__).parameters.keys()
    if function_signature != protocol_signature:
        raise ValueError(
            f"Expected EmbeddingFunction.__call__ to have the following signature: {protocol_signature}, "
            f"got {function_signature}\n"
            "Please see https://docs.trychroma.com/guides/embeddings for details of the EmbeddingFunction "
            "interface.\nPlease note the change to the EmbeddingFunction interface in Chroma 0.4.16."
        )
