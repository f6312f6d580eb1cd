"""The same job written the way most Lambda users would, with Powertools for AWS Lambda.

An `APIGatewayHttpResolver` route, the body parsed into pydantic models, idempotency keyed
on ``sessionId`` (an in-memory `BasePersistenceLayer` subclass, as a DynamoDB table would be
in production), a CloudEvent built as a pydantic model and appended to an in-memory queue,
and the ack returned. It is the warm-cost baseline of ``make bench``; it shares no code
with ``alarm_callback``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer, DataRecord
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from pydantic import BaseModel, ConfigDict, Field


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """A dict with DynamoDB's conditional-put semantics."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = dt.datetime.now().timestamp()
        if existing is not None and not existing.is_expired:
            in_progress_expired = (
                existing.status == STATUS_CONSTANTS["INPROGRESS"]
                and existing.in_progress_expiry_timestamp is not None
                and existing.in_progress_expiry_timestamp < int(now * 1000)
            )
            if not in_progress_expired:
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


# -- the payload, as a user would model it -----------------------------------------------


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


# -- the function ------------------------------------------------------------------------

QUEUE: list[str] = []
persistence = InMemoryPersistenceLayer()
config = IdempotencyConfig(event_key_jmespath="session_id", expires_after_seconds=86400)
app = APIGatewayHttpResolver()


@idempotent_function(data_keyword_argument="alarm", persistence_store=persistence, config=config)
def publish(alarm: AlarmCallback) -> dict[str, Any]:
    status = "firing" if str(alarm.alarm_status) == "1" else "resolved"
    dims = alarm.alarm_obj_info.dimensions
    subject = dims.get("unInstanceId") or dims.get("objId")
    identity = f"{alarm.alarm_policy_info.policy_id}|{alarm.alarm_type}|{subject}"
    event = CloudEvent(
        id=alarm.session_id,
        type=f"com.tencentcloud.monitor.alarm.{status}",
        time=dt.datetime.now(dt.timezone.utc),
        subject=str(subject) if subject is not None else None,
        fingerprint=hashlib.sha256(identity.encode()).hexdigest()[:32],
        data=alarm,
    )
    QUEUE.append(event.model_dump_json(by_alias=True))
    return {"sessionId": alarm.session_id, "retCode": 0}


@app.post("/callback/<token>")
def callback(token: str) -> Response[Any]:
    if token != TOKEN:
        return Response(401, content_types.APPLICATION_JSON, {"error": "unauthorized"})
    alarm = AlarmCallback.model_validate_json(app.current_event.body or "")
    return Response(200, content_types.APPLICATION_JSON, publish(alarm=alarm))


TOKEN = "bench-token-0123456789"  # benchmarks.events.TOKEN


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config.register_lambda_context(context)
    return app.resolve(event, context)
