"""DynamoDB store, SQS and SNS publishers against moto, in process (`mock_aws`)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto import mock_aws

from alarm_callback.backends.aws import clients as aws
from alarm_callback.backends.aws.dynamodb import DynamoDBStore, table_definition
from alarm_callback.backends.aws.dynamodb_quarantine import DynamoDBQuarantine
from alarm_callback.backends.aws.sns import SNSPublisher
from alarm_callback.backends.aws.sqs import SQSPublisher
from alarm_callback.backends.options import AwsOptions, BackendOptions
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import publisher_from_settings, quarantine_from_settings, store_from_settings
from alarm_callback.core.errors import ConfigError, PublishError, QuarantineError, StoreError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED, ClaimStatus
from alarm_callback.core.ports import Quarantined
from alarm_callback.testing.moto import (
    TableSnapshots,
    atomic_methods,
    index_scoped_query,
    keyed_all_items,
    keyed_sorted_items,
    untrack_instances,
)
from tests.test_episodes import check_concurrent_steps, check_episode_semantics, check_receiver_lifecycle
from tests.test_stores import T0, check_concurrent_claims, check_conflicts_markers_and_give_up, check_store_semantics

REGION = "us-east-1"
MSG = Message(
    id="sess-1",
    body='{"id":"sess-1"}',
    fingerprint="fp-1",
    attributes={
        "status": "firing",
        "kind": "metric",
        "namespace": "qce/cvm",
        "region": "ap-guangzhou",
        "policy_id": "p",
    },
)


def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, and no endpoint override from the caller's shell."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    dummy_credentials(monkeypatch)
    aws.reset_clients()
    with mock_aws():
        yield
    aws.reset_clients()


@pytest.fixture
def table(mocked: None) -> str:
    name = unique("outbox")
    boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(name))
    return name


def receive_all(queue_url: str) -> list[Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    found: list[Any] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return found
        found.extend(batch)
        for item in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])


def as_sqs_url(https_url: str) -> str:
    return "sqs://" + https_url.removeprefix("https://").removeprefix("http://")


# -- DynamoDB store --------------------------------------------------------------------------


def test_dynamodb_store_semantics(table: str) -> None:
    check_store_semantics(DynamoDBStore(table, ttl_seconds=100, lease_seconds=10))
    check_conflicts_markers_and_give_up(DynamoDBStore(table, ttl_seconds=100, lease_seconds=10))


def test_dynamodb_concurrent_claims_from_16_threads(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB evaluates a condition and writes atomically; moto checks then writes, so two
    threads can both pass its check (about 1 run in 40). The lock gives moto the service's
    atomicity; what is tested is that the store turns it into exactly one CLAIMED."""
    from moto.dynamodb.models import DynamoDBBackend

    put_item = DynamoDBBackend.put_item
    lock = threading.Lock()

    def atomic_put_item(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", atomic_put_item)
    check_concurrent_claims(lambda: DynamoDBStore(table, ttl_seconds=100, lease_seconds=10), threads=16)


def test_dynamodb_record_layout_ttl_and_sparse_index(table: str) -> None:
    """A claim stays out of the pending index (a new alarm published at once costs 2 write
    units, not 4); `ensure_swept` puts it in and takes its TTL off (an owed record is never
    deleted); `mark_published` takes it out again and sets the TTL."""
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    raw = boto3.client("dynamodb", region_name=REGION)

    def indexed() -> list[str]:
        return [
            item["pk"]["S"]
            for item in raw.query(
                TableName=table,
                IndexName="pending",
                KeyConditionExpression="outbox = :p",
                ExpressionAttributeValues={":p": {"S": "pending"}},
            )["Items"]
        ]

    store.claim("k", "m", now=T0)
    item = raw.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]
    assert item["status"] == {"S": PENDING} and "outbox" not in item and indexed() == []
    assert int(item["ttl"]["N"]) >= T0 + 100  # an unswept claim nobody publishes is cleaned up
    store.ensure_swept("k", now=T0 + 1)
    item = raw.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]
    assert item["outbox"] == {"S": "pending"} and indexed() == ["k"]
    assert "ttl" not in item  # owed to the queue: TTL must not delete it
    assert [r.key for r in store.pending(0, now=T0 + 50)] == ["k"]
    store.mark_published("k", now=T0 + 1)
    item = raw.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]
    assert item["status"] == {"S": PUBLISHED} and "outbox" not in item
    assert int(item["ttl"]["N"]) >= T0 + 100  # not before the record's own expiry
    assert indexed() == []
    store.ensure_swept("k", now=T0 + 2)  # settled: not listed again
    assert indexed() == []


