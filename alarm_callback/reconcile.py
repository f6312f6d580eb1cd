"""The alarm-history reconciler: publish what Tencent gave up on. Pure Python; no cloud SDK.

Tencent stops after 3 tries. When the endpoint was down longer, the alarm is in Cloud
Monitor's alarm history (DescribeAlarmHistories) but on nobody's queue. This module reads
a window of that history through a `HistorySource` (the Tencent SDK client lives in
`clouds/tencent_history.py`) and, for every history record and every state it implies
(``firing``; plus ``resolved`` when the record's AlarmStatus is ``OK``), takes the
occurrence key the receiver remembers for each alarm it publishes
(``normalize.occurrence_key``, written when ``RECORD_OCCURRENCES=true``):

* ``CLAIMED``: no callback delivered it: publish the alarm (``recovered: true``) and mark
  the key published;
* ``PUBLISHED``: a callback delivered it (``delivered``), or an earlier run published it
  (``reconciled``): skip;
* ``IN_PROGRESS``: someone is handing it off right now: skip.

So a second run over the same window publishes nothing. A failed publish leaves the claim
pending: the sweeper (it drains every pending record) or the next run after the lease
publishes it, under the same message id.

The history is listed completely before anything is published: an API error (after the
bounded retries) raises `HistoryError` and nothing at all is published for that window.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError
from .message import DEFAULT_SOURCE, encode
from .models.alarm import Alarm, AlarmObject, Condition, Event, Kind, Policy, Status
from .normalize import (
    MAX_ID_LENGTH,
    fingerprint,
    from_epoch,
    object_id_of,
    occurrence_key,
    policy_key,
    to_float,
    to_int,
)
from .publishers.base import Publisher
from .settings import Settings
from .stores.base import ClaimStatus, Store

log = logging.getLogger("alarm_callback")

Outcome = Literal["published", "delivered", "reconciled", "in_progress", "too_recent", "failed"]
Identity = Literal["instance", "dimensions", "alarm_object", "alarm_id"]

# History AlarmStatus: ALARM = firing, OK = recovered, NO_CONF = policy/object gone,
# NO_DATA = not enough data. Only OK implies a recovery notification.
RESOLVED_STATUSES = frozenset({"OK"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_INSTANCE_ID = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9]{4,}$")  # ins-xxxx, cdb-xxxx, lb-xxxx...
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")  # CpuUsage, CPUUsage -> cpu_usage
_SAFE_ID = re.compile(r"[^\x21-\x7e]")


class HistoryError(Exception):
    """The alarm history could not be listed completely (after retries). Nothing is published."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        suffix = f" (RequestId {request_id})" if request_id else ""
        super().__init__(f"{code}: {message}{suffix}")


@dataclass(frozen=True, slots=True)
class Listing:
    """Every history record whose first occurrence is in the window, and what it cost."""

    records: list[dict[str, Any]]
    requests: int = 0  # API calls, retries included
    pages: int = 0
    throttled: int = 0  # RequestLimitExceeded answers that were retried


class HistorySource(Protocol):
    def list(self, start: int, end: int) -> Listing:
        """All records with ``start <= FirstOccurTime <= end`` (epoch seconds), or raise HistoryError."""
        ...


class ReconcileSettings(BaseSettings):
    """``ALARM_CALLBACK_RECONCILE_*``: the scheduled run's window and the API client's limits."""

    model_config = SettingsConfigDict(env_prefix="ALARM_CALLBACK_RECONCILE_", extra="ignore", frozen=True)

    since: str = Field("30m", description="Look back this far (first occurrence): 90s, 30m, 2h, 1d.")
    until: str = Field(
        "5m", description="Lag: leave the most recent first occurrences (and recoveries) to live callbacks."
    )
    page_size: int = Field(100, ge=1, le=100, description="Records per DescribeAlarmHistories call (API max 100).")
    max_retries: int = Field(5, ge=0, le=10, description="Retries of a throttled or failed call before giving up.")
    rate_per_second: float = Field(
        10.0, gt=0, le=20, description="Client-side cap on calls per second (the API allows 20 per account)."
    )
    monitor_types: str = Field("MT_QCE", description="Comma-separated MonitorTypes filter; empty = all.")
    endpoint: str | None = Field(
        None, description="API endpoint override, e.g. monitor.ap-shanghai-fsi.tencentcloudapi.com (tests: a URL)."
    )


