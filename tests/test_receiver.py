"""The receiver's contract: status codes, ack, dedup, quarantine, and the hand-off order."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.consumer import decode
from alarm_callback.core.auth import Authenticator
from alarm_callback.core.errors import PublishError, StoreError
from alarm_callback.core.http import Request
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED
from alarm_callback.core.receiver import Outcome, Receiver
from alarm_callback.core.sweeper import sweep
from tests.conftest import post


def published(receiver: Receiver) -> list[Message]:
    assert isinstance(receiver.publisher, MemoryPublisher)
    return receiver.publisher.messages


def quarantined(receiver: Receiver) -> list[Any]:
    assert isinstance(receiver.quarantine, MemoryQuarantine)
    return list(receiver.quarantine.items.values())


def test_ack_and_one_message(receiver: Receiver, metric_sample: dict[str, Any]) -> None:
    response = post(receiver, metric_sample)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    [message] = published(receiver)
    event = decode(message.body)
    assert event.id == "xxxxxxxx"
    assert event.type == "com.tencentcloud.monitor.alarm.firing"
    assert event.subject == "ins-o9p3rg3m"
    assert event.data.raw == metric_sample
    assert message.attributes == {
        "status": "firing",
        "kind": "metric",
        "namespace": "qce/cvm",
        "region": "gz",
        "policy_id": "policy-n4exeh88",
        "episode": event.episode,
        "sequence": "1",
    }
    assert message.fingerprint == event.fingerprint
    assert receiver.store.get("xxxxxxxx").status == PUBLISHED  # type: ignore[union-attr]


def test_resend_is_acked_without_second_publish(receiver: Receiver, metric_sample: dict[str, Any]) -> None:
    first = post(receiver, metric_sample)
    second = post(receiver, metric_sample)
    assert first.payload() == second.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    assert len(published(receiver)) == 1


def test_ack_echoes_session_id_verbatim(receiver: Receiver, metric_sample: dict[str, Any]) -> None:
    metric_sample["sessionId"] = 12345
    assert post(receiver, metric_sample).payload() == {"sessionId": 12345, "retCode": 0}


def test_graded_policy_levels_are_distinct(receiver: Receiver, metric_sample: dict[str, Any]) -> None:
    for level in ("Remind", "Serious"):
        body = {**metric_sample, "alertId": f"xxxxxxxx_{level}", "alarmLevel": level}
        assert post(receiver, body).payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    assert [m.id for m in published(receiver)] == ["xxxxxxxx_Remind", "xxxxxxxx_Serious"]


def test_every_seed_sample_is_published_once(receiver: Receiver, seed_samples: dict[str, bytes]) -> None:
    for body in seed_samples.values():
        assert post(receiver, body).status == 200
        assert post(receiver, body).status == 200
    ids = [m.id for m in published(receiver)]
    assert len(ids) == len(set(ids)) == len(seed_samples)


def test_foreign_shape_with_id_forwarded_as_unknown(receiver: Receiver) -> None:
    response = post(receiver, {"id": "other-vendor-1", "title": "disk"})
    assert response.status == 200
    event = decode(published(receiver)[0].body)
    assert (event.alarmkind, event.alarmstatus) == ("unknown", "unknown")
    assert event.data.raw == {"id": "other-vendor-1", "title": "disk"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b'{"alarmStatus": 1}', "missing_id"),
        (json.dumps({"sessionId": "x" * 300}).encode(), "invalid_id"),
        (b"[" * 100000 + b"]" * 100000, "invalid_json"),
    ],
)
def test_bad_bodies_get_400_and_are_quarantined(receiver: Receiver, body: bytes, code: str) -> None:
    response = post(receiver, body)
    assert response.status == 400
    payload = response.payload()
    assert payload["error"] == code and payload["detail"]
    [item] = quarantined(receiver)
    assert item.body == body and item.reason == code
    assert published(receiver) == []


def test_method_not_allowed(receiver: Receiver) -> None:
    response = receiver.handle(Request("GET", "/callback"))
    assert response.status == 405
    assert response.headers["allow"] == "POST"
    assert response.payload()["error"] == "method_not_allowed"


def test_body_too_large_is_413_and_kept_truncated(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine(), max_body_bytes=1024)
    body = json.dumps({**metric_sample, "padding": "x" * 2000}).encode()
    response = post(receiver, body)
    assert response.status == 413
    assert response.payload()["error"] == "body_too_large"
    [item] = quarantined(receiver)
    assert item.truncated and item.body == body[:1024]


class TestAuth:
    def make(self, **kw: str) -> Receiver:
        return Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine(), Authenticator(**kw))

    def test_token_in_path_or_query(self, metric_sample: dict[str, Any]) -> None:
        receiver = self.make(token="s3cret")
        assert post(receiver, metric_sample, "/callback/s3cret").status == 200
        assert post(receiver, metric_sample, "/callback/s3cret/").status == 200
        assert post(receiver, metric_sample, "/callback", query={"token": "s3cret"}).status == 200

    def test_basic_auth(self, metric_sample: dict[str, Any]) -> None:
        receiver = self.make(basic_auth="tencent:pa:ss")
        good = "Basic " + base64.b64encode(b"tencent:pa:ss").decode()
        assert post(receiver, metric_sample, headers={"authorization": good}).status == 200

    @pytest.mark.parametrize(
        ("path", "query", "headers"),
        [
            ("/callback", {}, {}),
            ("/callback/wrong", {}, {}),
            ("/callback/s3cre", {}, {}),
            ("/callback", {"token": "S3CRET"}, {}),
            ("/callback", {}, {"authorization": "Basic " + base64.b64encode(b"tencent:nope").decode()}),
            ("/callback", {}, {"authorization": "Basic !!!notbase64"}),
            ("/callback", {}, {"authorization": "Bearer s3cret"}),
        ],
    )
    def test_wrong_or_missing_credential_is_401_and_writes_nothing(
        self, path: str, query: dict[str, str], headers: dict[str, str], metric_sample: dict[str, Any]
    ) -> None:
        receiver = self.make(token="s3cret", basic_auth="tencent:pa:ss")
        for body in (json.dumps(metric_sample).encode(), b"{not json"):
            response = post(receiver, body, path, query=query, headers=headers)
            assert response.status == 401
            assert response.payload() == {
                "error": "unauthorized",
                "detail": "missing or wrong credential",
                "retCode": 401,
            }
        assert published(receiver) == []
        assert quarantined(receiver) == []
        assert receiver.store.get("xxxxxxxx") is None


class FlakyStore(MemoryStore):
    def __init__(self, fail_claim: bool = False, fail_mark: bool = False) -> None:
        super().__init__()
        self.fail_claim = fail_claim
        self.fail_mark = fail_mark

    def claim(self, key: str, message: str, now: float | None = None) -> Any:
        if self.fail_claim:
            raise StoreError("store down")
        return super().claim(key, message, now)

    def mark_published(self, key: str, now: float | None = None) -> None:
        if self.fail_mark:
            raise StoreError("store down")
        super().mark_published(key, now)


class FlakyPublisher(MemoryPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def publish(self, message: Message) -> None:
        if self.down:
            raise PublishError("queue down")
        super().publish(message)


def test_publish_failure_acks_and_keeps_the_alarm_in_the_outbox(metric_sample: dict[str, Any]) -> None:
    store, publisher = MemoryStore(lease_seconds=10), FlakyPublisher()
    receiver = Receiver(store, publisher, MemoryQuarantine())
    response = post(receiver, metric_sample)
    assert response.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    record = store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING
    # A resend within the lease is acked; the first delivery (or the sweeper) owns it.
    assert post(receiver, metric_sample).status == 200
    assert publisher.messages == []
    # The queue comes back: the sweeper publishes it once the lease has run out.
    publisher.down = False
    assert sweep(store, publisher, now=record.lease_until - 1).published == 0
    report = sweep(store, publisher, now=record.lease_until + 1)
    assert (report.found, report.published, report.failed) == (1, 1, 0)
    assert [m.id for m in publisher.messages] == ["xxxxxxxx"]
    assert decode(publisher.messages[0].body).data.raw == metric_sample
    assert store.get("xxxxxxxx").status == PUBLISHED  # type: ignore[union-attr]
    assert sweep(store, publisher, now=record.lease_until + 2).found == 0


def test_stale_pending_is_taken_over_by_a_resend(metric_sample: dict[str, Any]) -> None:
    store, publisher = MemoryStore(lease_seconds=10), FlakyPublisher()
    receiver = Receiver(store, publisher, MemoryQuarantine())
    post(receiver, metric_sample)
    record = store.get("xxxxxxxx")
    assert record is not None
    publisher.down = False
    claim = store.claim("xxxxxxxx", record.message, now=record.lease_until + 0.001)
    assert claim.claimed


def test_mark_failure_still_acks(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(FlakyStore(fail_mark=True), MemoryPublisher(), MemoryQuarantine())
    assert post(receiver, metric_sample).status == 200
    assert len(published(receiver)) == 1


def test_store_down_default_publishes_flagged(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(FlakyStore(fail_claim=True), MemoryPublisher(), MemoryQuarantine())
    assert post(receiver, metric_sample).payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    [message] = published(receiver)
    assert message.attributes["dedup"] == "skipped"
    assert decode(message.body).dedup == "skipped"


def test_store_down_reject_answers_503(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(FlakyStore(fail_claim=True), MemoryPublisher(), MemoryQuarantine(), store_down="reject")
    response = post(receiver, metric_sample)
    assert response.status == 503
    assert response.payload()["error"] == "unavailable"
    assert published(receiver) == []


def test_store_and_queue_down_is_503(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(FlakyStore(fail_claim=True), FlakyPublisher(), MemoryQuarantine())
    assert post(receiver, metric_sample).status == 503


def test_replay_path_does_not_requarantine(receiver: Receiver) -> None:
    result = receiver.accept(b"{still bad", source="replay", quarantine=False)
    assert result.response.status == 400 and result.outcome is Outcome.REJECTED
    assert quarantined(receiver) == []


def test_occurrence_markers_for_the_reconciler(metric_sample: dict[str, Any]) -> None:
    store = MemoryStore()
    receiver = Receiver(store, MemoryPublisher(), MemoryQuarantine(), record_occurrences=True)
    post(receiver, metric_sample)
    repeat = {**metric_sample, "sessionId": "repeat-1"}
    post(receiver, repeat)
    recovery = {**metric_sample, "sessionId": "recovery-1", "alarmStatus": 0}
    post(receiver, recovery)
    event = decode(published(receiver)[0].body)
    first = 1489014000  # 2017-03-09 07:00:00 +08:00
    markers = sorted(k for k in store._records if k.startswith("occ:"))
    assert markers == [f"occ:{event.fingerprint}:{first}:firing", f"occ:{event.fingerprint}:{first}:resolved"]
    assert all(store.get(k).status == PUBLISHED for k in markers)  # type: ignore[union-attr]


def test_no_occurrence_markers_by_default(metric_sample: dict[str, Any]) -> None:
    store = MemoryStore()
    post(Receiver(store, MemoryPublisher(), MemoryQuarantine()), metric_sample)
    assert list(store._records) == ["xxxxxxxx"]


def test_the_occurrence_marker_is_written_at_claim_time(metric_sample: dict[str, Any]) -> None:
    """Issue 11 #4: the marker used to be written only after a successful publish, so during
    a queue outage the reconciler published the same occurrence under a second id."""
    store, publisher = MemoryStore(lease_seconds=10), FlakyPublisher()
    post(Receiver(store, publisher, MemoryQuarantine(), record_occurrences=True), metric_sample)
    markers = [r for k, r in store._records.items() if k.startswith("occ:")]
    assert [(m.status, m.message) for m in markers] == [(PUBLISHED, "xxxxxxxx")]  # while still pending
    publisher.down = False
    record = store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING
    report = sweep(store, publisher, now=record.lease_until + 1)
    assert (report.found, report.published) == (1, 1)  # the marker is never swept
    assert sum(k.startswith("occ:") for k in store._records) == 1
