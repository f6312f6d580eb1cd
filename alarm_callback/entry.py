"""Function entry points, shared by both clouds. `handler.py` re-exports them.

The receiver (settings, backends, SDK clients) is built once per container, on the first
invocation, and reused while the container is warm.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict
from typing import Any

from . import handlers, log
from .errors import ConfigError
from .handlers.base import Adapter, UnknownEventError, select
from .http import Response
from .receiver import Receiver
from .settings import Settings
from .sweeper import sweep


@functools.cache
def settings() -> Settings:
    return Settings()


@functools.cache
def receiver() -> Receiver:
    """The deployed receiver. Refuses to start open unless explicitly allowed."""
    config = settings()
    log.configure(config.log_level, config.secrets(), emf="AWS_LAMBDA_FUNCTION_NAME" in os.environ)
    if not config.has_credential and not config.allow_unauthenticated:
        raise ConfigError(
            "no credential configured: set ALARM_CALLBACK_TOKEN or ALARM_CALLBACK_BASIC_AUTH "
            "(or ALARM_CALLBACK_ALLOW_UNAUTHENTICATED=true to run open)"
        )
    return Receiver.from_settings(config)


def reset() -> None:
    """Forget the settings and receiver built for this container (tests that change the
    environment between invocations)."""
    settings.cache_clear()
    receiver.cache_clear()


@functools.cache
def adapters(platform: str) -> tuple[type[Adapter], ...]:
    return handlers.load(handlers.AWS if platform == "aws" else handlers.SCF)


def serve(event: Any, context: Any, platform: str) -> Any:
    """Route one platform event through the receiver.

    An event no adapter recognises is kept in the quarantine and raised (the platform shows
    a failed invocation). An event an adapter recognises but cannot read (a broken envelope)
    is kept too and answered 400 in the adapter's own reply shape."""
    current = receiver()
    try:
        adapter = select(event, context, adapters(platform))
    except UnknownEventError as exc:
        current.keep(_event_bytes(event), "unknown_event", str(exc), f"{platform}-entry")
        raise
    try:
        request = adapter.request
    except Exception as exc:
        detail = f"unreadable {adapter.name} event: {type(exc).__name__}"
        current.keep(_event_bytes(event), "bad_event", detail, adapter.name)
        return adapter.render(Response.error(400, "bad_event", detail))
    return adapter.render(current.handle(request))


def _event_bytes(event: Any) -> bytes:
    try:
        return json.dumps(event, default=repr).encode()
    except (TypeError, ValueError):
        return repr(event).encode()


def lambda_handler(event: Any, context: Any) -> Any:
    """AWS Lambda: API Gateway REST (v1), HTTP API (v2) and Function URL events."""
    return serve(event, context, "aws")


def main_handler(event: Any, context: Any) -> Any:
    """Tencent SCF: API gateway trigger, Function URL, and direct invocation."""
    return serve(event, context, "scf")


def sweep_handler(event: Any = None, context: Any = None) -> dict[str, int]:
    """Scheduled (timer) function on either cloud: drain the outbox."""
    current = receiver()
    return asdict(sweep(current.store, current.publisher, record_occurrences=current.record_occurrences))


def reconcile_handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    """Scheduled (timer) function on either cloud: publish what the Tencent alarm history
    holds and no callback delivered. Raises (a failed invocation) when the history cannot
    be read; nothing is published then. An event may carry "since" / "until" ("30m")."""
    from .clouds.tencent_history import TencentHistory
    from .reconcile import ReconcileSettings, parse_duration, reconcile, require_markers

    current, config, options = receiver(), settings(), ReconcileSettings()
    require_markers(config)
    window = event if isinstance(event, dict) else {}
    report = reconcile(
        TencentHistory.from_settings(options),
        current.store,
        current.publisher,
        since=parse_duration(window.get("since") or options.since),
        until=parse_duration(window.get("until") or options.until),
        event_source=config.event_source,
    )
    return report.summary()