def parse_duration(text: str | int | float) -> float:
    """'30m' -> 1800.0. Units s, m, h, d; a bare number is seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise ConfigError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < 0:
        raise ConfigError(f"duration must not be negative: {text!r}")
    return seconds


# -- history record -> Alarm -------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _epoch(value: Any) -> datetime | None:
    seconds = to_int(_text(value))
    if seconds is None or seconds <= 0:
        return None
    return from_epoch(seconds)


def _metrics(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    info = record.get("MetricsInfo")
    return [m for m in info if isinstance(m, dict)] if isinstance(info, list) else []


def record_kind(record: Mapping[str, Any]) -> Kind:
    """AlarmType ('METRIC' / 'EVENT'; spellings vary), else the record's shape."""
    alarm_type = (_text(record.get("AlarmType")) or "").lower()
    if "event" in alarm_type:
        return "event"
    if "metric" in alarm_type:
        return "metric"
    if to_int(_text(record.get("EventId"))):
        return "event"
    if _metrics(record) or _text(record.get("MetricName")):
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
    name = _text(record.get("MetricName")) or (_text(metrics[0].get("MetricName")) if metrics else None)
    if kind == "metric":
        return callback_metric_name(name) if name else None
    if kind == "event":
        return name or _text(record.get("Content"))
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
    alarm_object = _text(record.get("AlarmObject"))
    if alarm_object and _INSTANCE_ID.match(alarm_object):
        return alarm_object, dimensions, "instance"
    if dimensions:
        return None, dimensions, "dimensions"
    if alarm_object:
        return None, {"alarmObject": alarm_object}, "alarm_object"
    return (
        None,
        {"alarmId": _text(record.get("AlarmId")) or json.dumps(record, sort_keys=True, default=str)},
        "alarm_id",
    )


def record_states(record: Mapping[str, Any]) -> tuple[Status, ...]:
    """Every record fired; an OK record also recovered."""
    status = (_text(record.get("AlarmStatus")) or "").upper()
    return ("firing", "resolved") if status in RESOLVED_STATUSES else ("firing",)


def message_id(record: Mapping[str, Any], status: str) -> str:
    """Stable across runs: `history-<AlarmId>-<status>` (made queue-attribute safe)."""
    alarm_id = _SAFE_ID.sub("_", _text(record.get("AlarmId")) or "none")
    return f"history-{alarm_id}-{status}"[:MAX_ID_LENGTH]


def to_alarm(record: dict[str, Any], status: Status, received_at: datetime) -> tuple[Alarm, Identity]:
    """One history record in one state, as the same `Alarm` a callback would produce."""
    kind = record_kind(record)
    subject = record_subject(record, kind) or ""
    dimensions = record_dimensions(record)
    object_id, identity_dims, identity = record_identity(record, dimensions)
    policy_id = _text(record.get("PolicyId"))
    policy_type = _text(record.get("Namespace"))  # the policy type, e.g. cvm_device
    policy_name = _text(record.get("PolicyName"))
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
        level=_text(record.get("AlarmLevel")),
        first_occur_time=first,
        # The history has no recovery time; LastOccurTime is the closest it offers.
        recover_time=last if status == "resolved" else None,
        duration_seconds=duration,
        object=AlarmObject(
            id=object_id,
            name=_text(record.get("AlarmObject")),
            region=_text(record.get("Region")),
            namespace=_text(metric.get("QceNamespace")),
            dimensions=dimensions,
        ),
        policy=Policy(id=policy_id, name=policy_name, type=policy_type),
        condition=Condition(
            metric_name=subject or None,
            metric_show_name=_text(metric.get("Description")),
            current_value=to_float(_text(metric.get("Value"))),
            period_seconds=to_int(_text(metric.get("Period"))),
        )
        if kind == "metric"
        else None,
        event=Event(event_name=subject or None, event_show_name=_text(record.get("Content")))
        if kind == "event"
        else None,
        received_at=received_at,
        raw=record,
    )
    return alarm, identity