def test_dynamodb_duplicate_costs_one_call(table: str) -> None:
    """The losing claim learns the winner's record from ALL_OLD, without a GetItem."""
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    store.claim("k", "first", now=T0)
    store.mark_published("k", now=T0)
    calls: list[str] = []
    store.client.meta.events.register("before-call.dynamodb", lambda model, **kw: calls.append(model.name))
    dup = store.claim("k", "second", now=T0 + 1)
    assert dup.status is ClaimStatus.PUBLISHED and dup.record.message == "first"
    assert calls == ["PutItem"]


def test_dynamodb_mark_published_of_a_missing_key_is_a_no_op(table: str) -> None:
    store = DynamoDBStore(table)
    store.mark_published("never-claimed")
    assert store.get("never-claimed") is None


def test_dynamodb_pending_is_bounded_and_paged(table: str) -> None:
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    for i in range(25):
        store.claim(f"k{i:02d}", "m", now=T0 + i)
        store.ensure_swept(f"k{i:02d}", now=T0 + i)
    found = store.pending(older_than=10, now=T0 + 100, limit=20)
    assert [r.key for r in found] == [f"k{i:02d}" for i in range(20)]


def test_dynamodb_errors_are_store_errors(mocked: None) -> None:
    store = DynamoDBStore(unique("missing-table"))
    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        store.claim("k", "m")
    with pytest.raises(StoreError):
        store.pending(0)


def test_dynamodb_from_settings(table: str) -> None:
    store = store_from_settings(Settings(store_url=f"dynamodb://{table}", dedup_ttl_seconds=120))
    assert isinstance(store, DynamoDBStore) and store.table == table and store.ttl_seconds == 120
    with pytest.raises(ConfigError, match="table name"):
        store_from_settings(Settings(store_url="dynamodb://"))


def test_dynamodb_quarantine_round_trip_beside_the_outbox(table: str) -> None:
    quarantine = quarantine_from_settings(Settings(quarantine_url=f"dynamodb://{table}"))
    assert isinstance(quarantine, DynamoDBQuarantine)
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    store.claim("k", "m", now=T0)
    store.ensure_swept("k", now=T0)
    newer = Quarantined("b", T0 + 2, "invalid_json", "bad", b"\xff{", "aws-http-api", truncated=True)
    older = Quarantined("a", T0 + 1, "missing_id", "no id", b"{}", "aws-rest-api")
    quarantine.put(newer)
    quarantine.put(older)
    assert quarantine.list() == [older, newer]
    assert [r.key for r in store.pending(older_than=0, now=T0 + 100)] == ["k"]  # apart from the outbox
    quarantine.delete("a")
    assert quarantine.list(limit=10) == [newer]
    with pytest.raises(QuarantineError):
        DynamoDBQuarantine(unique("missing-table")).put(older)


# -- SQS -----------------------------------------------------------------------------------


def test_sqs_standard_queue_with_attributes(mocked: None) -> None:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=unique("alarms"))["QueueUrl"]
    publisher = publisher_from_settings(Settings(queue_url=as_sqs_url(url)))
    assert isinstance(publisher, SQSPublisher) and not publisher.fifo
    publisher.publish(MSG)
    [got] = receive_all(url)
    assert got["Body"] == MSG.body
    attributes = {name: value["StringValue"] for name, value in got["MessageAttributes"].items()}
    assert attributes == MSG.attributes


def test_sqs_fifo_queue_groups_by_fingerprint_and_dedups_by_key(mocked: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=unique("alarms") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    publisher = SQSPublisher.from_url(urlsplit(as_sqs_url(url)), BackendOptions())
    assert publisher.fifo
    publisher.publish(MSG)
    publisher.publish(MSG)  # a sweeper repeat: same dedup id, dropped by SQS
    publisher.publish(Message(id="sess-2", body='{"id":"sess-2"}', fingerprint="fp-1"))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in got] == [MSG.body, '{"id":"sess-2"}']
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"fp-1"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == ["sess-1", "sess-2"]


def test_sqs_long_ids_are_hashed_to_fit(mocked: None) -> None:
    ids = aws.fifo_ids(Message(id="x" * 200, body="{}"))
    assert len(ids["MessageDeduplicationId"]) == 64 and ids["MessageGroupId"] == ids["MessageDeduplicationId"]


def test_sqs_attributes_stay_within_the_limit() -> None:
    many = Message(id="a", body="{}", attributes={f"a{i:02d}": "v" for i in range(14)})
    assert len(aws.message_attributes(many)) == 10


def test_sqs_oversized_message_is_refused_before_sending(mocked: None) -> None:
    publisher = SQSPublisher(f"https://sqs.{REGION}.amazonaws.com/123456789012/any", region=REGION)
    with pytest.raises(PublishError, match="at most 262144"):
        publisher.publish(Message(id="big", body="x" * 262_140, attributes={"status": "firing"}))


