"""The history reconciler through the REAL Tencent SDK (monitor client, API 2018-07-24)
against a local endpoint that checks each request's TC3-HMAC-SHA256 signature (the Tencent
helper's `tests.tencent_endpoint.TencentEndpoint.check`) and answers DescribeAlarmHistories
from the vendor-shaped records in tests/fixtures/history/, paged and time-filtered like the
API. Delivered alarms come from a real Receiver with record_occurrences=True."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.backends.options import TencentOptions
from alarm_callback.backends.sqlite.queue import SQLiteQueue
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.backends.tencent import clients as tencent
from alarm_callback.backends.tencent.history import TencentHistory, monitor_client
from alarm_callback.config.wiring import receiver_from_settings
from alarm_callback.consumer import decode
from alarm_callback.core.outbox import PENDING, Store
from alarm_callback.core.receiver import Receiver
from alarm_callback.edges import entry
from alarm_callback.ops import cli
from alarm_callback.reconcile.run import HistoryError, reconcile
from tests.conftest import post
from tests.tencent_endpoint import TencentEndpoint, serve

FIXTURES = Path(__file__).parent / "fixtures" / "history"
SECRET_ID = "AKIDtest0000000000000000000000000000"
SECRET_KEY = "test-secret-key-0000000000000000"
TOKEN = "session-token-from-the-execution-role"
REGION = "ap-guangzhou"
NOW = 1795863600  # 2026-11-28T11:00:00Z: the fixtures' "now"
SINCE, UNTIL = 2 * 3600.0, 300.0  # window 09:00Z .. 10:55Z
SHANGHAI = timezone(timedelta(hours=8))

# AlarmId prefix -> the occurrences a run must publish (the rest: delivered / too recent)
MISSED = {
    ("779d129a", "firing"),  # R2 metric, never delivered
    ("4f1c2b9e", "resolved"),  # R3 its firing was delivered, the recovery was not
    ("a2b3c4d5", "firing"),  # R4 recovered, nothing delivered
    ("a2b3c4d5", "resolved"),
    ("5e4d3c2b", "firing"),  # R6 event alarm, recovered, nothing delivered
    ("5e4d3c2b", "resolved"),
    ("9c8b7a69", "firing"),  # R7 the vendor's example shape: no dimensions, no metrics info
    ("d1e2f3a4", "firing"),  # R8 recovered 2 min ago: firing now, recovery left to the live callback
    ("e7f8a9b0", "firing"),  # R9 NO_CONF: fired, never recovers
}
DELIVERED = {("c36494f8", "firing"), ("4f1c2b9e", "firing"), ("0b9e8d7c", "firing")}


def history_records(shift: int = 0) -> list[dict[str, Any]]:
    body = json.loads((FIXTURES / "describe-alarm-histories.json").read_text())
    records: list[dict[str, Any]] = body["Response"]["Histories"]
    for record in records:
        record["FirstOccurTime"] += shift
        record["LastOccurTime"] += shift
    return records


def delivered_callbacks(shift: int = 0) -> list[dict[str, Any]]:
    callbacks: list[dict[str, Any]] = json.loads((FIXTURES / "delivered-callbacks.json").read_text())
    for body in callbacks:
        first = datetime.strptime(body["firstOccurTime"], "%Y-%m-%d %H:%M:%S") + timedelta(seconds=shift)
        body["firstOccurTime"] = first.strftime("%Y-%m-%d %H:%M:%S")
    return callbacks


# -- the local DescribeAlarmHistories endpoint ----------------------------------------------


@dataclass
class HistoryEndpoint(TencentEndpoint):
    """TencentEndpoint's request checks (signature, token, action, version, region) and
    scripted failures, answering DescribeAlarmHistories from `records` like the API:
    FirstOccurTime within [StartTime, EndTime], ordered, PageNumber/PageSize (1..100)."""

    service: str = "monitor"
    version: str = "2018-07-24"
    actions: tuple[str, ...] = ("DescribeAlarmHistories",)
    records: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, action: str, params: dict[str, Any]) -> tuple[str, str] | dict[str, Any]:
        if params.get("Module") != "monitor":
            return ("InvalidParameterValue", "Module must be monitor")
        size, page = params.get("PageSize", 20), params.get("PageNumber", 1)
        if not (isinstance(size, int) and 1 <= size <= 100 and isinstance(page, int) and page >= 1):
            return ("InvalidParameterValue", "PageSize must be 1..100 and PageNumber >= 1")
        start = params.get("StartTime", int(time.time()) - 86400)
        end = params.get("EndTime", int(time.time()))
        found = [r for r in self.records if start <= r["FirstOccurTime"] <= end]
        found.sort(key=lambda r: r["FirstOccurTime"], reverse=params.get("Order", "DESC") != "ASC")
        return {"TotalCount": len(found), "Histories": found[(page - 1) * size : page * size]}


@pytest.fixture
def api() -> Iterator[HistoryEndpoint]:
    with serve(HistoryEndpoint(SECRET_ID, SECRET_KEY, REGION, token=TOKEN, records=history_records())) as ep:
        yield ep


class Sleeps:
    """A fake `time.sleep` that moves a fake monotonic clock (`now`)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 100.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds


