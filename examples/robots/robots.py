"""Post alarm-callback messages to a chat robot: WeCom, DingTalk, Feishu/Lark or Slack.

Shared by the example consumers (examples/sqs-robot-lambda, examples/cmq-robot-scf): each
handler calls `Robot.from_env()` once and `notify(robot, body)` per queue message. Only the
standard library and ``alarm_callback.consumer.decode`` are used; HTTP is one
``urllib`` POST with a timeout and no retry: a failed message is reported to the platform,
which redelivers it (SQS) or retries the invocation (SCF).

Settings (environment):

    ROBOT_KIND     wecom | dingtalk | feishu | slack   (aliases: wework, lark)
    ROBOT_URL      the robot's webhook URL (it is a credential: keep it in a secret store)
    ROBOT_SECRET   DingTalk "加签" / Feishu "签名校验" secret; empty = unsigned
    ROBOT_FORMAT   feishu: interactive (default) | post | text; slack: blocks (default) | text
    ROBOT_TIMEOUT  seconds for the whole request, default 5

The message: firing ``🔥 FIRING <policy> <metric/event> on <object> <current> (threshold
<op> <threshold>)``; a later notification of the same episode ``🔁 REPEAT #n ...`` (n from
``data.episode.sequence`` or the CloudEvents extension ``sequence`` when the producer sends
them, read defensively: messages without them are plain FIRING); ``✅ RESOLVED ... after
<duration>`` (``data.duration_seconds``, else recover_time - first_occur_time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from alarm_callback.consumer import decode
from alarm_callback.core.models.alarm import AlarmEvent

log = logging.getLogger("robots")

KINDS = ("wecom", "dingtalk", "feishu", "slack")
ALIASES = {"wework": "wecom", "wechat": "wecom", "weixin": "wecom", "ding": "dingtalk", "lark": "feishu"}
FORMATS = {"feishu": ("interactive", "post", "text"), "slack": ("blocks", "text")}
DEFAULT_TIMEOUT = 5.0
MAX_TEXT = 3000  # characters of the detail text; every robot accepts this much (Slack sections: 3000)
WECOM_MAX_BYTES = 4096  # WeCom markdown.content limit, UTF-8 bytes
RESPONSE_LIMIT = 64 * 1024


class RobotError(Exception):
    """The robot did not take the message (transport error, HTTP error or an error code)."""


class BadMessage(ValueError):
    """The queue message is not an alarm-callback CloudEvent."""


# -- reading the message ------------------------------------------------------------------


def load(body: str | bytes | Mapping[str, Any]) -> tuple[AlarmEvent, dict[str, Any]]:
    """The typed event (via ``alarm_callback.consumer.decode``) and the message as a dict.

    CloudEvents consumers must ignore extension attributes they do not know. The model is
    strict (``extra="forbid"``), so a newer producer's extensions (``episode``,
    ``sequence``) would fail an older ``decode``: when the only errors are unknown fields,
    they are dropped from the copy that is validated; the dict keeps them for the template.
    """
    try:
        payload: Any = json.loads(body) if isinstance(body, (str, bytes)) else dict(body)
        # The SNS envelope (a topic delivering to SQS without raw delivery), as decode does.
        if (
            isinstance(payload, dict)
            and payload.get("Type") == "Notification"
            and isinstance(payload.get("Message"), str)
        ):
            payload = json.loads(payload["Message"])
    except ValueError as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadMessage(f"not a JSON object but {type(payload).__name__}")
    try:
        return decode(payload), payload
    except ValidationError as exc:
        if not all(error["type"] == "extra_forbidden" for error in exc.errors()):
            raise BadMessage(f"not an alarm event: {exc}") from exc
    except ValueError as exc:  # a wrapper decode peels held no JSON
        raise BadMessage(f"not an alarm event: {exc}") from exc
    try:
        return decode(_known_fields(payload, AlarmEvent)), payload
    except ValueError as exc:
        raise BadMessage(f"not an alarm event: {exc}") from exc


def _known_fields(value: Any, model: Any) -> Any:
    """`value` with only the fields `model` (and its nested models) declares."""
    if not isinstance(value, dict) or not hasattr(model, "model_fields"):
        return value
    kept: dict[str, Any] = {}
    for name, item in value.items():
        if name not in model.model_fields:
            continue
        annotation = model.model_fields[name].annotation
        nested = [arg for arg in getattr(annotation, "__args__", (annotation,)) if hasattr(arg, "model_fields")]
        kept[name] = _known_fields(item, nested[0]) if nested and name != "raw" else item
    return kept


def sequence_of(event: AlarmEvent, raw: Mapping[str, Any]) -> int | None:
    """The notification's number within its alarm episode (1 = the first firing), when the
    producer sends one: ``data.episode.sequence``, else the extension attribute ``sequence``.
    Read with getattr / dict.get so today's messages (without them) work too."""
    data = raw.get("data")
    if not isinstance(data, Mapping):
        data = {}
    candidates = [
        _get(getattr(event.data, "episode", None), "sequence"),
        _get(data.get("episode"), "sequence"),
        getattr(event, "sequence", None),
        raw.get("sequence"),
    ]
    for value in candidates:
        number = _to_int(value)
        if number is not None and number > 0:
            return number
    return None


