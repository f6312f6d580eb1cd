"""`cmq://QUEUE` and `cmq-topic://TOPIC`: TDMQ for CMQ through the Tencent Cloud API
(``SendCmqMsg`` / ``PublishCmqMsg``, version 2020-02-17).

The message content is the CloudEvent JSON; consumers drop repeats by its ``id``.

A topic message carries tags, so subscriptions filter without parsing the body:
``<status>``, ``<kind>`` and ``<status>.<kind>`` (e.g. ``firing``, ``metric``,
``firing.metric``): a subscription with filter tag ``firing`` gets every firing alarm,
``firing.metric`` only firing metric alarms. A topic in routing-key mode takes a single
route instead: ``cmq-topic://TOPIC?route=true`` sends ``alarm.<status>.<kind>``.

Query parameters ``region=`` and ``endpoint=`` override ``ALARM_CALLBACK_TENCENT_REGION``
and ``_ENDPOINT`` for this one URL (a queue in another region).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qsl

from tencentcloud.tdmq.v20200217 import models

from ...core.errors import ConfigError, PublishError
from ...core.message import Message
from ...core.ports import Publisher
from ..options import BackendOptions, TencentOptions
from .clients import TENCENT_ERRORS, error_text, tdmq_client


def tags_of(message: Message) -> list[str]:
    status = message.attributes.get("status", "unknown")
    kind = message.attributes.get("kind", "unknown")
    return [status, kind, f"{status}.{kind}"]


class _CMQPublisher(Publisher):
    """One API action with one request model: the queue and topic differ only in `params`.

    ``max_message_bytes``: a CMQ queue or topic takes messages up to its MaxMsgSize, 64 KiB
    unless raised (1 KiB..1 MiB) when it was created; give the raised value as
    ``?max_message_bytes=`` so the receiver refuses (413) only what CMQ would refuse."""

    max_message_bytes: int | None = 65_536

    action: ClassVar[str]
    request_model: ClassVar[type[Any]]

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        region: str | None = None,
        endpoint: str | None = None,
        options: TencentOptions | None = None,
    ) -> None:
        if not name:
            raise ConfigError(f"{self.schemes[0]}:// needs a name: {self.schemes[0]}://NAME")
        self.name = name
        self.client = client if client is not None else tdmq_client(options or TencentOptions(), region, endpoint)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> _CMQPublisher:
        query = dict(parse_qsl(url.query))
        limit = query.pop("max_message_bytes", None)
        publisher = cls._from_query(url.netloc or url.path.strip("/"), query, options.tencent)
        if limit is not None:
            publisher.max_message_bytes = int(limit)
        return publisher

    @classmethod
    def _from_query(cls, name: str, query: dict[str, str], options: TencentOptions) -> _CMQPublisher:
        return cls(name, region=query.get("region"), endpoint=query.get("endpoint"), options=options)

    @abstractmethod
    def params(self, message: Message) -> dict[str, Any]:
        """The action's request parameters."""

    def publish(self, message: Message) -> None:
        request = self.request_model()
        request.from_json_string(json.dumps(self.params(message)))
        try:
            response = getattr(self.client, self.action)(request)
        except TENCENT_ERRORS as exc:
            raise PublishError(f"{self.action} {self.name} failed: {error_text(exc)}") from exc
        # An answer without a message id did not take the message, whatever the status said.
        if response.Result is False or not response.MsgId:
            raise PublishError(f"{self.action} {self.name}: no message id (RequestId {response.RequestId})")


class CMQQueuePublisher(_CMQPublisher):
    schemes = ("cmq",)
    action = "SendCmqMsg"
    request_model = models.SendCmqMsgRequest

    def params(self, message: Message) -> dict[str, Any]:
        return {"QueueName": self.name, "MsgContent": message.body, "DelaySeconds": 0}


class CMQTopicPublisher(_CMQPublisher):
    schemes = ("cmq-topic",)
    action = "PublishCmqMsg"
    request_model = models.PublishCmqMsgRequest

    def __init__(self, name: str, *, route: bool = False, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.route = route

    @classmethod
    def _from_query(cls, name: str, query: dict[str, str], options: TencentOptions) -> _CMQPublisher:
        route = query.get("route", "").lower() in ("1", "true", "yes")
        return cls(name, route=route, region=query.get("region"), endpoint=query.get("endpoint"), options=options)

    def params(self, message: Message) -> dict[str, Any]:
        tags = [message.routing_key] if self.route else tags_of(message)
        return {"TopicName": self.name, "MsgContent": message.body, "MsgTag": tags}