# -- the run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    history_id: str | None
    status: str
    outcome: Outcome
    kind: str
    object: str | None
    subject: str | None
    first_occur_time: str | None
    message_id: str
    occurrence: str | None
    identity: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    window_start: str
    window_end: str
    records: int
    requests: int
    pages: int
    throttled: int
    items: list[Item] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def published(self) -> int:
        return self.count("published")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return sum(self.count(o) for o in ("delivered", "reconciled", "in_progress", "too_recent"))

    def summary(self) -> dict[str, Any]:
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "records": self.records,
            "occurrences": len(self.items),
            "published": self.published,
            "delivered": self.count("delivered"),
            "reconciled": self.count("reconciled"),
            "in_progress": self.count("in_progress"),
            "too_recent": self.count("too_recent"),
            "failed": self.failed,
            "requests": self.requests,
            "pages": self.pages,
            "throttled": self.throttled,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "items": [asdict(item) for item in self.items]}


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def require_markers(settings: Settings) -> None:
    """Without occurrence markers every alarm in the history looks undelivered."""
    if not settings.record_occurrences:
        raise ConfigError(
            "ALARM_CALLBACK_RECORD_OCCURRENCES is false: the receiver writes no occurrence markers, so every "
            "alarm in the history would look undelivered and be published again. Turn it on (and let it run "
            "for longer than --since) before reconciling"
        )


def window(since: float, until: float, now: float, ttl_seconds: float | None = None) -> tuple[int, int]:
    """(start, end) epoch seconds of the FirstOccurTime window."""
    if since <= until:
        raise ConfigError(f"--since ({since:g}s) must reach further back than --until ({until:g}s)")
    if ttl_seconds is not None and since > ttl_seconds:
        raise ConfigError(
            f"--since ({since:g}s) is longer than the dedup TTL ({ttl_seconds:g}s): occurrence markers of "
            "delivered alarms may have expired and would be published again"
        )
    return int(now - since), int(now - until)


def reconcile(
    history: HistorySource,
    store: Store,
    publisher: Publisher,
    *,
    since: float,
    until: float,
    now: float | None = None,
    event_source: str = DEFAULT_SOURCE,
) -> ReconcileReport:
    """Publish every occurrence in the window that no callback delivered (see module doc).

    Raises HistoryError (nothing published) when the history cannot be listed, and
    ConfigError for a window that cannot work."""
    now = time.time() if now is None else now
    start, end = window(since, until, now, store.ttl_seconds)
    listing = history.list(start, end)
    received_at = datetime.fromtimestamp(now, timezone.utc)
    items: list[Item] = []
    for record in _unique(listing.records):
        first = to_int(_text(record.get("FirstOccurTime")))
        if first is None or not start <= first <= end:
            continue  # outside the window (the API filters loosely): a later run covers it
        for status in record_states(record):
            items.append(_one(record, status, store, publisher, end, received_at, event_source))
    report = ReconcileReport(
        window_start=_iso(start) or "",
        window_end=_iso(end) or "",
        records=len(listing.records),
        requests=listing.requests,
        pages=listing.pages,
        throttled=listing.throttled,
        items=items,
    )
    log.info("reconcile done", extra=report.summary())
    return report