def test_sqs_failure_is_a_publish_error(mocked: None) -> None:
    publisher = SQSPublisher.from_url(urlsplit(f"sqs://sqs.{REGION}.amazonaws.com/123456789012/nope"), BackendOptions())
    with pytest.raises(PublishError, match="sqs send_message failed"):
        publisher.publish(MSG)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("sqs://sqs.eu-west-1.amazonaws.com/123456789012/q", "eu-west-1"),
        ("sqs://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"),
        ("sqs://ap-southeast-1.queue.amazonaws.com/123456789012/q", "ap-southeast-1"),
    ],
)
def test_sqs_region_comes_from_the_queue_url(mocked: None, url: str, region: str) -> None:
    publisher = SQSPublisher.from_url(urlsplit(url), BackendOptions())
    assert publisher.client.meta.region_name == region
    assert publisher.queue_url == "https://" + url.removeprefix("sqs://")


@pytest.mark.parametrize("url", ["sqs://", "sqs://host/only-name", "sqs://host/a/b/c"])
def test_sqs_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="sqs://"):
        SQSPublisher.from_url(urlsplit(url), BackendOptions())


# -- SNS -----------------------------------------------------------------------------------


def test_sns_publish_with_attributes(mocked: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("sub"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    publisher = publisher_from_settings(Settings(queue_url=f"sns://{topic}"))
    assert isinstance(publisher, SNSPublisher) and publisher.client.meta.region_name == REGION
    publisher.publish(MSG)
    [got] = receive_all(queue)
    assert got["Body"] == MSG.body
    assert {k: v["StringValue"] for k, v in got["MessageAttributes"].items()} == MSG.attributes


def test_sns_fifo_topic_gets_group_and_dedup_ids(mocked: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name=unique("alarms") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    publisher = SNSPublisher(topic)
    assert publisher.fifo
    publisher.publish(MSG)  # moto refuses a FIFO publish without MessageGroupId


def test_sns_errors(mocked: None) -> None:
    with pytest.raises(ConfigError, match="topic ARN"):
        SNSPublisher("not-an-arn")
    publisher = SNSPublisher(f"arn:aws:sns:{REGION}:123456789012:{unique('missing')}")
    with pytest.raises(PublishError, match="sns publish failed"):
        publisher.publish(MSG)


def test_client_config_fits_the_window() -> None:
    config: Any = aws.client_config(AwsOptions())
    assert config.retries == {"mode": "standard", "max_attempts": 2}
    # docs/aws.md: per call at most 2 x (connect + read) + one backoff of < 1 s.
    worst = config.retries["max_attempts"] * (config.connect_timeout + config.read_timeout) + 1.0
    assert worst <= 4.0


def test_message_body_round_trips_as_json(mocked: None) -> None:
    """What lands on the queue is the CloudEvent text, byte for byte."""
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=unique("alarms"))["QueueUrl"]
    body = json.dumps({"id": "x", "data": {"text": "中文 ✓"}}, ensure_ascii=False)
    SQSPublisher(url).publish(Message(id="x", body=body))
    [got] = receive_all(url)
    assert got["Body"] == body


# -- issue 15: episodes ---------------------------------------------------------------------


def _atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto checks a condition, then writes: under threads two writers can both pass. The
    lock gives moto the service's atomicity (see the claims test above)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name, method in atomic_methods().items():
        monkeypatch.setattr(DynamoDBBackend, name, method)


def test_dynamodb_episode_semantics(table: str) -> None:
    check_episode_semantics(DynamoDBStore(table, ttl_seconds=100, lease_seconds=10))


def test_dynamodb_episode_steps_from_threads(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _atomic_moto(monkeypatch)
    check_concurrent_steps(lambda: DynamoDBStore(table, ttl_seconds=100, lease_seconds=10))


def test_dynamodb_episode_item_has_a_ttl_and_stays_out_of_the_outbox(table: str) -> None:
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    assert store.swap_episode("fp", 0, "blob", T0, 50)
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=table, Key={"pk": {"S": "episode fp"}})
    assert item["Item"]["ttl"] == {"N": str(int(T0 + 50))}
    assert "outbox" not in item["Item"] and store.pending(older_than=0, now=T0 + 1000) == []


def test_dynamodb_receiver_lifecycle(table: str, metric_sample: dict[str, Any]) -> None:
    check_receiver_lifecycle(DynamoDBStore(table), metric_sample)


def test_keyed_all_items_lists_a_table_in_motos_own_order(mocked: None) -> None:
    """The chaos run's moto server lists items with `keyed_all_items` instead of moto's sort:
    the same order, for a string hash key and for a hash + numeric range key."""
    from moto.dynamodb.models import dynamodb_backends

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    hashed, ranged = unique("hashed"), unique("ranged")
    dynamodb.create_table(**table_definition(hashed))
    dynamodb.create_table(
        TableName=ranged,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
    )
    for i in (5, 40, 3, 100, 21, 7):
        dynamodb.put_item(TableName=hashed, Item={"pk": {"S": f"key {i}"}})
        for r in (10, 9, 100, -2):
            dynamodb.put_item(TableName=ranged, Item={"h": {"S": f"h{i % 3}"}, "r": {"N": str(r * i)}})
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    backend = dynamodb_backends[account][REGION]
    for name, count in ((hashed, 6), (ranged, 3 * 4 * 2)):
        table = backend.get_table(name)
        listed = keyed_all_items(table)
        assert len(listed) >= count
        assert [(i.hash_key, i.range_key) for i in listed] == [(i.hash_key, i.range_key) for i in table.all_items()]


def test_the_chaos_servers_index_query_walks_only_the_index(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `index_scoped_query`, the sweeper's query of the sparse pending index lists only
    the items that carry its keys (the pending ones), and answers exactly as moto does."""
    from moto.dynamodb.models.table import Table

    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    for i in range(30):
        store.claim(f"k{i:02}", f"m{i}", now=T0 + i)
        store.ensure_swept(f"k{i:02}", now=T0 + i)
        if i % 6:
            store.mark_published(f"k{i:02}", now=T0 + 40)
    expected = [r.key for r in store.pending(0, now=T0 + 100)]
    assert expected == ["k00", "k06", "k12", "k18", "k24"]  # oldest first

    walked: list[int] = []

    def counted(table: Any) -> list[Any]:
        items = keyed_all_items(table)
        walked.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counted)
    monkeypatch.setattr(Table, "query", index_scoped_query(Table.query))
    assert [r.key for r in store.pending(0, now=T0 + 100)] == expected
    monkeypatch.setattr(Table, "sorted_items", keyed_sorted_items)
    assert [r.key for r in store.pending(0, now=T0 + 100)] == expected
    assert [r.key for r in store.pending(0, now=T0 + 100, limit=2)] == expected[:2]
    assert walked and max(walked) == len(expected)
    # the scope ends with the query: outside one, every item is listed again
    assert len(keyed_all_items(store_table(table))) == 30


def test_keyed_sorted_items_orders_as_moto_does(table: str) -> None:
    """`keyed_sorted_items` gives moto's `sorted_items` order for an index query's attributes
    (index hash + range, then the table's key) and for a table's own key, ties included."""
    store = DynamoDBStore(table, ttl_seconds=100, lease_seconds=10)
    for i in range(40):
        store.claim(f"k{(i * 7) % 40:02}", f"m{i}", now=T0 + (i % 5))  # 5 items per updated_at
        store.ensure_swept(f"k{(i * 7) % 40:02}", now=T0 + (i % 5))
    moto_table = store_table(table)
    items = keyed_all_items(moto_table)
    orders = []
    for hashes, ranges in ((["outbox", "pk"], ["updated_at", None]), (["pk"], [None])):
        expected = [i.hash_key for i in moto_table.sorted_items(hashes, ranges, list(reversed(items)))]
        assert [i.hash_key for i in keyed_sorted_items(moto_table, hashes, ranges, list(reversed(items)))] == expected
        orders.append(expected)
    assert orders[0] != orders[1]  # the index's order (by updated_at first) is not the table's


def store_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    return dynamodb_backends[account][REGION].get_table(name)


def test_the_chaos_servers_moto_rolls_back_and_keeps_no_backups(mocked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chaos run's moto server (`TableSnapshots` for backups, `untrack_instances`): a
    cancelled transaction still rolls back, and no backup of the table outlives its call."""
    import gc

    from moto.core.model_instances import model_data
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    for model in model_data["dynamodb"].values():
        monkeypatch.setattr(model, "instances_tracked", vars(model)["instances_tracked"])
    monkeypatch.setattr(models, "copy", TableSnapshots())
    untrack_instances()
    dynamodb, name = boto3.client("dynamodb", region_name=REGION), unique("snapshots")
    dynamodb.create_table(**table_definition(name))
    for i in range(40):
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": f"{kind} {i}"}}}} for kind in ("a", "b")]
        )
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"pk": {"S": "a 1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"pk": {"S": "new"}})
    assert dynamodb.scan(TableName=name, Select="COUNT")["Count"] == 80
    gc.collect()
    assert sum(isinstance(o, Table) and o.name == name for o in gc.get_objects()) == 1