def _get(container: Any, name: str) -> Any:
    if isinstance(container, Mapping):
        return container.get(name)
    return getattr(container, name, None)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


# -- the template -------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What every robot shows, before its own formatting."""

    state: str  # firing | repeat | resolved | unknown
    title: str  # one line, plain text
    facts: list[tuple[str, str]] = field(default_factory=list)  # label, value (plain text)
    link: str | None = None
    color: str = "red"  # red | orange | green | grey

    def text(self) -> str:
        lines = [self.title, *(f"{label}: {value}" for label, value in self.facts)]
        if self.link:
            lines.append(f"Details: {self.link}")
        return "\n".join(lines)


def summarize(event: AlarmEvent, raw: Mapping[str, Any]) -> Summary:
    data = event.data
    policy = data.policy.name or data.policy.id or "unnamed policy"
    obj = data.object
    where = f"{obj.name} ({obj.id})" if obj.name and obj.id and obj.name != obj.id else obj.id or obj.name
    where = where or event.subject or "unknown object"
    if data.kind == "metric" and data.condition is not None:
        cond = data.condition
        what = cond.metric_show_name or cond.metric_name or "metric"
    elif data.kind == "event" and data.event is not None:
        what = data.event.event_show_name or data.event.event_name or "event"
    else:
        what = "alarm"

    facts: list[tuple[str, str]] = []
    if data.kind == "metric" and data.condition is not None and data.status != "firing":  # firing: in the title
        cond = data.condition
        if cond.current_value is not None:
            facts.append(("Current", _value(cond.current_value, cond.unit)))
        if cond.threshold is not None:
            facts.append(("Threshold", f"{cond.operator or ''} {_value(cond.threshold, cond.unit)}".strip()))
    if data.level:
        facts.append(("Level", data.level))
    place = " / ".join(part for part in (obj.region, obj.namespace) if part)
    if place:
        facts.append(("Where", place))
    if data.first_occur_time:
        facts.append(("Since", _when(data.first_occur_time)))

    sequence = sequence_of(event, raw)
    if data.status == "resolved":
        state, mark, color = "resolved", "✅ RESOLVED", "green"
        duration = _duration(event)
        headline = f"{mark} {policy} · {what} on {where}"
        if duration is not None:
            headline += f" after {format_duration(duration)}"
        if data.recover_time:
            facts.append(("Recovered", _when(data.recover_time)))
    elif data.status == "firing":
        if sequence is not None and sequence > 1:
            state, mark, color = "repeat", f"🔁 REPEAT #{sequence}", "orange"
        else:
            state, mark, color = "firing", "🔥 FIRING", "red"
        headline = f"{mark} {policy} · {what} on {where}"
        if data.kind == "metric" and data.condition is not None:
            cond = data.condition
            if cond.current_value is not None:
                headline += f": {_value(cond.current_value, cond.unit)}"
            if cond.threshold is not None:
                headline += f" ({cond.operator or 'threshold'} {_value(cond.threshold, cond.unit)})"
        duration = _duration(event)
        if duration:
            facts.append(("Firing for", format_duration(duration)))
    else:
        state, color = "unknown", "grey"
        headline = f"❔ ALARM {event.id} ({event.type})"
    if event.recovered:
        facts.append(("Note", "found in the alarm history, no callback was received"))
    if event.dedup == "skipped":
        facts.append(("Note", "not deduplicated (the dedup store was down): may repeat"))
    facts.append(("Alarm", f"{data.fingerprint} · id {event.id}"))
    return Summary(state=state, title=headline, facts=facts, link=data.policy.detail_url, color=color)


