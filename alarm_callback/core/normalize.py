"""TencentCallback -> Alarm: loose vendor values into typed, comparable ones.

Every conversion here is forgiving: a value that cannot be read becomes ``None`` in the
normalized model while the verbatim body stays in ``Alarm.raw``. One odd field must never
cost the whole alarm.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .identity import object_id_of, policy_key
from .identity_scheme import IdentityScheme
from .models.callback import TencentCallback
from .models.names import SCHEMA_VERSION, Kind, Status
from .times import to_utc

if TYPE_CHECKING:  # built only off the receiver's path: `alarm_fields` writes a known callback's dump
    from .models.alarm import Alarm

_STATUS = {
    "1": "firing",
    "0": "resolved",
    "firing": "firing",
    "alarm": "firing",
    "resolved": "resolved",
    "ok": "resolved",
}
_KINDS = {"metric": "metric", "event": "event"}


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
    return number if math.isfinite(number) else None  # NaN and the infinities are unreadable


def _object_name(dimensions: dict[str, Any]) -> str | None:
    for key in ("objName", "deviceName"):
        value = dimensions.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return None


def _status(value: str | None) -> Status:
    status = _STATUS.get((value or "").lower())
    return status if status is not None else "unknown"  # type: ignore[return-value]


def _kind(callback: TencentCallback) -> Kind:
    kind = _KINDS.get((callback.alarm_type or "").lower())
    if kind is None:  # alarmType missing or new: infer from the condition's shape
        cond = callback.alarm_policy_info.conditions
        kind = "metric" if cond.metric_name else "event" if cond.event_name else "unknown"
    return kind  # type: ignore[return-value]


_DEFAULT_IDENTITY = IdentityScheme()


def normalize(
    body: dict[str, Any], key: str, tz: tzinfo, received_at: datetime, identity: IdentityScheme | None = None
) -> Alarm:
    """Build the Alarm for a decoded body whose dedup key is already known."""
    from .models.alarm import Alarm

    fields = alarm_fields(body, key, tz, received_at, identity)
    return unknown_alarm(body, key, received_at) if fields is None else Alarm.model_validate(fields)


def alarm_fields(
    body: dict[str, Any], key: str, tz: tzinfo, received_at: datetime, identity: IdentityScheme | None = None
) -> dict[str, Any] | None:
    """The `Alarm` of a decoded body as the dict `Alarm.model_dump()` gives (every field, in
    the model's order, nested models as dicts), or None when the body is not a readable
    callback (it is forwarded as `unknown_alarm`).

    The body is validated once, as `TencentCallback`; every value here is then built with the
    type its `Alarm` field declares, so the receiver serializes this dict as the message's
    ``data`` (`message.encode_data`) without validating it a second time.
    `tests/test_fast_paths.py` checks, on the seed samples and on mutated bodies, that
    `Alarm.model_validate` of it dumps to the same dict and the same JSON."""
    try:
        callback = TencentCallback.model_validate(body)
    except ValidationError:
        return None
    obj = callback.alarm_obj_info
    policy = callback.alarm_policy_info
    cond = policy.conditions
    kind = _kind(callback)
    if kind == "unknown" and callback.session_id is None:
        return None
    dimensions = obj.dimensions
    object_id = object_id_of(dimensions)
    subject = (cond.metric_name if kind == "metric" else cond.event_name) or ""
    namespace = obj.namespace or (cond.product_name if kind == "event" else None)
    identity = identity or _DEFAULT_IDENTITY
    return {
        "schema_version": SCHEMA_VERSION,
        "identity_version": identity.version,
        "id": key,
        "session_id": callback.session_id,
        "status": _status(callback.alarm_status),
        "kind": kind,
        "fingerprint": identity.fingerprint(
            policy_key(policy.policy_id, policy.policy_type, policy.policy_name),
            f"{kind}:{subject}",
            object_id,
            dimensions,
            namespace,
            obj.region,
        ),
        "level": callback.alarm_level,
        "first_occur_time": to_utc(callback.first_occur_time, tz),
        "recover_time": to_utc(callback.recover_time, tz),
        "duration_seconds": to_int(callback.duration_time),
        "object": {
            "id": object_id,
            "name": _object_name(dimensions),
            "region": obj.region,
            "namespace": namespace,
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
        "episode": None,
        "raw": body,
    }


def unknown_alarm(body: dict[str, Any], key: str, received_at: datetime) -> Alarm:
    """A body we cannot read as a Cloud Monitor callback but that names an id: forwarded,
    never dropped, so a consumer can still see it."""
    from .models.alarm import Alarm

    return Alarm(
        id=key,
        session_id=body.get("sessionId") if isinstance(body.get("sessionId"), str) else None,
        status="unknown",
        kind="unknown",
        fingerprint=hashlib.sha256(f"unknown:{key}".encode()).hexdigest()[:32],
        received_at=received_at,
        raw=body,
    )
