"""The Alertmanager harness (tests/alertmanager.py) works end to end, with no project code:
alerts posted to a real Alertmanager show up in its API and in the recording webhook.

The later tests pin the Alertmanager behaviour an ``alertmanager://`` publisher relies on
(https://prometheus.io/docs/alerting/latest/alerts_api/): an alert posted without
``endsAt`` resolves ``resolve_timeout`` after it was last received, an explicit later
``endsAt`` is not shortened by an overlapping re-post without one, an ``endsAt`` in the past
resolves it, annotations are those of the latest post, and a missing ``startsAt`` becomes
``endsAt`` (so always send ``startsAt``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.alertmanager import Alertmanager, make_alert, parse_time, running

pytestmark = pytest.mark.integration


@pytest.fixture
def am() -> Iterator[Alertmanager]:
    with running(resolve_timeout="2s") as instance:
        yield instance


def test_firing_then_resolved_reaches_api_and_webhook(am: Alertmanager) -> None:
    started = datetime.now(timezone.utc) - timedelta(minutes=1)
    labels = {"instance": "ins-harness", "severity": "critical"}
    annotations = {"summary": "CPU 100% > 90%"}
    firing = make_alert(
        "HarnessFiring", labels, annotations, starts_at=started, generator_url="https://example.invalid/p"
    )
    am.post_alerts([firing])

    held = am.wait_for(lambda: am.find_alert(alertname="HarnessFiring"), message="the alert in GET /api/v2/alerts")
    assert held["status"]["state"] == "active"
    assert held["labels"] == {"alertname": "HarnessFiring", **labels}
    assert held["annotations"] == annotations
    assert held["generatorURL"] == "https://example.invalid/p"
    assert parse_time(held["startsAt"]) == parse_time(firing["startsAt"])

    notified = am.wait_for(lambda: am.find_notification("firing", alertname="HarnessFiring"), message="firing webhook")
    assert notified["annotations"] == annotations
    body = am.notifications[-1]
    assert body["version"] == "4"
    assert body["receiver"] == "recorder"
    assert body["status"] == "firing"

    ended = datetime.now(timezone.utc)
    am.post_alerts([{**firing, "endsAt": make_alert("x", ends_at=ended)["endsAt"]}])
    resolved = am.wait_for(
        lambda: am.find_notification("resolved", alertname="HarnessFiring"), message="resolved webhook"
    )
    assert resolved["labels"] == {"alertname": "HarnessFiring", **labels}
    assert abs(parse_time(resolved["endsAt"]) - ended) < timedelta(seconds=1)
    # A resolved alert is no longer listed by the API.
    am.wait_for(lambda: am.find_alert(alertname="HarnessFiring") is None, message="the alert gone from the API")


def test_no_ends_at_resolves_after_resolve_timeout(am: Alertmanager) -> None:
    posted = datetime.now(timezone.utc)
    am.post_alerts([make_alert("HarnessTimeout")])
    held = am.wait_for(lambda: am.find_alert(alertname="HarnessTimeout"))
    # endsAt = time received + resolve_timeout (2s here)
    assert abs(parse_time(held["endsAt"]) - (posted + timedelta(seconds=2))) < timedelta(seconds=1)
    am.wait_for(lambda: am.find_notification("resolved", alertname="HarnessTimeout"), timeout=10)


def test_explicit_ends_at_outlives_reposts_and_a_past_ends_at_resolves(am: Alertmanager) -> None:
    started = datetime.now(timezone.utc) - timedelta(minutes=1)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    am.post_alerts([make_alert("HarnessLong", annotations={"summary": "first"}, starts_at=started, ends_at=later)])
    am.wait_for(lambda: am.find_notification("firing", alertname="HarnessLong"))

    # A re-post without endsAt (so: now + the 2s resolve_timeout) overlapping the held one is
    # merged: the later explicit endsAt stays, the annotations are replaced.
    am.post_alerts([make_alert("HarnessLong", annotations={"summary": "second"}, starts_at=started)])
    held = am.wait_for(
        lambda: (a := am.find_alert(alertname="HarnessLong")) and a["annotations"] == {"summary": "second"} and a
    )
    assert abs(parse_time(held["endsAt"]) - later) < timedelta(seconds=1)

    # Still firing well past resolve_timeout.
    time.sleep(3)
    assert am.find_alert(alertname="HarnessLong") is not None
    assert am.find_notification("resolved", alertname="HarnessLong") is None

    am.post_alerts([make_alert("HarnessLong", starts_at=started, ends_at=datetime.now(timezone.utc))])
    am.wait_for(lambda: am.find_notification("resolved", alertname="HarnessLong"))


def test_ends_at_without_starts_at_means_it_starts_at_ends_at(am: Alertmanager) -> None:
    """A trap for a publisher: Alertmanager sets a missing startsAt to endsAt (not to now), so
    an alert held that way does not overlap a later re-post, which then replaces it whole."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    am.post_alerts([make_alert("HarnessNoStart", ends_at=later)])
    held = am.wait_for(lambda: am.find_alert(alertname="HarnessNoStart"))
    assert parse_time(held["startsAt"]) == parse_time(held["endsAt"])

    am.post_alerts([make_alert("HarnessNoStart")])  # no endsAt: now + 2s
    am.wait_for(lambda: am.find_notification("resolved", alertname="HarnessNoStart"), timeout=10)


def test_stop_and_start_on_the_same_port(am: Alertmanager) -> None:
    am.post_alerts([make_alert("HarnessRestart")])
    am.wait_for(lambda: am.find_alert(alertname="HarnessRestart"))
    port = am.port

    am.stop()
    assert not am.is_running
    with pytest.raises(OSError):
        am.post_alerts([make_alert("HarnessWhileDown")])

    am.start()
    assert am.is_running and am.port == port
    # Alertmanager keeps alerts in memory only: clients must send them again.
    assert am.alerts() == []
    am.post_alerts([make_alert("HarnessRestart")])
    am.wait_for(lambda: am.find_alert(alertname="HarnessRestart"))
