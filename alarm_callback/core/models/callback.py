"""What Tencent Cloud Monitor actually sends: the tolerant inbound model.

Real payloads mix ints and strings (`alarmStatus` is `1` or `"1"`), drop fields the
documentation lists, send empty strings for "absent", pad display names with spaces and
add fields every few months. This model therefore

* keeps every scalar as optional text (numbers become their decimal string, blanks become
  ``None``, surrounding white space is stripped): turning text into numbers and times is
  the normalizer's job, where a bad value costs one field, not the whole alarm;
* requires nothing but the objects' *shape* (an ``alarmObjInfo`` that is not an object is
  a validation error and the receiver forwards the body as kind ``unknown``);
* keeps unknown fields (``extra="allow"``) so nothing the vendor adds is dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _text(value: Any) -> Any:
    """Vendor scalar -> stripped text, or None for absent/blank."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return value  # anything else fails validation as "not a string"


Text = Annotated[str | None, BeforeValidator(_text)]


def _mapping(value: Any) -> Any:
    """Vendors send `""` or `null` where an object is absent."""
    if value is None or value == "" or value == []:
        return {}
    return value


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Conditions(_Loose):
    """`alarmPolicyInfo.conditions`: a metric condition or an event description."""

    metric_name: Text = Field(None, alias="metricName")
    metric_show_name: Text = Field(None, alias="metricShowName")
    calc_type: Text = Field(None, alias="calcType")
    calc_value: Text = Field(None, alias="calcValue")
    current_value: Text = Field(None, alias="currentValue")
    history_value: Text = Field(None, alias="historyValue")
    unit: Text = Field(None, alias="unit")
    calc_unit: Text = Field(None, alias="calcUnit")
    period: Text = Field(None, alias="period")
    period_num: Text = Field(None, alias="periodNum")
    alarm_notify_type: Text = Field(None, alias="alarmNotifyType")
    alarm_notify_period: Text = Field(None, alias="alarmNotifyPeriod")
    product_name: Text = Field(None, alias="productName")
    product_show_name: Text = Field(None, alias="productShowName")
    event_name: Text = Field(None, alias="eventName")
    event_show_name: Text = Field(None, alias="eventShowName")


class PolicyInfo(_Loose):
    policy_id: Text = Field(None, alias="policyId")
    policy_type: Text = Field(None, alias="policyType")
    policy_name: Text = Field(None, alias="policyName")
    policy_type_cname: Text = Field(None, alias="policyTypeCName")
    policy_type_ename: Text = Field(None, alias="policyTypeEname")
    conditions: Annotated[Conditions, BeforeValidator(_mapping)] = Field(default_factory=Conditions)
    tag: Any = None
    policy_tags: Any = Field(None, alias="policyTags")


class ObjInfo(_Loose):
    region: Text = None
    namespace: Text = None
    app_id: Text = Field(None, alias="appId")
    dimensions: Annotated[dict[str, Any], BeforeValidator(_mapping)] = Field(default_factory=dict)


class TencentCallback(_Loose):
    """One Cloud Monitor callback body. Only the objects' shapes are enforced."""

    session_id: Text = Field(None, alias="sessionId")
    alert_id: Text = Field(None, alias="alertId")
    alarm_status: Text = Field(None, alias="alarmStatus")
    alarm_type: Text = Field(None, alias="alarmType")
    alarm_level: Text = Field(None, alias="alarmLevel")
    alarm_obj_info: Annotated[ObjInfo, BeforeValidator(_mapping)] = Field(default_factory=ObjInfo, alias="alarmObjInfo")
    alarm_policy_info: Annotated[PolicyInfo, BeforeValidator(_mapping)] = Field(
        default_factory=PolicyInfo, alias="alarmPolicyInfo"
    )
    first_occur_time: Text = Field(None, alias="firstOccurTime")
    duration_time: Text = Field(None, alias="durationTime")
    recover_time: Text = Field(None, alias="recoverTime")
    app_id: Text = Field(None, alias="appId")
    uin: Text = None
    policy_detail_url: Text = Field(None, alias="policyDetailURL")
    additional_msg: Any = Field(None, alias="additionalMsg")
