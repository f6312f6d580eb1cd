"""The committed JSON Schema is what consumers code against: it must match the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from alarm_callback.backends.memory import MemoryPublisher
from alarm_callback.consumer import decode
from alarm_callback.core.http import Request
from alarm_callback.core.receiver import Receiver
from alarm_callback.ops import schema

COMMITTED = Path(__file__).resolve().parent.parent / "schema" / "alarm-event.schema.json"


def test_committed_schema_matches_the_model() -> None:
    assert COMMITTED.read_text() == schema.render(), "run `make schema` and commit the result"


def test_published_messages_validate_against_the_schema(receiver: Receiver, seed_samples: dict[str, bytes]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text()))
    for body in [*seed_samples.values(), b'{"id": "foreign-1"}']:
        receiver.handle(Request("POST", "/callback", body))
    assert isinstance(receiver.publisher, MemoryPublisher)
    messages = receiver.publisher.messages
    assert len(messages) == len(seed_samples) + 1
    for message in messages:
        validator.validate(json.loads(message.body))


def test_consumer_decodes_plain_sns_and_sqs_wrappings(receiver: Receiver, metric_sample: dict[str, Any]) -> None:
    receiver.handle(Request("POST", "/callback", json.dumps(metric_sample).encode()))
    assert isinstance(receiver.publisher, MemoryPublisher)
    body = receiver.publisher.messages[0].body
    sns = json.dumps({"Type": "Notification", "MessageId": "m", "Message": body})
    sqs_record = {"messageId": "1", "body": sns}
    for wrapped in (body, body.encode(), sns, sqs_record):
        event = decode(wrapped)
        assert event.id == "xxxxxxxx"
        assert event.data.condition is not None and event.data.condition.threshold == 90.0
