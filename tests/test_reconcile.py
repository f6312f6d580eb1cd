"""The reconciler's pure core: history record -> the callback's Alarm identity, the window,
the claim rules. No SDK here (see test_reconcile_tencent.py for the API client)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import require_markers
from alarm_callback.core.errors import ConfigError
from alarm_callback.core.normalize import normalize
from alarm_callback.core.outbox import ClaimStatus
from alarm_callback.core.receiver import Receiver
from alarm_callback.core.sweeper import sweep
from alarm_callback.core.times import load_timezone
from alarm_callback.reconcile.records import (
    callback_metric_name,
    record_dimensions,
    record_kind,
    record_states,
    to_alarm,
)
from alarm_callback.reconcile.report import render
from alarm_callback.reconcile.run import HistoryError, Listing, parse_duration, reconcile
from tests.conftest import post

FIXTURES = Path(__file__).parent / "fixtures" / "history"
NOW = 1795863600
RECEIVED = datetime.fromtimestamp(NOW, timezone.utc)


def records() -> dict[str, dict[str, Any]]:
    body = json.loads((FIXTURES / "describe-alarm-histories.json").read_text())
    return {r["AlarmId"][:8]: r for r in body["Response"]["Histories"]}


def callbacks() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "delivered-callbacks.json").read_text())  # type: ignore[no-any-return]


class FakeHistory:
    def __init__(
        self, found: list[dict[str, Any]] | None = None, error: HistoryError | None = None, filtered: bool = True
    ) -> None:
        self.found = found if found is not None else list(records().values())
        self.error = error
        self.filtered = filtered
        self.asked: list[tuple[int, int]] = []

    def list(self, start: int, end: int) -> Listing:
        self.asked.append((start, end))
        if self.error:
            raise self.error
        if not self.filtered:
            return Listing(self.found, requests=1, pages=1)
        # like the API: filtered by first occurrence
        return Listing([r for r in self.found if start <= r["FirstOccurTime"] <= end], requests=1, pages=1)


# -- identity: the same fingerprint and occurrence as the callback -------------------------------


@pytest.mark.parametrize(
    ("history_id", "callback_index"),
    [("c36494f8", 0), ("4f1c2b9e", 1), ("0b9e8d7c", 2)],
    ids=["cvm-metric", "mysql-metric", "cvm-event"],
)
def test_history_record_has_the_callbacks_fingerprint_and_occurrence(history_id: str, callback_index: int) -> None:
    body = callbacks()[callback_index]
    from_callback = normalize(body, body["sessionId"], load_timezone("Asia/Shanghai"), RECEIVED)
    from_history, identity = to_alarm(records()[history_id], "firing", RECEIVED)
    assert identity == "instance"
    assert from_history.fingerprint == from_callback.fingerprint
    assert from_history.first_occur_time == from_callback.first_occur_time
    assert from_history.kind == from_callback.kind
    assert from_history.object.id == from_callback.object.id


def test_alarm_fields_from_a_metric_record() -> None:
    alarm, _ = to_alarm(records()["4f1c2b9e"], "resolved", RECEIVED)
    assert alarm.id == "history-4f1c2b9e-7d3a-4e8b-9a61-0c5d2e7f8a90-resolved"
    assert alarm.session_id is None
    assert (alarm.status, alarm.kind) == ("resolved", "metric")
    assert alarm.condition is not None
    assert (alarm.condition.metric_name, alarm.condition.current_value, alarm.condition.period_seconds) == (
        "cpu_use_rate",
        88.0,
        60,
    )
    assert alarm.object.namespace == "qce/cdb"
    assert alarm.policy.type == "cdb_detail"
    assert alarm.recover_time is not None and alarm.duration_seconds == 40 * 60
    assert alarm.raw == records()["4f1c2b9e"]


def test_alarm_fields_from_an_event_record() -> None:
    alarm, _ = to_alarm(records()["5e4d3c2b"], "firing", RECEIVED)
    assert alarm.kind == "event" and alarm.condition is None and alarm.event is not None
    assert (alarm.event.event_name, alarm.event.event_show_name) == ("disk_readonly", "磁盘只读")
    assert alarm.recover_time is None


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"AlarmType": "METRIC"}, "metric"),
        ({"AlarmType": "metric_alarm"}, "metric"),
        ({"AlarmType": "EVENT"}, "event"),
        ({"AlarmType": "", "EventId": 1843}, "event"),
        ({"EventId": 0, "MetricsInfo": [{"MetricName": "CpuUsage"}]}, "metric"),
        ({"MetricName": "cpu_usage"}, "metric"),
        ({}, "unknown"),
    ],
)
def test_kind(record: dict[str, Any], kind: str) -> None:
    assert record_kind(record) == kind


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CpuUsage", "cpu_usage"),
        ("CPUUsage", "cpu_usage"),
        ("LanOuttraffic", "lan_outtraffic"),
        ("TcpCurrEstab", "tcp_curr_estab"),
        ("cpu_usage", "cpu_usage"),
        ("mem", "mem"),
    ],
)
def test_metric_names_are_spelled_like_callbacks(name: str, expected: str) -> None:
    assert callback_metric_name(name) == expected


@pytest.mark.parametrize(
    ("record", "dimensions"),
    [
        ({"Dimensions": '{"InstanceId":"ins-1"}'}, {"InstanceId": "ins-1"}),
        ({"Dimensions": None, "InternalDimensions": '{"objId":"x"}'}, {"objId": "x"}),
        ({"Dimensions": [{"Name": "vip", "Value": "1.2.3.4"}]}, {"vip": "1.2.3.4"}),
        ({"Dimensions": "not json"}, {}),
        ({"Dimensions": ""}, {}),
        ({}, {}),
    ],
)
def test_dimensions(record: dict[str, Any], dimensions: dict[str, Any]) -> None:
    assert record_dimensions(record) == dimensions


def test_records_without_an_object_id_never_share_a_fingerprint() -> None:
    """The vendor's example records carry no dimensions: told apart by AlarmObject (then
    AlarmId), so one can never be skipped as "delivered" because of another."""
    base = records()["9c8b7a69"]
    other = {**base, "AlarmId": "other", "AlarmObject": "10.104.126.9 (内) | 服务器02 | 基础网络"}
    bare = {**base, "AlarmObject": None}
    bare_other = {**bare, "AlarmId": "bare-other"}
    prints = {to_alarm(r, "firing", RECEIVED)[0].fingerprint for r in (base, other, bare, bare_other)}
    assert len(prints) == 4
    assert to_alarm(base, "firing", RECEIVED)[1] == "alarm_object"
    assert to_alarm(bare, "firing", RECEIVED)[1] == "alarm_id"


def test_an_instance_id_as_alarm_object_is_the_object() -> None:
    record = {**records()["c36494f8"], "Dimensions": None, "AlarmObject": "ins-a1b2c3d4"}
    assert (
        to_alarm(record, "firing", RECEIVED)[0].fingerprint
        == to_alarm(records()["c36494f8"], "firing", RECEIVED)[0].fingerprint
    )


@pytest.mark.parametrize(("status", "states"), [("ALARM", ("firing",)), ("OK", ("firing", "resolved"))])
def test_states(status: str, states: tuple[str, ...]) -> None:
    assert record_states({"AlarmStatus": status}) == states
    assert record_states({"AlarmStatus": "NO_CONF"}) == ("firing",)
    assert record_states({"AlarmStatus": "NO_DATA"}) == ("firing",)


# -- window and settings -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("90s", 90), ("2h", 7200), ("1d", 86400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "5 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_window_is_asked_for_by_first_occurrence() -> None:
    source = FakeHistory()
    reconcile(source, MemoryStore(), MemoryPublisher(), since=1800, until=300, now=NOW)
    assert source.asked == [(NOW - 1800, NOW - 300)]


def test_window_must_be_sane_and_within_the_dedup_ttl() -> None:
    with pytest.raises(ConfigError, match="further back"):
        reconcile(FakeHistory(), MemoryStore(), MemoryPublisher(), since=300, until=300, now=NOW)
    with pytest.raises(ConfigError, match="TTL"):
        reconcile(FakeHistory(), MemoryStore(ttl_seconds=3600), MemoryPublisher(), since=7200, until=300, now=NOW)


def test_markers_are_required() -> None:
    with pytest.raises(ConfigError, match="RECORD_OCCURRENCES"):
        require_markers(Settings(record_occurrences=False))
    require_markers(Settings(record_occurrences=True))


# -- claims --------------------------------------------------------------------------------------


def test_history_error_publishes_nothing() -> None:
    publisher = MemoryPublisher()
    with pytest.raises(HistoryError):
        reconcile(
            FakeHistory(error=HistoryError("InternalError", "x")),
            MemoryStore(),
            publisher,
            since=7200,
            until=300,
            now=NOW,
        )
    assert publisher.messages == []


def test_records_seen_twice_across_shifting_pages_are_reconciled_once() -> None:
    record = records()["779d129a"]
    recovered_meanwhile = {**record, "AlarmStatus": "OK", "LastOccurTime": record["FirstOccurTime"] + 60}
    publisher = MemoryPublisher()
    found = [record, recovered_meanwhile]
    report = reconcile(FakeHistory(found), MemoryStore(), publisher, since=7200, until=300, now=NOW)
    assert [i.status for i in report.items] == ["firing", "resolved"]  # once, with the fresher copy
    assert len(publisher.messages) == 2


def test_a_store_failure_costs_one_occurrence_not_the_run() -> None:
    class Broken(MemoryStore):
        def claim(self, key: str, message: str, now: float | None = None) -> Any:
            if "fail" in message:
                raise ConnectionError("store down")
            return super().claim(key, message, now)

    found = [records()["779d129a"], {**records()["e7f8a9b0"], "Content": "fail"}]
    publisher = MemoryPublisher()
    report = reconcile(FakeHistory(found), Broken(), publisher, since=7200, until=300, now=NOW)
    assert [i.outcome for i in report.items] == ["published", "failed"]
    assert len(publisher.messages) == 1


def test_the_sweeper_finishes_a_reconciled_publish_that_failed() -> None:
    class Down(MemoryPublisher):
        def publish(self, message: Any) -> None:
            raise RuntimeError("queue down")

    store = MemoryStore(lease_seconds=10)
    report = reconcile(FakeHistory([records()["779d129a"]]), store, Down(), since=7200, until=300, now=NOW)
    [item] = report.items
    assert item.outcome == "failed" and item.occurrence is not None

    queue = MemoryPublisher()
    result = sweep(store, queue, now=NOW + 10**10)
    assert result.published == 1
    assert queue.messages[0].id == item.message_id
    assert queue.messages[0].attributes["recovered"] == "true"
    record = store.get(item.occurrence)
    assert record is not None
    assert store.claim(item.occurrence, "x").status is ClaimStatus.PUBLISHED


def test_an_occurrence_being_delivered_right_now_is_left_alone() -> None:
    store, publisher = MemoryStore(), MemoryPublisher()
    body = callbacks()[0]
    live = normalize(body, body["sessionId"], load_timezone("Asia/Shanghai"), RECEIVED)
    key = f"occ:{live.fingerprint}:{int(live.first_occur_time.timestamp())}:firing"  # type: ignore[union-attr]
    store.claim(key, "{}")  # a live callback's marker, not yet marked published
    report = reconcile(FakeHistory([records()["c36494f8"]]), store, publisher, since=7200, until=300, now=NOW)
    assert [i.outcome for i in report.items] == ["in_progress"]
    assert publisher.messages == []


def test_recoveries_inside_the_lag_wait_for_the_next_run() -> None:
    report = reconcile(
        FakeHistory([records()["d1e2f3a4"]]), MemoryStore(), MemoryPublisher(), since=7200, until=300, now=NOW
    )
    assert [(i.status, i.outcome) for i in report.items] == [("firing", "published"), ("resolved", "too_recent")]


def test_receiver_without_markers_means_everything_looks_missed() -> None:
    """Why require_markers exists: with RECORD_OCCURRENCES off, delivered alarms are republished."""
    store, publisher = MemoryStore(), MemoryPublisher()
    receiver = Receiver(store, publisher, MemoryQuarantine(), record_occurrences=False)
    assert post(receiver, callbacks()[0]).status == 200
    report = reconcile(FakeHistory([records()["c36494f8"]]), store, publisher, since=7200, until=300, now=NOW)
    assert report.published == 1


def test_render_lists_every_occurrence() -> None:
    report = reconcile(FakeHistory(), MemoryStore(), MemoryPublisher(), since=7200, until=300, now=NOW)
    text = render(report)
    assert text.splitlines()[0].startswith("alarm history 2026-11-28T09:00:00Z .. 2026-11-28T10:55:00Z")
    assert len(text.splitlines()) == 1 + 1 + len(report.items) + 1
    assert text.endswith(
        "published 12, skipped 1 (delivered 0, reconciled before 0, in progress 0, too recent 1), failed 0"
    )
    assert json.loads(json.dumps(report.to_json()))["occurrences"] == 13


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
history_fields = st.sampled_from(
    [
        "AlarmId", "AlarmType", "AlarmStatus", "EventId", "MetricName", "MetricsInfo", "Dimensions",
        "InternalDimensions", "AlarmObject", "PolicyId", "Namespace", "PolicyName", "FirstOccurTime",
        "LastOccurTime", "Content", "Region", "AlarmLevel",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(history_fields, json_values | st.integers(1_700_000_000, 1_900_000_000), max_size=17))
def test_any_record_shape_becomes_an_alarm_or_is_skipped(record: dict[str, Any]) -> None:
    """A new or odd field must never cost the run: every record maps to an Alarm."""
    for status in record_states(record):
        alarm, _ = to_alarm(record, status, RECEIVED)
        assert alarm.raw == record and alarm.status == status
    unfiltered = FakeHistory([record], filtered=False)
    reconcile(unfiltered, MemoryStore(ttl_seconds=1e10), MemoryPublisher(), since=1e9, until=0, now=NOW)