def history(api: HistoryEndpoint, sleeps: Sleeps | None = None, **kw: Any) -> TencentHistory:
    settings = TencentOptions(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        session_token=TOKEN,
        region=REGION,
    )
    kw.setdefault("page_size", 4)
    return TencentHistory(monitor_client(settings, api.url), sleep=sleeps or Sleeps(), **kw)


def deliver_callbacks(store: Store, publisher: MemoryPublisher, shift: int = 0) -> None:
    receiver = Receiver(store, publisher, MemoryQuarantine(), record_occurrences=True)
    for body in delivered_callbacks(shift):
        assert post(receiver, body).status == 200


def published_keys(publisher: MemoryPublisher) -> set[tuple[str, str]]:
    found = set()
    for message in publisher.messages:
        event = decode(message.body)
        if event.recovered:
            found.add((event.data.raw["AlarmId"][:8], event.data.status))
    return found


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "store.db"))


# -- the scenario ---------------------------------------------------------------------------


def test_missed_alarms_are_published_once_and_delivered_ones_never(api: HistoryEndpoint, store: Store) -> None:
    publisher = MemoryPublisher()
    deliver_callbacks(store, publisher)
    assert len(publisher.messages) == 3  # the live callbacks

    report = reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)

    recovered = publisher.messages[3:]
    assert published_keys(publisher) == MISSED
    assert len(recovered) == len(MISSED)  # each once
    outcomes = {(i.history_id[:8], i.status): i.outcome for i in report.items if i.history_id}
    assert {k for k, v in outcomes.items() if v == "delivered"} == DELIVERED
    assert outcomes[("d1e2f3a4", "resolved")] == "too_recent"
    assert not any(k[0] in ("f0e1d2c3", "1a2b3c4d") for k in outcomes)  # inside the lag / before the window
    assert (report.records, report.published, report.failed) == (9, 9, 0)
    assert report.skipped == 4
    # marked as recovered by reconciliation, everywhere a consumer can look
    for message in recovered:
        event = decode(message.body)
        assert event.recovered is True
        assert message.attributes["recovered"] == "true"
        assert event.id == message.id == f"history-{event.data.raw['AlarmId']}-{event.data.status}"
    # 9 in-window records, 4 per page: 3 pages, signed and accepted
    assert [c.params["PageNumber"] for c in api.calls] == [1, 2, 3]
    assert all(c.error is None for c in api.calls)
    first = api.calls[0]
    assert first.params["Module"] == "monitor"
    assert first.params["Order"] == "ASC"
    assert first.params["MonitorTypes"] == ["MT_QCE"]
    assert (first.params["StartTime"], first.params["EndTime"]) == (NOW - 7200, NOW - 300)
    assert first.headers["x-tc-version"] == "2018-07-24"
    assert first.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert (report.requests, report.pages) == (3, 3)


def test_a_second_run_over_the_same_window_publishes_nothing(api: HistoryEndpoint, store: Store) -> None:
    publisher = MemoryPublisher()
    deliver_callbacks(store, publisher)
    reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)
    before = len(publisher.messages)

    again = reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)

    assert len(publisher.messages) == before
    assert again.published == 0
    assert {i.outcome for i in again.items} == {"delivered", "reconciled", "too_recent"}
    assert again.count("reconciled") == len(MISSED)
    delivered = {i.message_id for i in again.items if i.outcome == "delivered"}
    assert delivered == {body["sessionId"] for body in delivered_callbacks()}  # the callbacks' ids


def test_a_later_run_publishes_the_recovery_the_lag_held_back(api: HistoryEndpoint, store: Store) -> None:
    publisher = MemoryPublisher()
    reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)
    before = len(publisher.messages)

    later = reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW + 600)

    events = [decode(m.body) for m in publisher.messages[before:]]
    new = {(e.data.raw["AlarmId"][:8], e.data.status) for e in events}
    assert new == {("d1e2f3a4", "resolved"), ("f0e1d2c3", "firing")}  # both were inside the lag
    assert later.failed == 0


