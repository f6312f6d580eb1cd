"""Backends by URL scheme. Adding a backend is one module plus one line here.

Modules are imported only when their scheme is configured, so a Lambda never imports the
Tencent SDK and an SCF never imports boto3. Every backend class has a
``from_url(url, options)`` class method: its URL and the plain `BackendOptions` values are
all it is built from.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import ConfigError
from ..core.outbox import Store
from ..core.ports import FanOut, Publisher, Quarantine
from .options import BackendOptions

STORES: dict[str, str] = {
    "memory": "alarm_callback.backends.memory:MemoryStore",
    "sqlite": "alarm_callback.backends.sqlite.store:SQLiteStore",
    "dynamodb": "alarm_callback.backends.aws.dynamodb:DynamoDBStore",
    "redis": "alarm_callback.backends.redis.store:RedisStore",
    "rediss": "alarm_callback.backends.redis.store:RedisStore",
}
PUBLISHERS: dict[str, str] = {
    "memory": "alarm_callback.backends.memory:MemoryPublisher",
    "sqlite": "alarm_callback.backends.sqlite.queue:SQLiteQueue",
    "stdout": "alarm_callback.backends.stdout:StdoutPublisher",
    "drop": "alarm_callback.backends.drop:DropPublisher",
    "sqs": "alarm_callback.backends.aws.sqs:SQSPublisher",
    "sns": "alarm_callback.backends.aws.sns:SNSPublisher",
    "cmq": "alarm_callback.backends.tencent.cmq:CMQQueuePublisher",
    "cmq-topic": "alarm_callback.backends.tencent.cmq:CMQTopicPublisher",
    "amqp": "alarm_callback.backends.amqp:AMQPPublisher",
    "amqps": "alarm_callback.backends.amqp:AMQPPublisher",
    "alertmanager": "alarm_callback.backends.alertmanager:AlertmanagerPublisher",
    "alertmanagers": "alarm_callback.backends.alertmanager:AlertmanagerPublisher",
    "http": "alarm_callback.backends.webhook:WebhookPublisher",
    "https": "alarm_callback.backends.webhook:WebhookPublisher",
}
QUARANTINES: dict[str, str] = {
    "memory": "alarm_callback.backends.memory:MemoryQuarantine",
    "sqlite": "alarm_callback.backends.sqlite.quarantine:SQLiteQuarantine",
    "dynamodb": "alarm_callback.backends.aws.dynamodb_quarantine:DynamoDBQuarantine",
    "redis": "alarm_callback.backends.redis.quarantine:RedisQuarantine",
    "rediss": "alarm_callback.backends.redis.quarantine:RedisQuarantine",
}


def load(registry: dict[str, str], kind: str, url: str, options: BackendOptions) -> Any:
    parts = urlsplit(url.strip())
    target = registry.get(parts.scheme)
    if target is None:
        known = ", ".join(f"{scheme}://" for scheme in sorted(registry))
        raise ConfigError(f"unknown {kind} URL scheme {parts.scheme!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the backend's SDK is not installed in this deployment
        raise ConfigError(f"{parts.scheme}:// needs a package that is not installed: {exc}") from exc
    return getattr(module, class_name).from_url(parts, options)


def build_store(url: str, options: BackendOptions) -> Store:
    store: Store = load(STORES, "store", url, options)
    return store


def build_publisher(urls: str, options: BackendOptions) -> Publisher:
    """One publisher, or a `FanOut` over several comma-separated URLs."""
    listed = [url for url in urls.split(",") if url.strip()]
    if not listed:
        raise ConfigError("QUEUE_URL names no publisher")
    publishers = [load(PUBLISHERS, "queue", url, options) for url in listed]
    return publishers[0] if len(publishers) == 1 else FanOut(publishers)


def build_quarantine(url: str, options: BackendOptions) -> Quarantine:
    quarantine: Quarantine = load(QUARANTINES, "quarantine", url, options)
    return quarantine
