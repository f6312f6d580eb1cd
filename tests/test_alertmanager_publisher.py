"""`alertmanager://` against a real Alertmanager (tests/alertmanager.py): an alarm and its
recovery, through the receiver, become one alert that fires and then resolves; with
Alertmanager down the alarm stays pending in the outbox and the sweeper delivers it later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest

from alarm_callback import samples
from alarm_callback.backends.alertmanager import AlertmanagerPublisher, parse_duration, to_alert
from alarm_callback.backends.memory import MemoryQuarantine, MemoryStore
from alarm_callback.backends.options import BackendOptions
from alarm_callback.backends.registry import build_publisher
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.http import Request
from alarm_callback.core.message import Message
from alarm_callback.core.receiver import Receiver
from alarm_callback.core.sweeper import sweep
from tests.alertmanager import Alertmanager, parse_time, running
from tests.conftest import free_port
from tests.test_server import TOKEN

ALERT = {"alertname": "cpu_usage", "instance": "ins-o9p3rg3m", "policy_id": "policy-n4exeh88"}


@pytest.fixture
def am() -> Iterator[Alertmanager]:
    with running(resolve_timeout="2s") as instance:
        yield instance


def firing_body() -> bytes:
    return samples.load()["metric"]


def recovery_body() -> bytes:
    body = json.loads(samples.load()["metric"])
    body.update(sessionId="recovery-1", alarmStatus=0, recoverTime="2017-03-09 07:50:00")
    return json.dumps(body).encode()


def receiver_for(am: Alertmanager) -> tuple[Receiver, MemoryStore, Any]:
    store = MemoryStore()
    publisher = build_publisher(f"alertmanager://{am.address}", BackendOptions())
    assert isinstance(publisher, AlertmanagerPublisher)
    return Receiver(store, publisher, MemoryQuarantine()), store, publisher


def status_of(store: MemoryStore, key: str) -> str | None:
    record = store.get(key)
    return record.status if record else None


@pytest.mark.integration
def test_firing_then_recovery_fires_and_resolves(am: Alertmanager) -> None:
    receiver, store, _ = receiver_for(am)
    assert receiver.handle(Request("POST", "/callback", firing_body())).status == 200

    held = am.wait_for(lambda: am.find_alert(**ALERT), message="the alert in Alertmanager")
    assert held["status"]["state"] == "active"
    assert held["labels"]["namespace"] == "qce/cvm"
    assert held["labels"]["region"] == "gz"
    assert held["labels"]["severity"] == "warning"
    assert "status" not in held["labels"]
    assert held["annotations"]["value"] == "100% > 90%"
    assert parse_time(held["startsAt"]) == datetime(2017, 3, 8, 23, 0, tzinfo=timezone.utc)
    # held for a day (the default ?hold=24h), not resolve_timeout (2 s here)
    assert parse_time(held["endsAt"]) > datetime.now(timezone.utc) + timedelta(hours=23)
    am.wait_for(lambda: am.find_notification("firing", **ALERT), message="firing webhook")
    time.sleep(2.5)
    assert am.find_alert(**ALERT) is not None  # outlived resolve_timeout

    assert receiver.handle(Request("POST", "/callback", recovery_body())).status == 200
    resolved = am.wait_for(lambda: am.find_notification("resolved", **ALERT), message="resolved webhook")
    assert parse_time(resolved["endsAt"]) == datetime(2017, 3, 8, 23, 50, tzinfo=timezone.utc)
    am.wait_for(lambda: am.find_alert(**ALERT) is None, message="the alert gone from the API")
    assert [status_of(store, key) for key in ("xxxxxxxx", "recovery-1")] == ["published", "published"]


@pytest.mark.integration
def test_outage_leaves_it_pending_and_the_sweeper_delivers(am: Alertmanager) -> None:
    receiver, store, publisher = receiver_for(am)
    am.stop()
    assert receiver.handle(Request("POST", "/callback", firing_body())).status == 200  # acked: durable
    assert status_of(store, "xxxxxxxx") == "pending"

    am.start()
    report = sweep(store, publisher, now=time.time() + 60)
    assert report.published == 1 and report.failed == 0
    assert status_of(store, "xxxxxxxx") == "published"
    am.wait_for(lambda: am.find_alert(**ALERT), message="the swept alert in Alertmanager")
    am.wait_for(lambda: am.find_notification("firing", **ALERT), message="firing webhook")


def test_recovery_never_seen_firing_is_posted_resolved() -> None:
    event = {
        "id": "r1",
        "alarmstatus": "resolved",
        "fingerprint": "fp",
        "future_field": {"ignored": True},
        "data": {
            "status": "resolved",
            "level": "Serious",
            "first_occur_time": "2024-01-01T00:00:00Z",
            "received_at": "2024-01-01T01:00:00Z",
            "event": {"event_name": "ping_unreachable"},
            "object": {"id": "ins-1"},
            "policy": {"id": "p", "detail_url": "https://console.cloud.tencent.com/monitor/p"},
            "unknown": 1,
        },
    }
    alert = to_alert(event)
    assert alert["labels"] == {
        "alertname": "ping_unreachable",
        "fingerprint": "fp",
        "instance": "ins-1",
        "policy_id": "p",
        "severity": "critical",
    }
    assert alert["startsAt"] == "2024-01-01T00:00:00.000Z"
    assert alert["endsAt"] == "2024-01-01T01:00:00.000Z"  # no recover_time: the received time
    assert alert["generatorURL"] == "https://console.cloud.tencent.com/monitor/p"
    assert alert["annotations"]["status"] == "resolved"


def test_url_options() -> None:
    publisher = AlertmanagerPublisher.from_url(
        urlsplit("alertmanagers://u%40x:p%3Aw@am.example:9443/am/?hold=2h&timeout=1.5"), BackendOptions()
    )
    assert publisher.endpoint == "https://am.example:9443/am/api/v2/alerts"
    assert publisher.hold == timedelta(hours=2) and publisher.timeout == 1.5
    assert publisher._headers["Authorization"] == "Basic dUB4OnA6dw=="  # u@x:p:w
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("3600") == timedelta(hours=1)
    with pytest.raises(ConfigError):
        AlertmanagerPublisher.from_url(urlsplit("alertmanager://h:1?hold=soon"), BackendOptions())
    with pytest.raises(ConfigError):
        AlertmanagerPublisher.from_url(urlsplit("alertmanager://h:1?secret=x"), BackendOptions())


def test_unreachable_raises_publish_error() -> None:
    from tests.conftest import free_port

    publisher = AlertmanagerPublisher(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(PublishError):
        publisher.publish(Message(id="x", body=json.dumps({"id": "x", "data": {}})))


@pytest.mark.integration
def test_through_the_local_server_firing_then_recovery(am: Alertmanager, tmp_path: Any) -> None:
    """The issue's done-when: `make run`'s server (`alarm-callback serve`) with
    QUEUE_URL=alertmanager://..., a firing alarm and its recovery over HTTP."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARM_CALLBACK_")}
    env.update(
        ALARM_CALLBACK_TOKEN=TOKEN,
        ALARM_CALLBACK_STORE_URL=f"sqlite:///{tmp_path}/store.db",
        ALARM_CALLBACK_QUARANTINE_URL=f"sqlite:///{tmp_path}/quarantine.db",
        ALARM_CALLBACK_QUEUE_URL=f"alertmanager://{am.address}",
    )
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "alarm_callback", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"

    def post(body: bytes) -> Any:
        request = urllib.request.Request(f"{base}/callback/{TOKEN}", body, method="POST")
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.load(reply)

    try:
        am.wait_for(lambda: _up(base), message="the local server")
        assert post(firing_body()) == {"sessionId": "xxxxxxxx", "retCode": 0}
        assert am.wait_for(lambda: am.find_alert(**ALERT), message="the alert")["status"]["state"] == "active"
        am.wait_for(lambda: am.find_notification("firing", **ALERT), message="firing webhook")
        assert post(recovery_body()) == {"sessionId": "recovery-1", "retCode": 0}
        am.wait_for(lambda: am.find_notification("resolved", **ALERT), message="resolved webhook")
        assert am.find_alert(**ALERT) is None  # resolved alerts leave the API's list
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1):
            return True
    except (urllib.error.URLError, ConnectionError):
        return False
