"""The AMQP publisher against the real RabbitMQ on 127.0.0.1:5672 (guest/guest). Every test
declares its own exchange and queue under a unique name and deletes them afterwards."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest

from alarm_callback.backends.amqp import CONTENT_TYPE, AMQPPublisher
from alarm_callback.backends.memory import MemoryQuarantine, MemoryStore
from alarm_callback.backends.options import BackendOptions
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import publisher_from_settings
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.message import Message
from alarm_callback.core.receiver import Receiver
from tests.conftest import post, require_server

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
MESSAGE = Message(id="s-1", body='{"id":"s-1"}', attributes={"status": "firing", "kind": "metric", "region": "gz"})

pytestmark = pytest.mark.integration


@dataclass
class Topology:
    exchange: str
    queue: str
    channel: Any

    def get(self) -> tuple[Any, Any, bytes] | None:
        method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
        return None if method is None else (method, properties, body)


@pytest.fixture
def topology() -> Iterator[Topology]:
    """A topic exchange with one queue bound to ``alarm.#``."""
    require_server("rabbitmq", "127.0.0.1", 5672)
    name = f"test-{uuid.uuid4().hex}"
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    channel = connection.channel()
    channel.exchange_declare(name, "topic")
    channel.queue_declare(name)
    channel.queue_bind(name, name, "alarm.#")
    yield Topology(name, name, channel)
    channel.queue_delete(name)
    channel.exchange_delete(name)
    connection.close()


def publisher(url: str) -> AMQPPublisher:
    built = publisher_from_settings(Settings(queue_url=url))
    assert isinstance(built, AMQPPublisher)
    return built


def test_persistent_confirmed_message_with_routing_key(topology: Topology) -> None:
    amqp = publisher(f"{BROKER}?exchange={topology.exchange}")
    amqp.publish(MESSAGE)
    got = topology.get()
    assert got is not None
    method, properties, body = got
    assert method.routing_key == "alarm.firing.metric"
    assert body == MESSAGE.body.encode()
    assert properties.delivery_mode == 2
    assert properties.message_id == "s-1"
    assert properties.content_type == CONTENT_TYPE
    assert properties.headers == {"status": "firing", "kind": "metric", "region": "gz"}
    amqp.close()


def test_connection_is_reused(topology: Topology) -> None:
    amqp = publisher(f"{BROKER}?exchange={topology.exchange}")
    amqp.publish(MESSAGE)
    first = amqp._connection
    amqp.publish(MESSAGE)
    assert amqp._connection is first
    assert topology.get() is not None and topology.get() is not None
    amqp.close()


def test_queue_mode_uses_the_default_exchange(topology: Topology) -> None:
    amqp = publisher(f"{BROKER}?queue={topology.queue}")
    amqp.publish(MESSAGE)
    got = topology.get()
    assert got is not None and got[0].routing_key == topology.queue
    amqp.close()


def test_unroutable_message_is_a_publish_error(topology: Topology) -> None:
    topology.channel.queue_unbind(topology.queue, topology.exchange, "alarm.#")
    topology.channel.queue_bind(topology.queue, topology.exchange, "alarm.resolved.#")
    amqp = publisher(f"{BROKER}?exchange={topology.exchange}")
    with pytest.raises(PublishError, match="UnroutableError"):
        amqp.publish(MESSAGE)  # firing: no queue bound for it, the broker returns it
    amqp.publish(Message(id="s-2", body="{}", attributes={"status": "resolved", "kind": "event"}))
    got = topology.get()
    assert got is not None and got[0].routing_key == "alarm.resolved.event"
    amqp.close()


def test_missing_exchange_then_recovery(topology: Topology) -> None:
    missing = f"{topology.exchange}-later"
    amqp = publisher(f"{BROKER}?exchange={missing}")
    with pytest.raises(PublishError, match="ChannelClosedByBroker"):
        amqp.publish(MESSAGE)
    topology.channel.exchange_declare(missing, "topic")
    topology.channel.exchange_bind(topology.exchange, missing, "#")
    try:
        amqp.publish(MESSAGE)
        assert topology.get() is not None
    finally:
        topology.channel.exchange_delete(missing)
        amqp.close()


class DroppingProxy:
    """A TCP proxy to the broker whose connections the test can cut, like a broker that
    closed a frozen container's idle connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.accepted += 1
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def drop_all(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def close(self) -> None:
        self.drop_all()
        self.server.close()


def test_dropped_connection_is_reopened_once(topology: Topology) -> None:
    proxy = DroppingProxy(("127.0.0.1", 5672))
    try:
        amqp = publisher(f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F?exchange={topology.exchange}")
        amqp.publish(MESSAGE)
        proxy.drop_all()
        amqp.publish(MESSAGE)  # first try hits the dead socket, the second a new connection
        assert proxy.accepted == 2
        assert topology.get() is not None and topology.get() is not None
        amqp.close()
    finally:
        proxy.close()


def test_broker_down_is_a_publish_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    amqp = publisher(f"amqp://guest:guest@127.0.0.1:{port}/%2F?exchange=x")
    with pytest.raises(PublishError, match="AMQPConnectionError"):
        amqp.publish(MESSAGE)


def test_url_needs_exactly_one_target() -> None:
    for query in ("", "?exchange=a&queue=b"):
        with pytest.raises(ConfigError, match="exactly one"):
            AMQPPublisher.from_url(urlsplit(f"{BROKER}{query}"), BackendOptions())
    with pytest.raises(ConfigError, match="bad amqp"):
        AMQPPublisher.from_url(urlsplit(f"{BROKER}?exchange=a&nonsense=1"), BackendOptions())
    amqp = AMQPPublisher.from_url(urlsplit(f"{BROKER}?exchange=a&heartbeat=10&mandatory=false"), BackendOptions())
    assert amqp.parameters.heartbeat == 10 and amqp.parameters.socket_timeout == 1.0 and not amqp.mandatory
    tls = AMQPPublisher.from_url(urlsplit("amqps://u:p@mq.example/vh?exchange=a"), BackendOptions())
    assert tls.parameters.ssl_options is not None and tls.parameters.port == 5671
    assert tls.parameters.virtual_host == "vh" and tls.parameters.blocked_connection_timeout == 2.0


def test_receiver_publishes_the_cloud_event(topology: Topology, metric_sample: dict[str, object]) -> None:
    amqp = publisher(f"{BROKER}?exchange={topology.exchange}")
    receiver = Receiver(MemoryStore(), amqp, MemoryQuarantine())
    assert post(receiver, metric_sample).status == 200
    assert post(receiver, metric_sample).status == 200  # a resend: deduplicated
    got = topology.get()
    assert got is not None and topology.get() is None
    method, properties, body = got
    event = json.loads(body)
    assert event["id"] == properties.message_id == "xxxxxxxx"
    assert method.routing_key == f"alarm.{event['alarmstatus']}.{event['alarmkind']}" == "alarm.firing.metric"
    amqp.close()
