"""The AWS backends over real HTTP: moto's server on 127.0.0.1, clients pointed at it the way
a deployment points them anywhere (AWS_ENDPOINT_URL), queue URLs in their production shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

import handler
from alarm_callback.backends.aws import clients as aws
from alarm_callback.backends.aws.dynamodb import DynamoDBStore, table_definition
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import receiver_from_settings
from alarm_callback.core.http import Request
from alarm_callback.core.identity import dedup_key
from alarm_callback.core.message import encode
from alarm_callback.core.normalize import normalize
from alarm_callback.core.outbox import PUBLISHED, ClaimStatus
from alarm_callback.core.times import load_timezone
from alarm_callback.edges import entry
from tests.conftest import moto_server_url
from tests.test_aws_backends import REGION, dummy_credentials, unique

ACCOUNT = "123456789012"  # moto's default account


@dataclass
class MotoServer:
    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with moto_server_url() as url:
        yield MotoServer(url)


@dataclass
class Deployment:
    server: MotoServer
    table: str
    queue_name: str

    @property
    def https_queue_url(self) -> str:
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.queue_name}"

    @property
    def urls(self) -> dict[str, str]:
        """Backend settings, as the ALARM_CALLBACK_* variables name them (lower-case)."""
        return {
            "store_url": f"dynamodb://{self.table}",
            "queue_url": "sqs://" + self.https_queue_url.removeprefix("https://"),
            "quarantine_url": f"dynamodb://{self.table}",
        }

    def drain(self) -> list[dict[str, Any]]:
        sqs = self.server.client("sqs")
        url = sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        found: list[Any] = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", []):
            found.extend(batch)
            for item in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=item["ReceiptHandle"])
        return found


@pytest.fixture
def deployment(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """A fresh table and queue on the server; this process's clients point at it."""
    dummy_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    aws.reset_clients()
    table, queue = unique("outbox"), unique("alarms")
    moto_server.client("dynamodb").create_table(**table_definition(table))
    moto_server.client("sqs").create_queue(QueueName=queue)
    yield Deployment(moto_server, table, queue)
    aws.reset_clients()


def distinct_keys(samples: dict[str, bytes]) -> set[str]:
    return {dedup_key(json.loads(body)) for body in samples.values()}


def test_receiver_publishes_each_sample_once_despite_resends(
    deployment: Deployment, seed_samples: dict[str, bytes]
) -> None:
    receiver = receiver_from_settings(Settings.model_validate({"token": "t0k", **deployment.urls}))
    for _ in range(2):  # the first delivery, then Tencent's resend of every one
        for name, body in seed_samples.items():
            response = receiver.handle(Request("POST", "/callback/t0k", body, source="test"))
            assert response.status == 200, (name, response.payload())
            assert response.payload()["retCode"] == 0
    messages = deployment.drain()
    ids = [json.loads(m["Body"])["id"] for m in messages]
    assert sorted(ids) == sorted(distinct_keys(seed_samples))
    for message in messages:
        event = json.loads(message["Body"])
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes["status"] == event["alarmstatus"] and attributes["kind"] == event["alarmkind"]
    # a body Tencent would never send is refused and kept for inspection, in the same table
    response = receiver.handle(Request("POST", "/callback/t0k", b"{not json", source="test"))
    assert response.status == 400
    [kept] = receiver.quarantine.list()
    assert (kept.body, kept.reason) == (b"{not json", "invalid_json")
    store = receiver.store
    assert isinstance(store, DynamoDBStore)
    assert all(store.get(key).status == PUBLISHED for key in ids)  # type: ignore[union-attr]
    assert store.pending(older_than=0) == []


def test_sweeper_handler_drains_the_outbox(
    deployment: Deployment, seed_samples: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callback that claimed but never published (crashed, queue down): the scheduled
    function publishes it once its lease has run out."""
    body = json.loads(seed_samples["metric"])
    key = dedup_key(body)
    message = encode(normalize(body, key, load_timezone("Asia/Shanghai"), datetime.now(timezone.utc)))
    store = DynamoDBStore(deployment.table, lease_seconds=10)
    store.claim(key, message.body, now=1_000.0)  # long ago: the lease is over
    store.ensure_swept(key, now=1_000.0)  # what the receiver asked before it acked
    assert [r.key for r in store.pending(older_than=10)] == [key]
    for name, value in {"TOKEN": "t0k-0123456789abcdef", **{k.upper(): v for k, v in deployment.urls.items()}}.items():
        monkeypatch.setenv(f"ALARM_CALLBACK_{name}", value)
    entry.reset()
    try:
        report = handler.sweep_handler({"source": "aws.events"}, None)
    finally:
        entry.reset()
    assert report["published"] == 1 and report["failed"] == 0
    [got] = deployment.drain()
    assert got["Body"] == message.body
    assert store.get(key).status == PUBLISHED  # type: ignore[union-attr]
    assert store.claim(key, "again").status is ClaimStatus.PUBLISHED
    assert store.pending(older_than=0) == []