def _duration(event: AlarmEvent) -> int | None:
    data = event.data
    if data.duration_seconds is not None and data.duration_seconds >= 0:
        return data.duration_seconds
    if data.recover_time and data.first_occur_time:
        seconds = int((data.recover_time - data.first_occur_time).total_seconds())
        return seconds if seconds >= 0 else None
    return None


def format_duration(seconds: int) -> str:
    """``45s``, ``8m20s``, ``1h5m``, ``2d3h``: the two largest units."""
    if seconds < 60:
        return f"{seconds}s"
    parts: list[tuple[int, str]] = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append((count, unit))
    shown = parts[:2]
    if len(shown) == 2 and shown[1][0] == 0:
        shown = shown[:1]
    return "".join(f"{count}{unit}" for count, unit in shown)


def _value(number: float, unit: str | None) -> str:
    text = f"{number:.6g}" if number != int(number) or abs(number) >= 1e15 else str(int(number))
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- one payload per robot ------------------------------------------------------------------

WECOM_COLORS = {"red": "warning", "orange": "warning", "green": "info", "grey": "comment"}


def wecom_payload(summary: Summary) -> dict[str, Any]:
    """WeCom group robot, ``msgtype: markdown`` (content at most 4096 UTF-8 bytes)."""
    color = WECOM_COLORS.get(summary.color, "comment")
    lines = [f'**<font color="{color}">{summary.title}</font>**']
    lines += [f"> {label}: {value}" for label, value in summary.facts]
    if summary.link:
        lines.append(f"[Details]({summary.link})")
    content = "\n".join(lines)
    encoded = content.encode()
    if len(encoded) > WECOM_MAX_BYTES:
        content = encoded[: WECOM_MAX_BYTES - 3].decode("utf-8", "ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_payload(summary: Summary) -> dict[str, Any]:
    """DingTalk custom robot, ``msgtype: markdown`` with ``title`` (the notification preview)
    and ``text`` (paragraphs need a blank line between them)."""
    lines = [f"#### {summary.title}"]
    lines += [f"- **{label}:** {value}" for label, value in summary.facts]
    if summary.link:
        lines.append(f"[Details]({summary.link})")
    return {"msgtype": "markdown", "markdown": {"title": summary.title, "text": _clip("\n\n".join(lines))}}


FEISHU_TEMPLATES = {"red": "red", "orange": "orange", "green": "green", "grey": "grey"}


def feishu_payload(summary: Summary, msg_type: str = "interactive") -> dict[str, Any]:
    """Feishu/Lark custom bot: ``msg_type`` interactive (a card), post (rich text) or text."""
    if msg_type == "text":
        return {"msg_type": "text", "content": {"text": _clip(summary.text())}}
    if msg_type == "post":
        rows: list[list[dict[str, str]]] = [
            [{"tag": "text", "text": f"{label}: {value}"}] for label, value in summary.facts
        ]
        if summary.link:
            rows.append([{"tag": "a", "text": "Details", "href": summary.link}])
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": summary.title, "content": rows}}}}
    body = "\n".join(f"**{label}:** {value}" for label, value in summary.facts)
    if summary.link:
        body += f"\n[Details]({summary.link})"
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": summary.title},
                "template": FEISHU_TEMPLATES.get(summary.color, "grey"),
            },
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": _clip(body)}}],
        },
    }


