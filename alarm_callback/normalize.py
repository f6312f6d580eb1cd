"""TencentCallback -> Alarm: loose vendor values into typed, comparable ones.

Every conversion here is forgiving: a value that cannot be read becomes ``None`` in the
normalized model while the verbatim body stays in ``Alarm.raw``. One odd field must never
cost the whole alarm.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from .http import json_encoder
from .models.alarm import Alarm, Kind, Status
from .models.callback import TencentCallback

MAX_ID_LENGTH = 256
MAX_DEPTH = 32  # real callbacks nest 4 deep; anything near this is not an alarm
_ID_OK = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces

# Dimension keys that name the instance, best first. Products name it differently.
_ID_KEYS = (
    "unInstanceId",
    "uInstanceId",
    "uinstanceid",
    "InstanceId",
    "instanceId",
    "instance_id",
    "redis_uuid",
    "uniq_nat_id",
    "vpnconnid",
    "peeringconnectionid",
    "directconnectconnid",
    "directconnectgatewayid",
    "directconnectid",
    "netdetectid",
    "netgroup",
    "objId",
)
# Display-only dimensions: they may change between firing and recovery (IPs, names), so
# they are not part of the alarm identity.
_DISPLAY_KEYS = frozenset({"objname", "objdetail", "devicename"})

_STATUS = {
    "1": "firing",
    "0": "resolved",
    "firing": "firing",
    "alarm": "firing",
    "resolved": "resolved",
    "ok": "resolved",
}
_KINDS = {"metric": "metric", "event": "event"}
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
# json.dumps(..., separators=(",", ":"), ensure_ascii=False) without building an encoder per call
_canonical = json_encoder(separators=(",", ":"))


class MissingId(ValueError):
    """The body names no sessionId, alertId or id."""


class InvalidId(ValueError):
    """The id is too long or has characters a queue attribute cannot carry."""


def load_timezone(name: str) -> tzinfo:
    """Vendor times carry no offset. Default Asia/Shanghai (UTC+8, no DST since 1991), so a
    missing tz database (slim containers) falls back to the fixed offset rather than failing."""
    match = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?", name.strip())
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * delta)
    if name in ("UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":
            return _SHANGHAI
        raise ValueError(f"unknown timezone {name!r}") from None


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when containers nest deeper than `limit` (checked level by level, without recursion)."""
    level = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        below = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list or isinstance(child, (dict, list)):
                    below.append(child)
        level = below
        depth += 1
    return False


def dedup_key(body: dict[str, Any]) -> str:
    """alertId (graded policies: `<sessionId>_<Level>`, so levels stay distinct), else
    sessionId, else a foreign shape's `id`."""
    for field in ("alertId", "sessionId", "id"):
        value = body.get(field)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            value = str(value)
        if isinstance(value, str) and value.strip():
            key = value.strip()
            if len(key) > MAX_ID_LENGTH:
                raise InvalidId(f"{field} is longer than {MAX_ID_LENGTH} characters")
            if not _ID_OK.match(key):
                raise InvalidId(f"{field} may only contain printable ASCII without spaces")
            return key
    raise MissingId("body has no sessionId, alertId or id")


def to_int(value: str | None) -> int | None:
    number = to_float(value)
    return int(number) if number is not None else None


def to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def from_epoch(seconds: int) -> datetime | None:
    """Epoch seconds (or milliseconds, which vendors mix in) as an aware UTC datetime."""
    if seconds > 100_000_000_000:
        seconds //= 1000
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def to_utc(value: str | None, tz: tzinfo) -> datetime | None:
    """'YYYY-MM-DD HH:MM:SS' in the vendor's zone (or epoch seconds) -> aware UTC datetime.
    `"0"` means "not yet" and gives None."""
    if value is None or value == "0":
        return None
    if value.isdigit():
        seconds = int(value)
        if seconds < 1_000_000_000:  # a small number is a duration, not a time
            return None
        return from_epoch(seconds)
    try:
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(timezone.utc)


def object_id_of(dimensions: dict[str, Any]) -> str | None:
    for key in _ID_KEYS:
        value = dimensions.get(key)
        if value not in (None, ""):
            return str(value).strip() or None
    return None


def _object_name(dimensions: dict[str, Any]) -> str | None:
    for key in ("objName", "deviceName"):
        value = dimensions.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return None


def fingerprint(policy: str, subject: str, object_id: str | None, dimensions: dict[str, Any]) -> str:
    """Stable alarm identity: policy + metric/event + object.

    The object is its best instance id when one is present, so the identity is the same
    whether it comes from a callback or from the alarm history API (whose dimensions and
    namespace spellings differ). The metric/event name is compared case- and
    underscore-blind: policies say `cpu_usage`, the history API `CpuUsage`. Without an id,
    the identity dimensions are used: the non-display, non-empty ones, compared as text
    (`443` and `"443"` are one port)."""
    subject = subject.lower().replace("_", "")
    if object_id:
        identity: object = object_id
    else:
        identity = sorted(
            (key, str(value).strip())
            for key, value in dimensions.items()
            if key.lower() not in _DISPLAY_KEYS and value not in (None, "") and not isinstance(value, (dict, list))
        )
    return hashlib.sha256(_canonical([policy, subject, identity]).encode()).hexdigest()[:32]


