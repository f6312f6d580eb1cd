"""Cloud Monitor alarm-history records -> the `Alarm` a callback would have produced.

DescribeAlarmHistories spells things differently from callbacks (``CpuUsage`` for
``cpu_usage``, dimensions as a JSON string, epoch times); these functions map a record to
the same normalized alarm, fingerprint and occurrence key, so the reconciler and the
receiver meet under the same keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from ..core.identity import MAX_ID_LENGTH, fingerprint, object_id_of, policy_key
from ..core.models.alarm import Alarm, AlarmObject, Condition, Event, Policy
from ..core.models.names import Kind, Status
from ..core.normalize import to_float, to_int
from ..core.times import from_epoch

Identity = Literal["instance", "dimensions", "alarm_object", "alarm_id"]

# History AlarmStatus: ALARM = firing, OK = recovered, NO_CONF = policy/object gone,
# NO_DATA = not enough data. Only OK implies a recovery notification.
RESOLVED_STATUSES = frozenset({"OK"})
_INSTANCE_ID = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9]{4,}$")  # ins-xxxx, cdb-xxxx, lb-xxxx...
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")  # CpuUsage, CPUUsage -> cpu_usage
_SAFE_ID = re.compile(r"[^\x21-\x7e]")


def text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _epoch(value: Any) -> datetime | None:
    seconds = to_int(text(value))
    if seconds is None or seconds <= 0:
        return None
    return from_epoch(seconds)


def _metrics(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    info = record.get("MetricsInfo")
    return [m for m in info if isinstance(m, dict)] if isinstance(info, list) else []


def record_kind(record: Mapping[str, Any]) -> Kind:
    """AlarmType ('METRIC' / 'EVENT'; spellings vary), else the record's shape."""
    alarm_type = (text(record.get("AlarmType")) or "").lower()
    if "event" in alarm_type:
        return "event"
    if "metric" in alarm_type:
        return "metric"
    if to_int(text(record.get("EventId"))):
        return "event"
    if _metrics(record) or text(record.get("MetricName")):
        return "metric"
    return "unknown"


def callback_metric_name(name: str) -> str:
    """The history spells metrics the API way (`CpuUsage`); callbacks spell them the
    policy way (`cpu_usage`). CamelCase becomes snake_case; a name already in snake_case
    (or all lower case) is left alone."""
    if "_" in name or name.islower():
        return name
    return _CAMEL.sub("_", name).lower()


def record_subject(record: Mapping[str, Any], kind: Kind) -> str | None:
    """The metric (callback spelling) or event name the callback's fingerprint uses."""
    metrics = _metrics(record)
    name = text(record.get("MetricName")) or (text(metrics[0].get("MetricName")) if metrics else None)
    if kind == "metric":
        return callback_metric_name(name) if name else None
    if kind == "event":
        return name or text(record.get("Content"))
    return name


def record_dimensions(record: Mapping[str, Any]) -> dict[str, Any]:
    """`Dimensions` is a JSON string ('{"InstanceId":"ins-1"}'); `InternalDimensions` stands
    in when it is empty. A [{"Name":..,"Value":..}] list is accepted too."""
    for field_name in ("Dimensions", "InternalDimensions"):
        value = record.get(field_name)
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                value = None
        if isinstance(value, list):
            value = {
                str(item.get("Name") or item.get("Key")): item.get("Value")
                for item in value
                if isinstance(item, dict) and (item.get("Name") or item.get("Key"))
            }
        if isinstance(value, dict) and value:
            return {str(k): v for k, v in value.items()}
    return {}


def record_identity(
    record: Mapping[str, Any], dimensions: dict[str, Any]
) -> tuple[str | None, dict[str, Any], Identity]:
    """(object id, identity dimensions, how the identity was found).

    Same rule as a callback: the best instance id among the dimensions, else the
    dimensions. Without either, the AlarmObject text (or the AlarmId) keeps two different
    alarms of one policy from sharing a fingerprint: such a record will not match its
    callback (it may be published again, flagged recovered), but is never dropped as
    "already delivered" because of another alarm."""
    object_id = object_id_of(dimensions)
    if object_id:
        return object_id, dimensions, "instance"
    alarm_object = text(record.get("AlarmObject"))
    if alarm_object and _INSTANCE_ID.match(alarm_object):
        return alarm_object, dimensions, "instance"
    if dimensions:
        return None, dimensions, "dimensions"
    if alarm_object:
        return None, {"alarmObject": alarm_object}, "alarm_object"
    return (
        None,
        {"alarmId": text(record.get("AlarmId")) or json.dumps(record, sort_keys=True, default=str)},
        "alarm_id",
    )


def record_states(record: Mapping[str, Any]) -> tuple[Status, ...]:
    """Every record fired; an OK record also recovered."""
    status = (text(record.get("AlarmStatus")) or "").upper()
    return ("firing", "resolved") if status in RESOLVED_STATUSES else ("firing",)


def message_id(record: Mapping[str, Any], status: str) -> str:
    """Stable across runs: `history-<AlarmId>-<status>` (made queue-attribute safe)."""
    alarm_id = _SAFE_ID.sub("_", text(record.get("AlarmId")) or "none")
    return f"history-{alarm_id}-{status}"[:MAX_ID_LENGTH]


def to_alarm(record: dict[str, Any], status: Status, received_at: datetime) -> tuple[Alarm, Identity]:
    """One history record in one state, as the same `Alarm` a callback would produce."""
    kind = record_kind(record)
    subject = record_subject(record, kind) or ""
    dimensions = record_dimensions(record)
    object_id, identity_dims, identity = record_identity(record, dimensions)
    policy_id = text(record.get("PolicyId"))
    policy_type = text(record.get("Namespace"))  # the policy type, e.g. cvm_device
    policy_name = text(record.get("PolicyName"))
    metrics = _metrics(record)
    metric = metrics[0] if metrics else {}
    first = _epoch(record.get("FirstOccurTime"))
    last = _epoch(record.get("LastOccurTime"))
    duration = int((last - first).total_seconds()) if first and last and last >= first else None
    alarm = Alarm(
        id=message_id(record, status),
        session_id=None,
        status=status,
        kind=kind,
        fingerprint=fingerprint(
            policy_key(policy_id, policy_type, policy_name), f"{kind}:{subject}", object_id, identity_dims
        ),
        level=text(record.get("AlarmLevel")),
        first_occur_time=first,
        # The history has no recovery time; LastOccurTime is the closest it offers.
        recover_time=last if status == "resolved" else None,
        duration_seconds=duration,
        object=AlarmObject(
            id=object_id,
            name=text(record.get("AlarmObject")),
            region=text(record.get("Region")),
            namespace=text(metric.get("QceNamespace")),
            dimensions=dimensions,
        ),
        policy=Policy(id=policy_id, name=policy_name, type=policy_type),
        condition=Condition(
            metric_name=subject or None,
            metric_show_name=text(metric.get("Description")),
            current_value=to_float(text(metric.get("Value"))),
            period_seconds=to_int(text(metric.get("Period"))),
        )
        if kind == "metric"
        else None,
        event=Event(event_name=subject or None, event_show_name=text(record.get("Content")))
        if kind == "event"
        else None,
        received_at=received_at,
        raw=record,
    )
    return alarm, identity