def test_resolved_record_maps_to_the_recovery_callbacks_occurrence(api: HistoryEndpoint) -> None:
    """If the recovery callback of R3 had arrived, the reconciler skips it too."""
    store, publisher = MemoryStore(), MemoryPublisher()
    callbacks = delivered_callbacks()
    recovery = {**callbacks[1], "sessionId": "Zx1cV2bN3mA4sD5fG6hJ7kL8", "alarmStatus": "0"}
    recovery["recoverTime"] = "2026-11-28 17:50:00"
    receiver = Receiver(store, publisher, MemoryQuarantine(), record_occurrences=True)
    for body in [*callbacks, recovery]:
        assert post(receiver, body).status == 200

    reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)

    assert published_keys(publisher) == MISSED - {("4f1c2b9e", "resolved")}


# -- rate limits and errors --------------------------------------------------------------------


def test_throttled_calls_are_retried_with_backoff(api: HistoryEndpoint) -> None:
    api.failures = [("RequestLimitExceeded", "请求的次数超过了频率限制。")] * 2
    sleeps = Sleeps()
    store, publisher = MemoryStore(), MemoryPublisher()

    report = reconcile(history(api, sleeps), store, publisher, since=SINCE, until=UNTIL, now=NOW)

    assert report.published == len(MISSED) + len(DELIVERED)  # nothing delivered in this test
    assert (report.requests, report.pages, report.throttled) == (5, 3, 2)
    assert [s for s in sleeps.calls if s >= 0.5][:2] == [0.5, 1.0]  # exponential back-off


def test_throttling_that_does_not_end_publishes_nothing(api: HistoryEndpoint) -> None:
    api.failures = [("RequestLimitExceeded.UinLimitExceeded", "请求的次数超过了频率限制。")] * 3
    store, publisher = MemoryStore(), MemoryPublisher()

    with pytest.raises(HistoryError, match="RequestLimitExceeded") as caught:
        reconcile(history(api, max_retries=2), store, publisher, since=SINCE, until=UNTIL, now=NOW)

    assert caught.value.request_id
    assert publisher.messages == []
    assert len(api.calls) == 3


def test_an_error_on_a_later_page_publishes_nothing(api: HistoryEndpoint) -> None:
    """Page 1 succeeded; page 2 fails with a non-retryable error: no partial publishing."""
    store, publisher = MemoryStore(), MemoryPublisher()
    source = history(api)
    original = source.client.call_json

    def second_page_fails(action: str, params: dict[str, Any]) -> Any:
        if params["PageNumber"] == 2:
            api.failures = [("UnauthorizedOperation", "没有 monitor:DescribeAlarmHistories 权限")]
        return original(action, params)

    source.client.call_json = second_page_fails

    with pytest.raises(HistoryError, match="UnauthorizedOperation"):
        reconcile(source, store, publisher, since=SINCE, until=UNTIL, now=NOW)

    assert publisher.messages == []
    assert [c.error for c in api.calls] == [None, "UnauthorizedOperation"]


def test_server_errors_are_retried(api: HistoryEndpoint) -> None:
    api.failures = [502, ("InternalError", "内部错误。")]
    report = reconcile(history(api), MemoryStore(), MemoryPublisher(), since=SINCE, until=UNTIL, now=NOW)
    assert report.requests == 5 and report.failed == 0


def test_a_wrong_key_is_an_error_not_a_retry(api: HistoryEndpoint) -> None:
    source = history(api)
    source.client.credential = tencent.Credential(
        TencentOptions(secret_id=SECRET_ID, secret_key="wrong", region=REGION)
    )
    with pytest.raises(HistoryError, match=r"AuthFailure\."):
        reconcile(source, MemoryStore(), MemoryPublisher(), since=SINCE, until=UNTIL, now=NOW)
    assert len(api.calls) == 1


def test_calls_are_paced_under_the_rate_limit(api: HistoryEndpoint) -> None:
    sleeps = Sleeps()
    source = history(api, sleeps, rate_per_second=5.0, clock=lambda: sleeps.now)  # calls take no time
    reconcile(source, MemoryStore(), MemoryPublisher(), since=SINCE, until=UNTIL, now=NOW)
    assert sleeps.calls == [pytest.approx(0.2)] * 2  # 3 calls, 0.2 s apart


def test_page_size_is_the_apis_limit_at_most(api: HistoryEndpoint) -> None:
    source = history(api, page_size=100)
    report = reconcile(source, MemoryStore(), MemoryPublisher(), since=SINCE, until=UNTIL, now=NOW)
    assert report.pages == 1 and api.calls[0].params["PageSize"] == 100
    with pytest.raises(Exception, match=r"1\.\.100"):
        history(api, page_size=101)