def slack_payload(summary: Summary, fmt: str = "blocks") -> dict[str, Any]:
    """Slack incoming webhook: ``text`` (also the notification fallback) and ``blocks``."""
    text = _clip(_slack_escape(summary.text()))
    if fmt == "text":
        return {"text": text}
    facts = "\n".join(f"*{_slack_escape(label)}:* {_slack_escape(value)}" for label, value in summary.facts)
    if summary.link:
        facts += f"\n<{summary.link}|Details>"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(summary.title, 150), "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(facts)}},
        ],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- signing ----------------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), sent
    URL-encoded as ``&timestamp=<ms>&sign=<sign>`` (timestamp within an hour of DingTalk's clock)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu 签名校验: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), sent in
    the JSON body as ``timestamp`` (seconds, a string) and ``sign``."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# -- the robot ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Robot:
    kind: str
    url: str
    secret: str = ""
    format: str = ""
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ROBOT_KIND must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("ROBOT_URL must be the robot's http(s) webhook URL")
        allowed = FORMATS.get(self.kind)
        if self.format and (allowed is None or self.format not in allowed):
            raise ValueError(f"ROBOT_FORMAT {self.format!r} does not apply to {self.kind}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Robot:
        env = os.environ if environ is None else environ
        kind = (env.get("ROBOT_KIND") or "").strip().lower()
        return cls(
            kind=ALIASES.get(kind, kind),
            url=(env.get("ROBOT_URL") or "").strip(),
            secret=(env.get("ROBOT_SECRET") or "").strip(),
            format=(env.get("ROBOT_FORMAT") or "").strip().lower(),
            timeout=float(env.get("ROBOT_TIMEOUT") or DEFAULT_TIMEOUT),
        )

    @property
    def host(self) -> str:
        """For logs: the webhook URL carries the credential, its host does not."""
        return urllib.parse.urlsplit(self.url).netloc

    def request(self, summary: Summary, now: Callable[[], float] = time.time) -> tuple[str, bytes]:
        """The URL and JSON body to POST for `summary`."""
        url = self.url
        if self.kind == "wecom":
            payload = wecom_payload(summary)
        elif self.kind == "dingtalk":
            payload = dingtalk_payload(summary)
            if self.secret:
                timestamp = int(now() * 1000)
                query = urllib.parse.urlencode({"timestamp": timestamp, "sign": dingtalk_sign(self.secret, timestamp)})
                url += ("&" if urllib.parse.urlsplit(url).query else "?") + query
        elif self.kind == "feishu":
            payload = feishu_payload(summary, self.format or "interactive")
            if self.secret:
                timestamp = int(now())
                payload = {"timestamp": str(timestamp), "sign": feishu_sign(self.secret, timestamp), **payload}
        else:
            payload = slack_payload(summary, self.format or "blocks")
        return url, json.dumps(payload, ensure_ascii=False).encode()

    def post(self, summary: Summary) -> None:
        url, body = self.request(summary)
        request = urllib.request.Request(  # noqa: S310 (the configured webhook)
            url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, text = response.status, response.read(RESPONSE_LIMIT).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read(2048).decode("utf-8", "replace")
            raise RobotError(f"{self.kind} robot at {self.host}: HTTP {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets
            raise RobotError(f"{self.kind} robot at {self.host}: {exc}") from exc
        check_response(self.kind, status, text, self.host)


def check_response(kind: str, status: int, text: str, host: str = "") -> None:
    """Robots answer HTTP 200 with an error code in the body: read it."""
    where = f"{kind} robot at {host}" if host else f"{kind} robot"
    if not 200 <= status < 300:
        raise RobotError(f"{where}: HTTP {status}: {text[:500]}")
    if kind == "slack":
        if text.strip() != "ok":
            raise RobotError(f"{where}: {text[:500]}")
        return
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise RobotError(f"{where}: not JSON: {text[:500]}") from exc
    if not isinstance(answer, dict):
        raise RobotError(f"{where}: unexpected answer {text[:500]}")
    # WeCom, DingTalk: {"errcode": 0, "errmsg": "ok"}; Feishu: {"code": 0, "msg": "success"}
    # (older Feishu answers carry StatusCode instead)
    code = answer.get("errcode") if kind in ("wecom", "dingtalk") else answer.get("code", answer.get("StatusCode"))
    if code != 0:
        raise RobotError(f"{where}: error {code}: {answer.get('errmsg') or answer.get('msg') or text[:500]}")


# -- what a handler calls -------------------------------------------------------------------------


class RecentIds:
    """Ids sent by this warm instance. Delivery is at-least-once (repeats carry the same
    CloudEvent id); this drops the repeats that reach the same instance, not all of them."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


def notify(robot: Robot, body: str | bytes | Mapping[str, Any], recent: RecentIds | None = None) -> str:
    """Post one queue message to the robot. Returns ``sent`` or ``duplicate``; raises
    `BadMessage` or `RobotError` (the handler reports the message as failed)."""
    event, raw = load(body)
    if recent is not None and event.id in recent:
        log.info("duplicate %s skipped", event.id)
        return "duplicate"
    summary = summarize(event, raw)
    robot.post(summary)
    if recent is not None:
        recent.add(event.id)
    log.info("sent %s %s to %s", summary.state, event.id, robot.kind)
    return "sent"
