"""Backends by URL scheme. Adding a backend is one module plus one line here.

Modules are imported only when their scheme is configured, so a Lambda never imports the
Tencent SDK and an SCF never imports boto3.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .publishers.base import FanOut, Publisher
from .quarantine.base import Quarantine
from .settings import Settings
from .stores.base import Store

STORES: dict[str, str] = {
    "memory": "alarm_callback.stores.memory:MemoryStore",
    "sqlite": "alarm_callback.stores.sqlite:SQLiteStore",
    "dynamodb": "alarm_callback.stores.dynamodb:DynamoDBStore",
    "redis": "alarm_callback.stores.redis:RedisStore",
    "rediss": "alarm_callback.stores.redis:RedisStore",
}
PUBLISHERS: dict[str, str] = {
    "memory": "alarm_callback.publishers.memory:MemoryPublisher",
    "sqlite": "alarm_callback.publishers.sqlite:SQLiteQueue",
    "stdout": "alarm_callback.publishers.stdout:StdoutPublisher",
    "sqs": "alarm_callback.publishers.sqs:SQSPublisher",
    "sns": "alarm_callback.publishers.sns:SNSPublisher",
    "cmq": "alarm_callback.publishers.cmq:CMQQueuePublisher",
    "cmq-topic": "alarm_callback.publishers.cmq:CMQTopicPublisher",
    "amqp": "alarm_callback.publishers.amqp:AMQPPublisher",
    "amqps": "alarm_callback.publishers.amqp:AMQPPublisher",
}
QUARANTINES: dict[str, str] = {
    "memory": "alarm_callback.quarantine.memory:MemoryQuarantine",
    "sqlite": "alarm_callback.quarantine.sqlite:SQLiteQuarantine",
    "dynamodb": "alarm_callback.stores.dynamodb:DynamoDBQuarantine",
    "redis": "alarm_callback.quarantine.redis:RedisQuarantine",
    "rediss": "alarm_callback.quarantine.redis:RedisQuarantine",
}


def load(registry: dict[str, str], kind: str, url: str, settings: Settings) -> Any:
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
    cls = getattr(module, class_name)
    return cls.from_url(parts, settings)


def store_from_settings(settings: Settings) -> Store:
    store: Store = load(STORES, "store", settings.store_url, settings)
    return store


def publisher_from_settings(settings: Settings) -> Publisher:
    urls = [url for url in settings.queue_url.split(",") if url.strip()]
    if not urls:
        raise ConfigError("QUEUE_URL names no publisher")
    publishers = [load(PUBLISHERS, "queue", url, settings) for url in urls]
    return publishers[0] if len(publishers) == 1 else FanOut(publishers)


def quarantine_from_settings(settings: Settings) -> Quarantine:
    quarantine: Quarantine = load(QUARANTINES, "quarantine", settings.quarantine_url, settings)
    return quarantine
