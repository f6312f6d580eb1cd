"""Every seed sample, the vendor's loose types, and the alarm identity."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from alarm_callback.core.identity import InvalidId, MissingId, dedup_key
from alarm_callback.core.models.callback import TencentCallback
from alarm_callback.core.normalize import normalize
from alarm_callback.core.times import load_timezone, to_utc

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SHANGHAI = load_timezone("Asia/Shanghai")


def norm(body: dict[str, Any], tz: Any = SHANGHAI) -> Any:
    return normalize(body, dedup_key(body), tz, NOW)


def test_seed_metric_sample_normalizes(metric_sample: dict[str, Any]) -> None:
    alarm = norm(metric_sample)
    assert alarm.id == "xxxxxxxx"
    assert alarm.session_id == "xxxxxxxx"
    assert (alarm.status, alarm.kind) == ("firing", "metric")
    assert alarm.object.id == "ins-o9p3rg3m"
    assert alarm.object.region == "gz"
    assert alarm.object.namespace == "qce/cvm"
    assert alarm.policy.id == "policy-n4exeh88"
    assert alarm.policy.type_name == "CVM - basic monitoring"
    assert alarm.condition is not None and alarm.event is None
    assert alarm.condition.metric_name == "cpu_usage"
    assert alarm.condition.operator == ">"
    assert alarm.condition.threshold == 90.0
    assert alarm.condition.current_value == 100.0
    assert alarm.condition.period_seconds == 60
    assert alarm.condition.period_count == 1
    assert alarm.notify.type == "continuousAlarm"
    assert alarm.notify.period_seconds == 300
    # 2017-03-09 07:00:00 Beijing time is 23:00 UTC the day before
    assert alarm.first_occur_time == datetime(2017, 3, 8, 23, 0, tzinfo=timezone.utc)
    assert alarm.recover_time is None
    assert alarm.duration_seconds == 500
    assert alarm.raw == metric_sample


def test_seed_event_sample_normalizes(event_sample: dict[str, Any]) -> None:
    alarm = norm(event_sample)
    assert alarm.id == "vuRH4ZlxBJSMNJHvNZhls9HY"
    assert (alarm.status, alarm.kind) == ("firing", "event")
    assert alarm.condition is None and alarm.event is not None
    assert alarm.event.event_name == "ping_unreachable"
    assert alarm.event.product_name == "cvm"
    assert alarm.object.id == "ins-pftdvqa2"
    assert alarm.object.namespace == "cvm"  # event alarms carry no namespace: the product stands in
    assert alarm.object.dimensions["objDetail"]["deviceWanIp"] == "118.89.233.99"
    assert alarm.notify.period_seconds == 0
    assert alarm.first_occur_time == datetime(2018, 6, 15, 8, 32, 6, tzinfo=timezone.utc)


EXPECTED_OBJECT_IDS = {
    "metric-cloud-virtual-machine-cvm": "ins-xxxxxxxx",
    "metric-clb-public-network-listener": "118.25.31.161#443#https",
    "metric-tencentdb-for-mysql-master-monitoring": "xxx",
    "metric-direct-connect-dedicated-tunnel": "dcx-jizf8heu",
    "metric-vpc-direct-connect-gateway": "dcg-8wo1p2ve",
    "event-tencentdb-for-mysql": "cdb-bwieva60",
    "event-vpc-peering-connection": "pcx-142mpvfc",
    "event-direct-connect-connection": "dc-j0cp3tgr",
}


def test_every_seed_sample_parses(seed_samples: dict[str, bytes]) -> None:
    assert len(seed_samples) >= 29  # 2 payloads + 20 metric + 7 event dimension blocks
    identities: dict[str, tuple[str, tuple[str, str | None]]] = {}
    for name, raw in seed_samples.items():
        body = json.loads(raw)
        TencentCallback.model_validate(body)  # the inbound model accepts it as is
        alarm = norm(body)
        kind = name.split("-")[0]
        assert alarm.kind == kind, name
        assert alarm.status == "firing", name
        assert alarm.object.dimensions == body["alarmObjInfo"]["dimensions"], name
        assert alarm.object.id, name
        assert (alarm.condition is not None) == (kind == "metric"), name
        if name in EXPECTED_OBJECT_IDS:
            assert alarm.object.id == EXPECTED_OBJECT_IDS[name], name
        identities[name] = (alarm.fingerprint, (alarm.kind, alarm.object.id))
    # All samples share one policy and one metric (or event): two samples are one alarm
    # exactly when they name the same object. The page's placeholders ("xxx") collide.
    for a, (fp_a, obj_a) in identities.items():
        for b, (fp_b, obj_b) in identities.items():
            assert (fp_a == fp_b) == (obj_a == obj_b), (a, b)
    assert len({fp for fp, _ in identities.values()}) == 13


def test_clb_object_name_and_numeric_port(seed_samples: dict[str, bytes]) -> None:
    alarm = norm(json.loads(seed_samples["metric-clb-public-network-listener"]))
    assert alarm.object.name == "CAuthCenteH5 | Classic network | 118.25.31.161(https:443)"
    assert alarm.object.dimensions["vport"] == 443


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("alarmStatus", 1, "firing"),
        ("alarmStatus", "1", "firing"),
        ("alarmStatus", " 1 ", "firing"),
        ("alarmStatus", 0, "resolved"),
        ("alarmStatus", "0", "resolved"),
        ("alarmStatus", 7, "unknown"),
        ("alarmStatus", None, "unknown"),
    ],
)
def test_status_variants(metric_sample: dict[str, Any], field: str, value: Any, expected: str) -> None:
    metric_sample[field] = value
    assert norm(metric_sample).status == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(500, 500), ("500", 500), ("", None), ("n/a", None), (None, None), (12.7, 12)],
)
def test_duration_variants(metric_sample: dict[str, Any], value: Any, expected: int | None) -> None:
    metric_sample["durationTime"] = value
    assert norm(metric_sample).duration_seconds == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", None),
        (0, None),
        ("", None),
        ("2017-03-09 07:30:00", datetime(2017, 3, 8, 23, 30, tzinfo=timezone.utc)),
        ("2017-03-09T07:30:00+00:00", datetime(2017, 3, 9, 7, 30, tzinfo=timezone.utc)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
        ("garbage", None),
    ],
)
def test_recover_time_variants(metric_sample: dict[str, Any], value: Any, expected: datetime | None) -> None:
    metric_sample["alarmStatus"] = 0
    metric_sample["recoverTime"] = value
    alarm = norm(metric_sample)
    assert alarm.recover_time == expected
    assert alarm.status == "resolved"


@pytest.mark.parametrize("value", [300, "300", "0", "", None])
def test_notify_period_variants(metric_sample: dict[str, Any], value: Any) -> None:
    metric_sample["alarmPolicyInfo"]["conditions"]["alarmNotifyPeriod"] = value
    expected = {300: 300, "300": 300, "0": 0}.get(value)
    assert norm(metric_sample).notify.period_seconds == expected


def test_threshold_fields_missing(metric_sample: dict[str, Any]) -> None:
    cond = metric_sample["alarmPolicyInfo"]["conditions"]
    for field in (
        "calcType",
        "calcValue",
        "currentValue",
        "unit",
        "period",
        "periodNum",
        "alarmNotifyType",
        "alarmNotifyPeriod",
    ):
        del cond[field]
    alarm = norm(metric_sample)
    assert alarm.condition is not None
    assert alarm.condition.metric_name == "cpu_usage"
    assert alarm.condition.threshold is None and alarm.condition.period_seconds is None
    assert alarm.notify.type is None


def test_missing_optionals_everywhere(metric_sample: dict[str, Any]) -> None:
    del metric_sample["alarmObjInfo"]["region"]
    del metric_sample["alarmObjInfo"]["namespace"]
    del metric_sample["alarmPolicyInfo"]["policyId"]
    del metric_sample["firstOccurTime"]
    del metric_sample["durationTime"]
    del metric_sample["recoverTime"]
    alarm = norm(metric_sample)
    assert alarm.kind == "metric"
    assert alarm.object.region is None and alarm.policy.id is None and alarm.first_occur_time is None
    assert alarm.fingerprint


def test_blank_and_padded_strings(metric_sample: dict[str, Any]) -> None:
    metric_sample["alarmPolicyInfo"]["policyName"] = "  prod cpu  "
    metric_sample["alarmPolicyInfo"]["policyTypeCName"] = ""
    metric_sample["alarmObjInfo"]["region"] = " "
    alarm = norm(metric_sample)
    assert alarm.policy.name == "prod cpu"
    assert alarm.policy.type_name is None
    assert alarm.object.region is None


def test_unknown_fields_preserved(metric_sample: dict[str, Any]) -> None:
    metric_sample["brandNewField"] = {"nested": [1, 2]}
    metric_sample["alarmPolicyInfo"]["conditions"]["futureThing"] = "x"
    metric_sample["alarmPolicyInfo"]["policyTypeEname"] = "CVM"
    metric_sample["additionalMsg"] = [{"key": "instanceName", "value": "web-1"}]
    callback = TencentCallback.model_validate(metric_sample)
    assert callback.model_extra == {"brandNewField": {"nested": [1, 2]}}
    assert callback.alarm_policy_info.conditions.model_extra == {"futureThing": "x"}
    alarm = norm(metric_sample)
    assert alarm.raw["brandNewField"] == {"nested": [1, 2]}
    assert alarm.raw["alarmPolicyInfo"]["conditions"]["futureThing"] == "x"
    assert alarm.policy.type_ename == "CVM"


def test_newer_payload_fields(metric_sample: dict[str, Any]) -> None:
    metric_sample.update(
        {"alertId": "xxxxxxxx_Serious", "alarmLevel": "Serious", "appId": 1250000000, "uin": "100000000001"}
    )
    alarm = norm(metric_sample)
    assert alarm.id == "xxxxxxxx_Serious"
    assert alarm.session_id == "xxxxxxxx"
    assert alarm.level == "Serious"
    assert alarm.app_id == "1250000000"


def test_kind_inferred_when_alarm_type_missing(metric_sample: dict[str, Any], event_sample: dict[str, Any]) -> None:
    del metric_sample["alarmType"]
    del event_sample["alarmType"]
    assert norm(metric_sample).kind == "metric"
    assert norm(event_sample).kind == "event"


def test_unreadable_shape_with_session_id_is_unknown(metric_sample: dict[str, Any]) -> None:
    metric_sample["alarmObjInfo"] = "not an object"
    alarm = norm(metric_sample)
    assert (alarm.kind, alarm.status) == ("unknown", "unknown")
    assert alarm.raw == metric_sample


def test_foreign_shape_with_id_is_unknown() -> None:
    alarm = norm({"id": "evt-1", "title": "disk full"})
    assert alarm.id == "evt-1"
    assert alarm.kind == "unknown"


class TestFingerprint:
    def test_same_alarm_across_firing_repeat_and_recovery(self, metric_sample: dict[str, Any]) -> None:
        firing = norm(metric_sample)
        repeat = copy.deepcopy(metric_sample)
        repeat["sessionId"] = "second-push"
        repeat["durationTime"] = 800
        repeat["alarmPolicyInfo"]["conditions"]["currentValue"] = "97"
        recovery = copy.deepcopy(metric_sample)
        recovery.update({"sessionId": "recovery", "alarmStatus": "0", "recoverTime": "2017-03-09 07:20:00"})
        recovery["alarmObjInfo"]["dimensions"]["objName"] = "renamed display"
        assert firing.fingerprint == norm(repeat).fingerprint == norm(recovery).fingerprint
        assert firing.id != norm(repeat).id

    def test_different_object_metric_or_policy_differ(self, metric_sample: dict[str, Any]) -> None:
        base = norm(metric_sample).fingerprint
        other_object = copy.deepcopy(metric_sample)
        other_object["alarmObjInfo"]["dimensions"]["unInstanceId"] = "ins-other"
        other_metric = copy.deepcopy(metric_sample)
        other_metric["alarmPolicyInfo"]["conditions"]["metricName"] = "mem_usage"
        other_policy = copy.deepcopy(metric_sample)
        other_policy["alarmPolicyInfo"]["policyId"] = "policy-other"
        found = {norm(b).fingerprint for b in (other_object, other_metric, other_policy)}
        assert base not in found and len(found) == 3

    def test_metric_name_spelling_does_not_split_an_identity(self, metric_sample: dict[str, Any]) -> None:
        api_spelling = copy.deepcopy(metric_sample)
        api_spelling["alarmPolicyInfo"]["conditions"]["metricName"] = "CpuUsage"
        assert norm(metric_sample).fingerprint == norm(api_spelling).fingerprint

    def test_int_and_string_dimension_values_are_one_identity(self, seed_samples: dict[str, bytes]) -> None:
        body = json.loads(seed_samples["metric-clb-public-network-listener"])
        as_text = copy.deepcopy(body)
        as_text["alarmObjInfo"]["dimensions"]["vport"] = "443"
        assert norm(body).fingerprint == norm(as_text).fingerprint


class TestDedupKey:
    def test_prefers_alert_id_then_session_id_then_id(self) -> None:
        assert dedup_key({"alertId": "a_1", "sessionId": "a", "id": "z"}) == "a_1"
        assert dedup_key({"sessionId": "a", "id": "z"}) == "a"
        assert dedup_key({"id": 42}) == "42"
        assert dedup_key({"alertId": "", "sessionId": " s "}) == "s"

    @pytest.mark.parametrize("body", [{}, {"sessionId": ""}, {"sessionId": None}, {"id": True}, {"other": 1}])
    def test_missing(self, body: dict[str, Any]) -> None:
        with pytest.raises(MissingId):
            dedup_key(body)

    @pytest.mark.parametrize("value", ["x" * 257, "has space", "tab\tchar", "ünïcode"])
    def test_invalid(self, value: str) -> None:
        with pytest.raises(InvalidId):
            dedup_key({"sessionId": value})


class TestTimezone:
    def test_configurable_zone(self, metric_sample: dict[str, Any]) -> None:
        alarm = norm(metric_sample, load_timezone("UTC"))
        assert alarm.first_occur_time == datetime(2017, 3, 9, 7, 0, tzinfo=timezone.utc)

    @pytest.mark.parametrize("name", ["+08:00", "UTC+8", "Asia/Shanghai"])
    def test_offsets(self, name: str) -> None:
        assert to_utc("2020-01-01 08:00:00", load_timezone(name)) == datetime(2020, 1, 1, tzinfo=timezone.utc)

    def test_unknown_zone_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="unknown timezone"):
            load_timezone("Mars/Olympus")
