"""`alertmanager://HOST:PORT[/PREFIX]` / `alertmanagers://` (TLS): each alarm as one Prometheus alert.

Every message is posted as a one-element array to ``PREFIX/api/v2/alerts`` (stdlib urllib, no
SDK). ``USER:PASSWORD@`` in the URL is sent as HTTP Basic auth. Query parameters:

* ``hold=24h`` (default; ``s``/``m``/``h``/``d`` or plain seconds): a firing alarm is posted with
  ``endsAt`` = now + hold. Tencent may notify only once (``singleAlarm``), and without an
  ``endsAt`` Alertmanager resolves an alert ``resolve_timeout`` (5 min) after it last heard of
  it; the hold keeps it firing until the recovery arrives (or the hold runs out). Each repeat
  notification extends it. See docs/consuming.md.
* ``timeout=2`` seconds per request.

The alert: labels ``alertname`` (metric or event name), ``fingerprint``, ``namespace``,
``region``, ``instance`` (object id), ``policy_id``, ``severity`` (from the alarm level); the
labels are the alert's identity in Alertmanager, so they hold only what is the same across
firing and recovery (the state is an annotation, ``status``: a ``status`` label would make the
recovery a different alert that resolves nothing). Annotations: ``summary``, ``description``,
``policy``, ``value`` (current vs threshold), ``policy_url``, ``status``. ``startsAt`` = first
occurrence (else received time), ``endsAt`` on recovery = recovery time (else received time),
``generatorURL`` = the policy detail URL when there is one. A recovery for an alert Alertmanager
never saw is still posted: it is stored as resolved.

A non-2xx answer or a network error raises `PublishError`, so the outbox keeps the alarm and
the sweeper posts it again (a repeat is harmless: same labels, same alert).

The body is read as plain JSON (the CloudEvent; ``data`` is the alarm), ignoring unknown fields,
so records written by older or newer versions still post.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote

from ..core.errors import ConfigError, PublishError
from ..core.message import Message
from ..core.ports import Publisher
from .options import BackendOptions

DEFAULT_HOLD = timedelta(hours=24)
DEFAULT_TIMEOUT = 2.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Tencent level names (English and console Chinese) -> Prometheus-style severities.
_SEVERITY = {
    "remind": "info",
    "info": "info",
    "提醒": "info",
    "warn": "warning",
    "warning": "warning",
    "警告": "warning",
    "serious": "critical",
    "critical": "critical",
    "emergency": "critical",
    "严重": "critical",
    "紧急": "critical",
}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"alertmanager:// hold={text!r} is not a duration (e.g. 24h, 90m, 3600)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))  # 3.10: no "Z"
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def severity(level: Any) -> str:
    text = _text(level)
    return _SEVERITY.get(text.lower(), text.lower()) if text else "warning"


def to_alert(event: dict[str, Any], *, hold: timedelta = DEFAULT_HOLD, now: datetime | None = None) -> dict[str, Any]:
    """The postable alert (API v2) for one CloudEvent (already parsed)."""
    now = now or datetime.now(timezone.utc)
    data = _mapping(event.get("data"))
    obj, policy = _mapping(data.get("object")), _mapping(data.get("policy"))
    condition, happening = _mapping(data.get("condition")), _mapping(data.get("event"))
    status = _text(event.get("alarmstatus") or data.get("status")) or "unknown"
    name = (
        _text(condition.get("metric_name"))
        or _text(happening.get("event_name"))
        or _text(policy.get("name"))
        or "TencentCloudAlarm"
    )
    shown = _text(condition.get("metric_show_name")) or _text(happening.get("event_show_name")) or name
    instance = _text(obj.get("id")) or _text(event.get("subject"))
    labels = {
        "alertname": name,
        "fingerprint": _text(event.get("fingerprint") or data.get("fingerprint")),
        "namespace": _text(obj.get("namespace")),
        "region": _text(obj.get("region")),
        "instance": instance,
        "policy_id": _text(policy.get("id")),
        "severity": severity(data.get("level")),
    }
    value = ""
    if condition.get("current_value") is not None or condition.get("threshold") is not None:
        unit = _text(condition.get("unit"))
        value = (
            f"{_text(condition.get('current_value')) or '?'}{unit} "
            f"{_text(condition.get('operator')) or 'vs'} {_text(condition.get('threshold')) or '?'}{unit}"
        )
    where = " ".join(part for part in (_text(obj.get("name")) or instance, _text(obj.get("region"))) if part)
    summary = f"{shown}{' ' + value if value else ''}{' on ' + where if where else ''}"
    description = (
        f"Tencent Cloud Monitor {_text(data.get('kind')) or 'alarm'} alarm {status}: "
        f"policy {_text(policy.get('name')) or _text(policy.get('id')) or '?'}"
        f" ({_text(policy.get('type_name')) or _text(policy.get('type')) or '?'}), {summary}"
    )
    detail_url = _text(policy.get("detail_url"))
    annotations = {
        "summary": summary,
        "description": description,
        "policy": _text(policy.get("name")),
        "value": value,
        "policy_url": detail_url,
        "status": status,
    }
    received = _time(data.get("received_at")) or _time(event.get("time")) or now
    starts = _time(data.get("first_occur_time")) or received
    if status == "resolved":
        ends = _time(data.get("recover_time")) or received
        ends = max(ends, starts)
    else:
        ends = max(now, received) + hold
    alert: dict[str, Any] = {
        "labels": {key: val for key, val in labels.items() if val},
        "annotations": {key: val for key, val in annotations.items() if val},
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends),
    }
    if detail_url:
        alert["generatorURL"] = detail_url
    return alert


class AlertmanagerPublisher(Publisher):
    schemes = ("alertmanager", "alertmanagers")

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        hold: timedelta = DEFAULT_HOLD,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.endpoint = base_url.rstrip("/") + "/api/v2/alerts"
        self.hold = hold
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> AlertmanagerPublisher:
        if not url.hostname:
            raise ConfigError("alertmanager:// URL must be alertmanager://HOST:PORT[/PREFIX]")
        query = dict(parse_qsl(url.query))
        unknown = set(query) - {"hold", "timeout"}
        if unknown:
            raise ConfigError(f"alertmanager:// does not know {', '.join(sorted(unknown))} (known: hold, timeout)")
        try:
            timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
        except ValueError as exc:
            raise ConfigError(f"alertmanager:// timeout={query['timeout']!r} is not a number") from exc
        host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
        port = f":{url.port}" if url.port else ""
        scheme = "https" if url.scheme == "alertmanagers" else "http"
        return cls(
            f"{scheme}://{host}{port}{url.path}",
            username=unquote(url.username) if url.username is not None else None,
            password=unquote(url.password) if url.password is not None else None,
            hold=parse_duration(query["hold"]) if "hold" in query else DEFAULT_HOLD,
            timeout=timeout,
        )

    def publish(self, message: Message) -> None:
        try:
            event = json.loads(message.body)
        except ValueError as exc:
            raise PublishError(f"alertmanager: message {message.id} is not JSON: {exc}") from exc
        if not isinstance(event, dict):
            raise PublishError(f"alertmanager: message {message.id} is not a JSON object")
        body = json.dumps([to_alert(event, hold=self.hold)], ensure_ascii=False).encode()
        # The scheme is http(s): from_url builds it from alertmanager(s)://.
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers=self._headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            raise PublishError(f"alertmanager answered {exc.code} {exc.reason}: {detail}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise PublishError(f"alertmanager unreachable at {self.endpoint}: {exc}") from exc
