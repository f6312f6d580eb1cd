"""Issue 14, a third of the DynamoDB bill: a claim enters DynamoDB's pending index only when
the sweeper may be needed (`Store.ensure_swept`), never on the happy path, and nothing is
acked that the sweeper could not find.

The receiver asks for the claim to be swept before it acks an alarm it has not published:
the publish failed, a resend found the claim in progress (the first delivery may have died
after its claim), or another body under the key found it pending. When the store cannot
confirm, the answer is 503 and Tencent resends. The reconciler hands the sweeper a pending
record a marker points at (a claim whose delivery died and whose resends all failed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from alarm_callback.backends.aws.dynamodb import DynamoDBStore, table_definition
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.core.errors import StoreError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED, ClaimStatus
from alarm_callback.core.receiver import Outcome, Receiver
from alarm_callback.core.sweeper import sweep
from alarm_callback.testing.faults import Crash
from tests.conftest import post
from tests.test_aws_backends import REGION, unique
from tests.test_receiver import FlakyPublisher as Down


class Unconfirmed(MemoryStore):
    """A store that cannot confirm `ensure_swept` (it is down for that one call)."""

    def __init__(self) -> None:
        super().__init__(lease_seconds=60)
        self.asked: list[str] = []

    def _expose(self, key: str, now: float) -> None:
        self.asked.append(key)
        raise StoreError("injected: the store is down")


def test_a_failed_publish_is_not_acked_when_the_sweeper_may_not_find_it(metric_sample: dict[str, Any]) -> None:
    store = Unconfirmed()
    receiver = Receiver(store, Down(), MemoryQuarantine())
    response = post(receiver, metric_sample)
    assert response.status == 503 and store.asked == ["xxxxxxxx"]  # Tencent resends
    record = store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING  # durable, handed on by the resend


def test_a_resend_of_a_claim_in_progress_is_acked_only_once_it_is_swept(metric_sample: dict[str, Any]) -> None:
    store = Unconfirmed()
    store.claim("xxxxxxxx", "the first delivery's claim; that delivery died")
    receiver = Receiver(store, MemoryPublisher(), MemoryQuarantine(), episode_ttl_seconds=0)
    assert receiver.accept(json.dumps(metric_sample).encode()).outcome is Outcome.UNAVAILABLE
    assert store.asked == ["xxxxxxxx"]


def test_another_body_under_a_pending_claim_is_acked_only_once_the_claim_is_swept(
    metric_sample: dict[str, Any],
) -> None:
    store = Unconfirmed()
    store.claim("xxxxxxxx", "first", digest="another body")
    quarantine = MemoryQuarantine()
    receiver = Receiver(store, MemoryPublisher(), quarantine, episode_ttl_seconds=0)
    assert post(receiver, metric_sample).status == 503
    assert [item.reason for item in quarantine.items.values()] == ["dedup_conflict"]  # kept all the same


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBStore]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        table = unique("outbox")
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**table_definition(table))
        yield DynamoDBStore(table, lease_seconds=0.2, dynamodb=client)


def writes_of(store: DynamoDBStore) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in ("PutItem", "UpdateItem", "TransactWriteItems"):
            calls.append({"op": model.name, **params})

    store.client.meta.events.register("before-parameter-build.dynamodb", note)
    return calls


def test_a_new_alarm_published_at_once_never_enters_the_pending_index(
    dynamodb: DynamoDBStore, metric_sample: dict[str, Any]
) -> None:
    """Claim, publish, mark: two writes of the record, neither touching the index's key (the
    old claim wrote ``outbox``: an index put, and the mark an index delete)."""
    writes = writes_of(dynamodb)
    publisher = MemoryPublisher()
    receiver = Receiver(dynamodb, publisher, MemoryQuarantine(), episode_ttl_seconds=0)
    assert post(receiver, metric_sample).status == 200 and len(publisher.messages) == 1
    assert [w["op"] for w in writes] == ["PutItem", "UpdateItem"]
    assert "outbox" not in writes[0]["Item"]
    assert dynamodb.pending(0, now=10**10) == []
    record = dynamodb.get("xxxxxxxx")
    assert record is not None and record.status == PUBLISHED


def test_on_dynamodb_a_failed_publish_is_listed_and_swept(
    dynamodb: DynamoDBStore, metric_sample: dict[str, Any]
) -> None:
    publisher = Down()
    receiver = Receiver(dynamodb, publisher, MemoryQuarantine())
    assert post(receiver, metric_sample).status == 200  # acked: listed for the sweeper
    assert [r.key for r in dynamodb.pending(0, now=10**10)] == ["xxxxxxxx"]
    publisher.down = False
    report = sweep(dynamodb, publisher, receiver.builder, now=10**10)
    assert report.published == 1 and [m.id for m in publisher.messages] == ["xxxxxxxx"]


class DiesAfterTheClaim(MemoryPublisher):
    """The process that claimed the alarm dies before it publishes (a Lambda timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = True

    def publish(self, message: Message) -> None:
        if self.dead:
            raise Crash("the function was killed after its claim")
        super().publish(message)


def test_on_dynamodb_a_delivery_that_died_after_its_claim_is_swept_once_its_resend_is_acked(
    dynamodb: DynamoDBStore, metric_sample: dict[str, Any]
) -> None:
    publisher = DiesAfterTheClaim()
    receiver = Receiver(dynamodb, publisher, MemoryQuarantine())
    with pytest.raises(Crash):
        post(receiver, metric_sample)
    assert dynamodb.pending(0, now=10**10) == []  # claimed, not listed, not acked
    publisher.dead = False
    resend = receiver.accept(json.dumps(metric_sample).encode())  # within the lease
    assert resend.outcome is Outcome.IN_PROGRESS and resend.response.status == 200
    [owed] = dynamodb.pending(0, now=10**10)
    assert owed.key == "xxxxxxxx" and publisher.messages == []
    report = sweep(dynamodb, publisher, receiver.builder, now=owed.lease_until + 1)
    assert report.published == 1 and [m.id for m in publisher.messages] == ["xxxxxxxx"]
    assert dynamodb.pending(0, now=10**10) == []


def test_the_reconciler_hands_the_sweeper_a_claim_whose_delivery_died_unacked(dynamodb: DynamoDBStore) -> None:
    """Every resend failed too: the claim is in no index and no callback was acked. The
    alarm history lists the occurrence; its marker points at the pending claim, which the
    reconciler hands to the sweeper: published once, under the callback's id."""
    from alarm_callback.reconcile.run import reconcile
    from tests.test_reconcile import NOW, FakeHistory, callbacks, records

    body = callbacks()[0]
    publisher = DiesAfterTheClaim()
    receiver = Receiver(dynamodb, publisher, MemoryQuarantine(), record_occurrences=True)
    with pytest.raises(Crash):
        post(receiver, body)
    assert dynamodb.pending(0, now=10**10) == []
    publisher.dead = False
    report = reconcile(FakeHistory([records()["c36494f8"]]), dynamodb, publisher, since=7200, until=300, now=NOW)
    [item] = report.items
    assert (item.outcome, item.message_id) == ("delivered", body["sessionId"])
    assert item.detail == "the callback's record is pending: handed to the sweeper"
    assert publisher.messages == []  # nothing under a history id
    assert sweep(dynamodb, publisher, receiver.builder, now=10**10).published == 1
    assert [m.id for m in publisher.messages] == [body["sessionId"]]
    claim = dynamodb.claim(body["sessionId"], "a resend, much later", now=10**10)
    assert claim.status is ClaimStatus.PUBLISHED
