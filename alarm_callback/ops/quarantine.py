"""`alarm-callback quarantine [list|delete|purge]` and `replay`: the refused bodies."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import time
from typing import Any

from ..config.settings import Settings
from ..config.wiring import quarantine_from_settings, receiver_from_settings
from ..core.ports import Quarantined
from .output import iso, print_json


def quarantined_json(item: Quarantined) -> dict[str, Any]:
    return {**item.to_json(), "received_at": iso(item.received_at)}


def _reason(item: Quarantined) -> str:
    """A truncated body is reported as such: its JSON is cut, but it was never invalid."""
    return f"{item.reason} (truncated)" if item.truncated and item.reason != "body_too_large" else item.reason


def cmd_quarantine(args: argparse.Namespace) -> int:
    items = quarantine_from_settings(Settings()).list(args.limit)
    for item in items:
        if args.json:
            print_json(quarantined_json(item))
        else:
            preview = item.body[:80].decode("utf-8", "replace").replace("\n", " ")
            cut = f" truncated to {len(item.body)} bytes" if item.truncated else ""
            print(f"{item.id} {iso(item.received_at)} {_reason(item):14} {item.detail[:60]!r}{cut} body={preview!r}")
    if not args.json:
        print(f"{len(items)} quarantined")
    return 0


def cmd_quarantine_delete(args: argparse.Namespace) -> int:
    quarantine = quarantine_from_settings(Settings())
    known = {item.id for item in quarantine.list(limit=1_000_000)}
    missing = 0
    for item_id in args.ids:
        found = item_id in known
        if found:
            quarantine.delete(item_id)
        missing += not found
        if getattr(args, "json", False):
            print_json({"id": item_id, "deleted": found})
        else:
            print(f"{item_id} {'deleted' if found else 'not found'}")
    return 1 if missing else 0


def cmd_quarantine_purge(args: argparse.Namespace) -> int:
    from ..reconcile.run import parse_duration

    cutoff = time.time() - parse_duration(args.older_than)
    quarantine = quarantine_from_settings(Settings())
    old = [item for item in quarantine.list(limit=1_000_000) if item.received_at < cutoff]
    for item in old:
        quarantine.delete(item.id)
    if getattr(args, "json", False):
        print_json({"purged": len(old), "older_than": args.older_than, "before": iso(cutoff)})
    else:
        print(f"purged {len(old)} quarantined item(s) received before {iso(cutoff)}")
    return 0


def replay_body(item: Quarantined) -> tuple[bytes | None, str | None]:
    """The alarm to replay for a quarantined item, or None and why it cannot be replayed.

    A truncated body is not replayed (its end is gone). A whole platform event the entry
    could not route (unknown_event, bad_event) is unwrapped: its ``body`` field, base64
    decoded when ``isBase64Encoded`` says so, is the alarm Tencent sent."""
    if item.truncated:
        return None, f"truncated: only the first {len(item.body)} bytes were kept"
    if item.reason not in ("unknown_event", "bad_event"):
        return item.body, None
    try:
        event = json.loads(item.body)
    except ValueError:
        return None, "platform event is not JSON"
    body = event.get("body") if isinstance(event, dict) else None
    if not isinstance(body, str):
        return None, "platform event has no body field"
    if event.get("isBase64Encoded") is True or str(event.get("isBase64Encoded")).lower() == "true":
        try:
            return base64.b64decode(body, validate=True), None
        except (binascii.Error, ValueError):
            return None, "platform event body is not valid base64"
    return body.encode("utf-8"), None


def cmd_replay(args: argparse.Namespace) -> int:
    receiver = receiver_from_settings(Settings())
    items = receiver.quarantine.list(limit=10_000)
    accepted = 0
    for item in items:
        body, why = replay_body(item)
        if body is None:
            status, outcome, reason = None, "kept", why
        else:
            result = receiver.accept(body, source="replay", quarantine=False)
            status, outcome, reason = result.response.status, result.outcome.value, result.reason
        if status == 200:
            receiver.quarantine.delete(item.id)
            accepted += 1
        if args.json:
            print_json({"id": item.id, "status": status, "outcome": outcome, "reason": reason})
        else:
            print(f"{item.id} -> {f'HTTP {status}' if status else 'not replayed'} {outcome} {reason or ''}".rstrip())
    if not args.json:
        print(f"{accepted} replayed, {len(items) - accepted} still quarantined")
    return 0