def test_a_publish_failure_is_retried_by_the_next_run_after_the_lease(api: HistoryEndpoint) -> None:
    class Flaky(MemoryPublisher):
        fail = True

        def publish(self, message: Any) -> None:
            if self.fail:
                raise RuntimeError("queue down")
            super().publish(message)

    store, publisher = MemoryStore(lease_seconds=0.05), Flaky()
    first = reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)
    assert first.failed == len(MISSED) + len(DELIVERED) and publisher.messages == []
    assert all(store.get(i.occurrence).status == PENDING for i in first.items if i.occurrence and i.outcome == "failed")

    publisher.fail = False
    time.sleep(0.1)
    second = reconcile(history(api), store, publisher, since=SINCE, until=UNTIL, now=NOW)
    assert second.failed == 0
    assert len(publisher.messages) == len(MISSED) + len(DELIVERED)


# -- CLI and scheduled entry point -------------------------------------------------------------


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[HistoryEndpoint, int]]:
    """Fixtures shifted to the real clock, env as on SCF with an execution role."""
    shift = int(time.time()) - NOW
    for name in ("REGION", "ENDPOINT", "SECRET_ID", "SECRET_KEY", "SESSION_TOKEN"):
        monkeypatch.delenv(f"ALARM_CALLBACK_TENCENT_{name}", raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", TOKEN)
    monkeypatch.setenv("TENCENTCLOUD_REGION", REGION)
    monkeypatch.setenv("ALARM_CALLBACK_STORE_URL", f"sqlite:///{tmp_path}/store.db")
    monkeypatch.setenv("ALARM_CALLBACK_QUEUE_URL", f"sqlite:///{tmp_path}/queue.db")
    monkeypatch.setenv("ALARM_CALLBACK_QUARANTINE_URL", "memory://")
    monkeypatch.setenv("ALARM_CALLBACK_RECORD_OCCURRENCES", "true")
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", "t0ken-0123456789abcdef")
    monkeypatch.setenv("ALARM_CALLBACK_RECONCILE_PAGE_SIZE", "4")
    tencent.reset_clients()
    entry.reset()
    endpoint = HistoryEndpoint(SECRET_ID, SECRET_KEY, REGION, token=TOKEN, records=history_records(shift))
    with serve(endpoint) as running:
        monkeypatch.setenv("ALARM_CALLBACK_RECONCILE_ENDPOINT", running.url)
        yield running, shift
    tencent.reset_clients()
    entry.reset()


def _deliver_through_settings(shift: int) -> None:
    from alarm_callback.config.settings import Settings

    receiver = receiver_from_settings(Settings())
    for body in delivered_callbacks(shift):
        assert post(receiver, body, path="/callback/t0ken-0123456789abcdef").status == 200


def test_cli_prints_what_it_found_published_and_skipped(
    live: tuple[HistoryEndpoint, int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, shift = live
    _deliver_through_settings(shift)
    capsys.readouterr()

    assert cli.main(["reconcile", "--since", "2h", "--until", "5m"]) == 0
    table = capsys.readouterr().out
    assert "9 record(s), 3 API call(s), 3 page(s)" in table
    assert "published 9, skipped 4 (delivered 3, reconciled before 0, in progress 0, too recent 1), failed 0" in table
    assert "history-779d129a-40a1-4acf-b226-d9c2ae26e63b-firing" in table
    assert "OUTCOME" in table and "delivered" in table

    assert cli.main(["reconcile", "--since", "2h", "--until", "5m", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["records"], again["published"], again["delivered"], again["reconciled"]) == (9, 0, 3, 9)
    assert len(again["items"]) == 13

    queue = list(SQLiteQueue(str(tmp_path / "queue.db")).read(after=0))
    assert sum(1 for item in queue if decode(item.message.body).recovered) == 9


def test_cli_refuses_without_occurrence_markers(
    live: tuple[HistoryEndpoint, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_RECORD_OCCURRENCES", "false")
    assert cli.main(["reconcile"]) == 2
    assert "RECORD_OCCURRENCES" in capsys.readouterr().err
    assert live[0].calls == []


def test_cli_reports_an_api_error_and_publishes_nothing(
    live: tuple[HistoryEndpoint, int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    live[0].failures = [("AuthFailure.UnauthorizedOperation", "未授权操作")]
    assert cli.main(["reconcile", "--since", "2h"]) == 1
    err = capsys.readouterr().err
    assert "nothing published" in err and "AuthFailure.UnauthorizedOperation" in err and "RequestId" in err
    assert list(SQLiteQueue(str(tmp_path / "queue.db")).read(after=0)) == []


def test_scheduled_handler(live: tuple[HistoryEndpoint, int]) -> None:
    import handler

    _deliver_through_settings(live[1])
    timer_event = {"Type": "Timer", "TriggerName": "reconcile", "Time": "2026-11-28T11:00:00Z", "Message": ""}
    summary = handler.reconcile_handler({**timer_event, "since": "2h"}, None)
    assert (summary["records"], summary["published"], summary["delivered"], summary["failed"]) == (9, 9, 3, 0)
    assert handler.reconcile_handler({**timer_event, "since": "2h"}, None)["published"] == 0