def occurrence_key(fingerprint: str, first_occur_time: datetime | None, status: str) -> str | None:
    """One occurrence of an alarm in one state: what the alarm-history reconciler matches on.
    Repeat notifications share it with the first firing; the recovery has its own."""
    if first_occur_time is None or status not in ("firing", "resolved"):
        return None
    return f"occ:{fingerprint}:{int(first_occur_time.timestamp())}:{status}"


def policy_key(policy_id: str | None, policy_type: str | None, policy_name: str | None) -> str:
    """The policy's id; the type and name stand in when a payload omits it."""
    return policy_id or f"{policy_type or ''}/{policy_name or ''}"


def _status(value: str | None) -> Status:
    status = _STATUS.get((value or "").lower())
    return status if status is not None else "unknown"  # type: ignore[return-value]


def _kind(callback: TencentCallback) -> Kind:
    kind = _KINDS.get((callback.alarm_type or "").lower())
    if kind is None:  # alarmType missing or new: infer from the condition's shape
        cond = callback.alarm_policy_info.conditions
        kind = "metric" if cond.metric_name else "event" if cond.event_name else "unknown"
    return kind  # type: ignore[return-value]


# The Alarm's core validator, called once on the whole nested dict: one pass in Rust
# instead of one Python-level constructor per sub-model.
_validate_alarm = Alarm.__pydantic_validator__.validate_python


def normalize(body: dict[str, Any], key: str, tz: tzinfo, received_at: datetime) -> Alarm:
    """Build the Alarm for a decoded body whose dedup key is already known.

    The Alarm is validated once, as one nested dict, by its core validator: one pass in
    Rust instead of one Python-level constructor per sub-model."""
    try:
        callback = TencentCallback.model_validate(body)
    except ValidationError:
        return unknown_alarm(body, key, received_at)
    obj = callback.alarm_obj_info
    policy = callback.alarm_policy_info
    cond = policy.conditions
    kind = _kind(callback)
    if kind == "unknown" and callback.session_id is None:
        return unknown_alarm(body, key, received_at)
    dimensions = obj.dimensions
    object_id = object_id_of(dimensions)
    subject = (cond.metric_name if kind == "metric" else cond.event_name) or ""
    alarm: Alarm = _validate_alarm(
        {
            "id": key,
            "session_id": callback.session_id,
            "status": _status(callback.alarm_status),
            "kind": kind,
            "fingerprint": fingerprint(
                policy_key(policy.policy_id, policy.policy_type, policy.policy_name),
                f"{kind}:{subject}",
                object_id,
                dimensions,
            ),
            "level": callback.alarm_level,
            "first_occur_time": to_utc(callback.first_occur_time, tz),
            "recover_time": to_utc(callback.recover_time, tz),
            "duration_seconds": to_int(callback.duration_time),
            "object": {
                "id": object_id,
                "name": _object_name(dimensions),
                "region": obj.region,
                "namespace": obj.namespace or (cond.product_name if kind == "event" else None),
                "dimensions": dimensions,
            },
            "policy": {
                "id": policy.policy_id,
                "name": policy.policy_name,
                "type": policy.policy_type,
                "type_name": policy.policy_type_cname,
                "type_ename": policy.policy_type_ename,
                "detail_url": callback.policy_detail_url,
            },
            "condition": {
                "metric_name": cond.metric_name,
                "metric_show_name": cond.metric_show_name,
                "operator": cond.calc_type,
                "threshold": to_float(cond.calc_value),
                "current_value": to_float(cond.current_value),
                "unit": cond.unit or cond.calc_unit,
                "period_seconds": to_int(cond.period),
                "period_count": to_int(cond.period_num),
            }
            if kind == "metric"
            else None,
            "event": {
                "product_name": cond.product_name,
                "product_show_name": cond.product_show_name,
                "event_name": cond.event_name,
                "event_show_name": cond.event_show_name,
            }
            if kind == "event"
            else None,
            "notify": {"type": cond.alarm_notify_type, "period_seconds": to_int(cond.alarm_notify_period)},
            "app_id": callback.app_id or obj.app_id,
            "uin": callback.uin,
            "received_at": received_at,
            "raw": body,
        }
    )
    return alarm


def unknown_alarm(body: dict[str, Any], key: str, received_at: datetime) -> Alarm:
    """A body we cannot read as a Cloud Monitor callback but that names an id: forwarded,
    never dropped, so a consumer can still see it."""
    return Alarm(
        id=key,
        session_id=body.get("sessionId") if isinstance(body.get("sessionId"), str) else None,
        status="unknown",
        kind="unknown",
        fingerprint=hashlib.sha256(f"unknown:{key}".encode()).hexdigest()[:32],
        received_at=received_at,
        raw=body,
    )
