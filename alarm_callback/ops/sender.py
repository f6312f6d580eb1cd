"""Post alarms the way Tencent Cloud Monitor does: wait at most 5 s for the ack, and resend
up to 3 more times when it is missing, wrong, or not HTTP 200.

An ack is right when it is HTTP 200 with JSON ``{"sessionId": <the one sent>, "retCode": 0}``.
Uses only the standard library, so `alarm-callback send` works in any deployment.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

TIMEOUT_SECONDS = 5.0
RESENDS = 3


@dataclass(slots=True)
class Attempt:
    status: int | None  # HTTP status, None when no answer came
    body: str
    error: str | None = None


@dataclass(slots=True)
class Delivery:
    name: str
    session_id: Any
    acked: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sessionId": self.session_id,
            "acked": self.acked,
            "attempts": [{"status": a.status, "body": a.body, "error": a.error} for a in self.attempts],
        }


def is_ack(status: int | None, body: str, session_id: Any) -> bool:
    if status != 200:
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("sessionId") == session_id and payload.get("retCode") == 0


def post(url: str, body: bytes, timeout: float = TIMEOUT_SECONDS, headers: dict[str, str] | None = None) -> Attempt:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"callback URLs are http(s): {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST", headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310  # nosec B310
            return Attempt(reply.status, reply.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Attempt(exc.code, exc.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Attempt(None, "", f"{type(exc).__name__}: {reason}")


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """`https://user:pass@host/path` -> the URL without them, plus the Basic auth header
    Tencent derives from them."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    header = {"authorization": "Basic " + base64.b64encode(pair).decode()}
    return urlunsplit(parts._replace(netloc=netloc)), header


def deliver(
    url: str,
    name: str,
    body: bytes,
    *,
    timeout: float = TIMEOUT_SECONDS,
    resends: int = RESENDS,
    headers: dict[str, str] | None = None,
) -> Delivery:
    try:
        decoded = json.loads(body)
        session_id = decoded.get("sessionId") if isinstance(decoded, dict) else None
    except ValueError:
        session_id = None
    delivery = Delivery(name, session_id)
    url, auth = split_credentials(url)
    headers = {**auth, **(headers or {})}
    for _ in range(1 + resends):
        attempt = post(url, body, timeout, headers)
        delivery.attempts.append(attempt)
        if is_ack(attempt.status, attempt.body, session_id):
            delivery.acked = True
            break
    return delivery
