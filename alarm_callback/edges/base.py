"""One adapter class per event source, in the manner of Mangum's handlers.

An adapter says whether an event is its own (`infer`, explicit checks on fields the
source always sets), turns it into the one `Request`, and renders the one `Response`
in the shape that source expects back. `select` insists on exactly one match, so an
event two adapters could claim is an error, never a silent misroute.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple

from ..core.http import Request, Response
from .utils import generic_request, http_method, http_reply


class UnknownEventError(ValueError):
    """No adapter (or more than one) recognises the event."""


class EdgeOptions(NamedTuple):
    """How replies are shaped where a platform leaves it to the deployment.

    ``scf_response``: Tencent's API gateway with integrated response on (``integration``:
    the function returns ``{statusCode, headers, body}``) or off (``passthrough``: the
    gateway returns the function's value as the body, so the function returns the ack)."""

    scf_response: Literal["integration", "passthrough"] = "integration"


class Adapter(ABC):
    name: ClassVar[str]

    def __init__(self, event: Any, context: Any, options: EdgeOptions | None = None) -> None:
        self.event = event
        self.context = context
        self.options = options or EdgeOptions()

    @classmethod
    @abstractmethod
    def infer(cls, event: Any, context: Any) -> bool:
        """True when `event` comes from this source."""

    @property
    @abstractmethod
    def request(self) -> Request:
        """The event as a Request."""

    @abstractmethod
    def render(self, response: Response) -> Any:
        """The Response in the shape the source wants back."""


def select(event: Any, context: Any, adapters: Sequence[type[Adapter]], options: EdgeOptions | None = None) -> Adapter:
    """The one adapter whose `infer` claims the event. Every adapter is asked, so two that
    claim it are an error; a fallback whose `specific` adapters were all asked before it is
    answered from their answers (`FallbackAdapter.infer_after`) instead of asking them twice."""
    matches: list[type[Adapter]] = []
    for adapter, fallback in _plan(tuple(adapters)):
        if adapter.infer(event, context) if fallback is None else fallback.infer_after(event, matches):
            matches.append(adapter)
    if len(matches) == 1:
        return matches[0](event, context, options)
    names = ", ".join(adapter.name for adapter in matches) or "none"
    shape = sorted(event)[:12] if isinstance(event, dict) else type(event).__name__
    raise UnknownEventError(f"cannot tell the event source (matching adapters: {names}; event keys: {shape})")


@functools.lru_cache(maxsize=64)
def _plan(adapters: tuple[type[Adapter], ...]) -> tuple[tuple[type[Adapter], type[FallbackAdapter] | None], ...]:
    """Per adapter, itself as a `FallbackAdapter` when `select` can answer its `infer` from the
    adapters before it: its `infer` is `FallbackAdapter`'s own (not overridden) and every one
    of its `specific` adapters comes earlier in `adapters`. Computed once per adapter list."""
    plan: list[tuple[type[Adapter], type[FallbackAdapter] | None]] = []
    for index, adapter in enumerate(adapters):
        derived = (
            issubclass(adapter, FallbackAdapter)
            and adapter.infer.__func__ is FallbackAdapter.infer.__func__  # type: ignore[attr-defined]
            and set(adapter.specific) <= set(adapters[:index])
        )
        plan.append((adapter, adapter if derived and issubclass(adapter, FallbackAdapter) else None))
    return tuple(plan)


class FallbackAdapter(Adapter):
    """The last adapter of a platform: an event that has an HTTP method under any spelling
    (``httpMethod``, ``requestContext.http.method``, ``requestContext.httpMethod``) but that
    none of the platform's specific adapters (`specific`) claims. It is read from every
    field the known shapes use, goes through the receiver like any request (so it still
    needs the credential), and is answered in the proxy-integration shape
    ``{statusCode, headers, body, isBase64Encoded}``. Only an event with no HTTP shape at all
    is left unmatched (the entry point keeps it in the quarantine and raises)."""

    specific: ClassVar[tuple[type[Adapter], ...]] = ()

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return (
            isinstance(event, dict)
            and http_method(event) is not None
            and not any(adapter.infer(event, context) for adapter in cls.specific)
        )

    @classmethod
    def infer_after(cls, event: Any, matched: Sequence[type[Adapter]]) -> bool:
        """`infer` when the `specific` adapters have already been asked and `matched` lists
        those that claimed the event (with any others): the same answer, without asking them
        again."""
        return (
            not any(adapter in cls.specific for adapter in matched)  # the usual answer, and cheap
            and isinstance(event, dict)
            and http_method(event) is not None
        )

    @property
    def request(self) -> Request:
        return generic_request(self.event, self.name)

    def render(self, response: Response) -> Any:
        return http_reply(response)
