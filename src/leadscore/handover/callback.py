"""CallbackSink: deliver hand-overs to any Python callable."""

from __future__ import annotations

from collections.abc import Callable

from leadscore.errors import DeliveryError
from leadscore.handover.record import HandOver

__all__ = ["CallbackSink"]


class CallbackSink:
    """Call ``function(handover)`` for each hand-over; its return value is ignored.

    A DeliveryError from the function passes through unchanged, so the function can
    mark a failure as permanent. Any other exception becomes a retryable
    DeliveryError whose message names only the exception type, because exception
    text may quote profile values. The original stays attached as ``__cause__``.
    Example::

        CallbackSink(lambda handover: queue.put(handover.to_json()))
    """

    def __init__(self, function: Callable[[HandOver], object], *, name: str | None = None) -> None:
        if not callable(function):
            raise TypeError(f"function must be callable, got {type(function).__name__}")
        self._function = function
        self._name = name or getattr(function, "__qualname__", None) or type(function).__name__

    def __repr__(self) -> str:
        return f"CallbackSink({self._name!r})"

    def deliver(self, handover: HandOver) -> None:
        """Call the function; raises DeliveryError if it raises."""
        try:
            self._function(handover)
        except DeliveryError:
            raise
        except Exception as error:
            raise DeliveryError(
                f"callback {self._name} raised {type(error).__name__} for hand-over {handover.key}",
                retryable=True,
            ) from error