def _unique(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pages can shift while they are read: a record seen twice is reconciled once, with
    the copy read last (its status is the freshest)."""
    unique: dict[str, dict[str, Any]] = {}
    for record in records:
        key = _text(record.get("AlarmId")) or json.dumps(record, sort_keys=True, default=str)
        unique[key] = record
    return list(unique.values())


def _one(
    record: dict[str, Any],
    status: Status,
    store: Store,
    publisher: Publisher,
    end: int,
    received_at: datetime,
    event_source: str,
) -> Item:
    alarm, identity = to_alarm(record, status, received_at)
    occurrence = occurrence_key(alarm.fingerprint, alarm.first_occur_time, status)

    def item(outcome: Outcome, detail: str | None = None, queued_id: str | None = None) -> Item:
        subject = alarm.condition.metric_name if alarm.condition else alarm.event.event_name if alarm.event else None
        return Item(
            history_id=_text(record.get("AlarmId")),
            status=status,
            outcome=outcome,
            kind=alarm.kind,
            object=alarm.object.id or alarm.object.name,
            subject=subject,
            first_occur_time=_iso(alarm.first_occur_time),
            message_id=queued_id or alarm.id,
            occurrence=occurrence,
            identity=identity,
            detail=detail,
        )

    if occurrence is None:  # no FirstOccurTime: cannot be matched, so cannot be reconciled safely
        return item("failed", "record has no FirstOccurTime")
    if status == "resolved":
        last = to_int(_text(record.get("LastOccurTime")))
        if last is None or last > end:  # recovered too recently: its callback may still be in flight
            return item("too_recent", "recovered after the window end; a later run will see it")
    message = encode(alarm, event_source, recovered=True)
    try:
        claim = store.claim(occurrence, message.body)
    except Exception as exc:
        log.exception("reconcile claim failed", extra={"dedup_key": occurrence})
        return item("failed", f"store: {type(exc).__name__}")
    if claim.status is ClaimStatus.PUBLISHED:
        queued = _queued_id(claim.record.message)
        return item("reconciled" if queued == alarm.id else "delivered", queued_id=queued)
    if claim.status is ClaimStatus.IN_PROGRESS:
        return item("in_progress")
    try:
        publisher.publish(message)
    except Exception as exc:
        log.exception("reconcile publish failed; left pending", extra={"dedup_key": occurrence})
        return item("failed", f"publish: {type(exc).__name__}; pending, retried after the lease")
    try:
        store.mark_published(occurrence)
    except Exception:  # published; a retry would repeat it under the same id
        log.exception("reconcile mark_published failed", extra={"dedup_key": occurrence})
    return item("published")


def _queued_id(stored: str) -> str | None:
    """The id on the queue for an occurrence: the receiver's marker stores the message id,
    the reconciler's own claim the whole CloudEvent."""
    if not stored.startswith("{"):
        return stored or None
    try:
        found = json.loads(stored).get("id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def render(report: ReconcileReport) -> str:
    """The human table `alarm-callback reconcile` prints."""
    lines = [
        f"alarm history {report.window_start} .. {report.window_end} (first occurrence): "
        f"{report.records} record(s), {report.requests} API call(s), {report.pages} page(s)"
        + (f", {report.throttled} throttled" if report.throttled else "")
    ]
    rows: Sequence[Sequence[str]] = [
        (
            item.outcome,
            item.status,
            item.kind,
            item.first_occur_time or "-",
            item.object or "-",
            item.subject or "-",
            item.message_id + (f"  ({item.detail})" if item.detail else ""),
        )
        for item in report.items
    ]
    if rows:
        header = ("OUTCOME", "STATUS", "KIND", "FIRST OCCURRED", "OBJECT", "METRIC/EVENT", "MESSAGE ID")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            )
    lines.append(
        f"published {report.published}, skipped {report.skipped} "
        f"(delivered {report.count('delivered')}, reconciled before {report.count('reconciled')}, "
        f"in progress {report.count('in_progress')}, too recent {report.count('too_recent')}), failed {report.failed}"
    )
    return "\n".join(lines)
