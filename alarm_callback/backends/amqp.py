"""`amqp://` / `amqps://`: TDMQ for RabbitMQ and self-hosted RabbitMQ, through pika.

URL: ``amqp://USER:PASSWORD@HOST:5672/VHOST?exchange=alarms`` publishes to exchange
``alarms`` with routing key ``alarm.<status>.<kind>`` (``alarm.firing.metric``,
``alarm.resolved.event``...), so a topic exchange binds ``alarm.firing.#`` or ``alarm.*.metric``.
``?queue=NAME`` instead publishes to that queue through the default exchange. Other query
parameters are pika's own (``heartbeat=``, ``socket_timeout=``...). Nothing is declared: the
exchange and its bindings belong to the consumer side (and TDMQ roles may not allow it).

Every message is persistent (delivery mode 2) and published with publisher confirms and the
``mandatory`` flag, so `publish` returns only once the broker has taken it into a queue: a
nack, a message no queue is bound for, or a missing exchange raise `PublishError` and the
alarm stays in the outbox. Message id = dedup key; headers = the routing attributes;
content type ``application/cloudevents+json`` (CloudEvents' AMQP structured mode).

The connection is opened on first use and reused. A container that sat frozen finds it
closed by the broker (missed heartbeats), so a dropped connection is reopened and the
publish tried once more. Timeouts fit the 5 s window: 1 s socket, 2 s to open the
connection, 2 s while the broker blocks publishers (resource alarm).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode

import pika
import pika.exceptions

from ..core.errors import ConfigError, PublishError
from ..core.message import Message
from ..core.ports import Publisher
from .options import BackendOptions

CONTENT_TYPE = "application/cloudevents+json"
_OURS = ("exchange", "queue", "mandatory")
_TIMEOUTS = {"socket_timeout": "1.0", "stack_timeout": "2.0", "blocked_connection_timeout": "2.0", "heartbeat": "30"}
# The broker answered "no" for this message: trying again on a new connection changes nothing.
_REFUSED = (pika.exceptions.UnroutableError, pika.exceptions.NackError)


class AMQPPublisher(Publisher):
    schemes = ("amqp", "amqps")

    def __init__(
        self, parameters: pika.URLParameters, *, exchange: str = "", queue: str = "", mandatory: bool = True
    ) -> None:
        if bool(exchange) == bool(queue):
            raise ConfigError("amqp:// needs exactly one of ?exchange=NAME or ?queue=NAME")
        self.parameters = parameters
        self.exchange = exchange
        self.queue = queue
        self.mandatory = mandatory
        self._connection: Any = None
        self._channel: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> AMQPPublisher:
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        ours = {name: query.pop(name, "") for name in _OURS}
        try:
            parameters = pika.URLParameters(url._replace(query=urlencode({**_TIMEOUTS, **query})).geturl())
        except ValueError as exc:
            raise ConfigError(f"bad amqp:// URL: {exc}") from exc
        return cls(
            parameters,
            exchange=ours["exchange"],
            queue=ours["queue"],
            mandatory=ours["mandatory"].lower() not in ("0", "false", "no"),
        )

    def publish(self, message: Message) -> None:
        properties = pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.id,
            headers=dict(message.attributes),
            timestamp=int(time.time()),
            app_id="alarm-callback",
        )
        routing_key = self.queue or message.routing_key
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._open_channel().basic_publish(
                        self.exchange, routing_key, message.body.encode(), properties, mandatory=self.mandatory
                    )
                    return
                except _REFUSED as exc:
                    raise PublishError(f"amqp broker refused {message.id!r}: {type(exc).__name__}") from exc
                except (pika.exceptions.AMQPError, OSError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise PublishError(f"amqp publish failed: {type(exc).__name__}: {exc}") from exc

    def _open_channel(self) -> Any:
        if self._connection is None or not self._connection.is_open:
            self._drop()
            self._connection = pika.BlockingConnection(self.parameters)
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            # already dying; the next publish opens a new one
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
