"""Function entry points, shared by both clouds. `handler.py` re-exports them.

The receiver (settings, backends, SDK clients) is built once per container, on the first
invocation, through the composition root (`alarm_callback.config.wiring`), and reused while
the container is warm. Every log line of an invocation carries the platform's request id.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict
from typing import Any

from ..config import logs, wiring
from ..config.settings import Settings
from ..core.errors import ConfigError
from ..core.http import Response
from ..core.receiver import Receiver
from . import AWS, SCF, load
from .base import Adapter, EdgeOptions, UnknownEventError, select


@functools.cache
def settings() -> Settings:
    return Settings()


@functools.cache
def receiver() -> Receiver:
    """The deployed receiver. Refuses to start open unless explicitly allowed, or with a
    token that is short, a segment of the route, or an unresolved placeholder."""
    config = settings()
    logs.configure(config.log_level, config.secrets(), emf="AWS_LAMBDA_FUNCTION_NAME" in os.environ)
    if not config.has_credential and not config.allow_unauthenticated:
        raise ConfigError(
            "no credential configured: set ALARM_CALLBACK_TOKEN or ALARM_CALLBACK_BASIC_AUTH "
            "(or ALARM_CALLBACK_ALLOW_UNAUTHENTICATED=true to run open)"
        )
    config.check_tokens()
    return wiring.receiver_from_settings(config)


@functools.cache
def edge_options() -> EdgeOptions:
    return EdgeOptions(scf_response=settings().scf_response)


def reset() -> None:
    """Forget the settings and receiver built for this container (tests that change the
    environment between invocations)."""
    settings.cache_clear()
    receiver.cache_clear()
    edge_options.cache_clear()


@functools.cache
def adapters(platform: str) -> tuple[type[Adapter], ...]:
    return load(AWS if platform == "aws" else SCF)


def serve(event: Any, context: Any, platform: str) -> Any:
    """Route one platform event through the receiver.

    Every HTTP-shaped event finds an adapter (the platform's fallback takes what no specific
    one claims; docs/event-sources.md). An event with no HTTP shape that no adapter
    recognises is kept in the quarantine and raised (the platform shows a failed invocation). An event an adapter recognises but cannot read (a broken envelope)
    is kept too and answered 400 in the adapter's own reply shape."""
    current = receiver()
    with logs.invocation(logs.request_id_of(context)):
        try:
            adapter = select(event, context, adapters(platform), edge_options())
        except UnknownEventError as exc:
            current.quarantine_body(_event_bytes(event), "unknown_event", str(exc), f"{platform}-entry")
            raise
        try:
            request = adapter.request
        except Exception as exc:
            detail = f"unreadable {adapter.name} event: {type(exc).__name__}"
            current.quarantine_body(_event_bytes(event), "bad_event", detail, adapter.name)
            return adapter.render(Response.error(400, "bad_event", detail))
        return adapter.render(current.handle(request))


def _remaining_seconds(context: Any) -> float:
    """The invocation's time left, less a margin to log the report: the sweeper's budget."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)  # Lambda
    if remaining is None and isinstance(context, dict):  # SCF: time_limit_in_ms only
        limit = context.get("time_limit_in_ms")
        return max(1.0, int(limit) / 1000 - 5) if isinstance(limit, (int, str)) and str(limit).isdigit() else 50.0
    return max(1.0, remaining() / 1000 - 5) if callable(remaining) else 50.0


def _event_bytes(event: Any) -> bytes:
    try:
        return json.dumps(event, default=repr).encode()
    except (TypeError, ValueError):
        return repr(event).encode()


def lambda_handler(event: Any, context: Any) -> Any:
    """AWS Lambda: API Gateway REST (v1), HTTP API (v2), Function URL and ALB events, and any
    other HTTP-shaped event."""
    return serve(event, context, "aws")


def main_handler(event: Any, context: Any) -> Any:
    """Tencent SCF: API gateway / HTTP trigger (also without serviceId), Function URL, direct
    invocation, and any other HTTP-shaped event."""
    return serve(event, context, "scf")


def sweep_handler(event: Any = None, context: Any = None) -> dict[str, int]:
    """Scheduled (timer) function on either cloud: drain the outbox. The sweeper is imported
    here, not with the module: a callback function's cold start never runs it."""
    from ..core.sweeper import sweep

    current = receiver()
    with logs.invocation(logs.request_id_of(context)):
        budget = _remaining_seconds(context)
        report = sweep(current.store, current.publisher, current.builder, quarantine=current.quarantine,
                       budget_seconds=budget, max_attempts=settings().sweep_max_attempts)  # fmt: skip
        return asdict(report)


def reconcile_handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    """Scheduled (timer) function on either cloud: publish what the Tencent alarm history
    holds and no callback delivered. Raises (a failed invocation) when the history cannot
    be read; nothing is published then. An event may carry "since" / "until" ("30m")."""
    from ..reconcile.run import parse_duration, reconcile

    current, config = receiver(), settings()
    wiring.require_markers(config)
    window = event if isinstance(event, dict) else {}
    with logs.invocation(logs.request_id_of(context)):
        report = reconcile(
            wiring.history_from_settings(config),
            current.store,
            current.publisher,
            since=parse_duration(window.get("since") or config.reconcile_since),
            until=parse_duration(window.get("until") or config.reconcile_until),
            event_source=config.event_source,
        )
    return report.summary()
