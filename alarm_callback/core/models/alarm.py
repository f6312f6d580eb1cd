"""The normalized alarm every consumer receives, and its CloudEvents envelope.

`Alarm` is strict (``extra="forbid"``) and versioned by `SCHEMA_VERSION`: the loose
vendor shapes stop at `TencentCallback`. The committed JSON Schema in
``schema/alarm-event.schema.json`` is generated from `AlarmEvent`; a test fails when the
two drift, so bump `SCHEMA_VERSION` whenever a change is not purely additive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .names import SCHEMA_URI, SCHEMA_VERSION, Kind, Status


def _absent(value: object) -> bool:
    """CloudEvents: an optional attribute is left out, never null."""
    return value is None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlarmObject(_Strict):
    """The alarmed resource."""

    id: str | None = Field(None, description="Best instance id among the dimensions.")
    name: str | None = Field(None, description="Display name (objName), if any.")
    region: str | None = None
    namespace: str | None = None
    dimensions: dict[str, Any] = Field(default_factory=dict, description="All dimensions, verbatim.")


class Policy(_Strict):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    type_name: str | None = Field(None, description="policyTypeCName (display name).")
    type_ename: str | None = None
    detail_url: str | None = None


class Condition(_Strict):
    """Metric alarm condition; numeric fields are numbers or absent."""

    metric_name: str | None = None
    metric_show_name: str | None = None
    operator: str | None = Field(None, description="calcType, e.g. '>'.")
    threshold: float | None = Field(None, description="calcValue as a number.")
    current_value: float | None = None
    unit: str | None = None
    period_seconds: int | None = None
    period_count: int | None = Field(None, description="periodNum.")


class Event(_Strict):
    product_name: str | None = None
    product_show_name: str | None = None
    event_name: str | None = None
    event_show_name: str | None = None


class Notify(_Strict):
    type: str | None = Field(None, description="singleAlarm, exponentialAlarm or continuousAlarm.")
    period_seconds: int | None = None


class Episode(_Strict):
    """The alarm's episode: from the first firing of its fingerprint to the recovery."""

    id: str = Field(description="Same on every notification of one episode (firing, repeats, recovery).")
    sequence: int = Field(ge=1, description="1 for the opening firing, +1 per notification, the recovery last.")
    opened_at: datetime = Field(description="First occurrence of the opening firing (UTC).")
    state: Literal["open", "closed"] = Field(description="'closed' on the recovery.")
    orphan: bool = Field(False, description="A recovery with no open episode: a one-message episode.")
    flapping: bool = Field(False, description="The alarm changed state too often lately (see FLAP_* settings).")


class Alarm(_Strict):
    """One alarm notification, normalized. Times are UTC."""

    schema_version: str = SCHEMA_VERSION
    identity_version: str = Field(
        "1", description="Version of the identity scheme the fingerprint was made with ('1': the default rule)."
    )
    id: str = Field(description="Dedup key: alertId if sent, else sessionId, else the body's id.")
    session_id: str | None = None
    status: Status
    kind: Kind
    fingerprint: str = Field(
        description="Alarm identity: same policy + object + metric/event across firing, repeats and recovery."
    )
    level: str | None = None
    first_occur_time: datetime | None = None
    recover_time: datetime | None = None
    duration_seconds: int | None = None
    object: AlarmObject = Field(default_factory=AlarmObject)
    policy: Policy = Field(default_factory=Policy)
    condition: Condition | None = None
    event: Event | None = None
    notify: Notify = Field(default_factory=Notify)
    app_id: str | None = None
    uin: str | None = None
    received_at: datetime
    episode: Episode | None = Field(
        None, description="Absent (null) for 'unknown' alarms and when the store keeps no episodes."
    )
    raw: dict[str, Any] = Field(description="The callback body exactly as received.")


class AlarmEvent(_Strict):
    """CloudEvents 1.0 structured-mode envelope published to the queue."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = Field(None, exclude_if=_absent, description="The alarmed object's id, when known.")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = SCHEMA_URI
    alarmstatus: Status
    alarmkind: Kind
    fingerprint: str
    dedup: Literal["checked", "skipped"] = Field(
        "checked",
        description="'skipped' when the dedup store was unreachable and the alarm was published anyway.",
    )
    recovered: bool = Field(False, description="True when published by the reconciler, not by a callback.")
    episode: str | None = Field(None, exclude_if=_absent, description="data.episode.id, when the alarm has one.")
    sequence: int | None = Field(None, exclude_if=_absent, description="data.episode.sequence.")
    orphanresolve: bool | None = Field(
        None, exclude_if=_absent, description="True on a recovery that had no open episode; absent otherwise."
    )
    identityversion: str = Field("1", description="data.identity_version: the fingerprint's identity scheme.")
    flapping: bool | None = Field(
        None, exclude_if=_absent, description="True while the alarm flaps (too many state changes); absent otherwise."
    )
    data: Alarm
