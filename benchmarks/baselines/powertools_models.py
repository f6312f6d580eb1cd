"""The payload and the CloudEvent as a Powertools user would model them, shared by the
Powertools-style baselines (`powertools_app`: warm, in memory; `powertools_dynamodb_app`:
cold start, DynamoDB + SQS), so both measure the same validation and the same message."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Conditions(BaseModel):
    model_config = ConfigDict(extra="allow")
    metric_name: str | None = Field(None, alias="metricName")
    metric_show_name: str | None = Field(None, alias="metricShowName")
    calc_type: str | None = Field(None, alias="calcType")
    calc_value: str | float | None = Field(None, alias="calcValue")
    current_value: str | float | None = Field(None, alias="currentValue")
    unit: str | None = None
    period: str | int | None = None
    period_num: str | int | None = Field(None, alias="periodNum")
    alarm_notify_type: str | None = Field(None, alias="alarmNotifyType")
    alarm_notify_period: str | int | None = Field(None, alias="alarmNotifyPeriod")
    product_name: str | None = Field(None, alias="productName")
    event_name: str | None = Field(None, alias="eventName")
    event_show_name: str | None = Field(None, alias="eventShowName")


class PolicyInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    policy_id: str | None = Field(None, alias="policyId")
    policy_type: str | None = Field(None, alias="policyType")
    policy_name: str | None = Field(None, alias="policyName")
    conditions: Conditions = Field(default_factory=Conditions)


class ObjInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    region: str | None = None
    namespace: str | None = None
    dimensions: dict[str, Any] = Field(default_factory=dict)


class AlarmCallback(BaseModel):
    model_config = ConfigDict(extra="allow")
    session_id: str = Field(alias="sessionId")
    alarm_status: int | str = Field(alias="alarmStatus")
    alarm_type: str | None = Field(None, alias="alarmType")
    alarm_obj_info: ObjInfo = Field(default_factory=ObjInfo, alias="alarmObjInfo")
    alarm_policy_info: PolicyInfo = Field(default_factory=PolicyInfo, alias="alarmPolicyInfo")
    first_occur_time: str | None = Field(None, alias="firstOccurTime")
    duration_time: int | str | None = Field(None, alias="durationTime")
    recover_time: str | int | None = Field(None, alias="recoverTime")


class CloudEvent(BaseModel):
    specversion: str = "1.0"
    id: str
    source: str = "alarm-callback"
    type: str
    time: dt.datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    fingerprint: str
    data: AlarmCallback


def cloud_event(alarm: AlarmCallback) -> CloudEvent:
    """The message: a CloudEvent around the parsed alarm, fingerprinted like ours."""
    status = "firing" if str(alarm.alarm_status) == "1" else "resolved"
    dims = alarm.alarm_obj_info.dimensions
    subject = dims.get("unInstanceId") or dims.get("objId")
    identity = f"{alarm.alarm_policy_info.policy_id}|{alarm.alarm_type}|{subject}"
    return CloudEvent(
        id=alarm.session_id,
        type=f"com.tencentcloud.monitor.alarm.{status}",
        time=dt.datetime.now(dt.timezone.utc),
        subject=str(subject) if subject is not None else None,
        fingerprint=hashlib.sha256(identity.encode()).hexdigest()[:32],
        data=alarm,
    )


def ack(alarm: AlarmCallback) -> dict[str, Any]:
    """What Tencent waits for."""
    return {"sessionId": alarm.session_id, "retCode": 0}
