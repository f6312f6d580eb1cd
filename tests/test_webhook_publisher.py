"""`http(s)://...?secret=whsec_...`: Standard Webhooks signatures a consumer can verify, the
secret kept out of the request, and bounded retries (5xx/429 with Retry-After; never 4xx)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import standardwebhooks  # a dev requirement: a missing one fails, never skips

from alarm_callback import samples
from alarm_callback.backends.memory import MemoryQuarantine, MemoryStore
from alarm_callback.backends.options import BackendOptions
from alarm_callback.backends.registry import build_publisher
from alarm_callback.backends.webhook import WebhookPublisher, retry_after
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.http import Request
from alarm_callback.core.message import Message
from alarm_callback.core.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class Endpoint:
    """A local receiver: answers from a script of (status, headers), then 200; records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                status, headers = endpoint.script.pop(0) if endpoint.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    instance = Endpoint()
    yield instance
    instance.close()


def message() -> Message:
    return Message(id="alarm-1", body=json.dumps({"id": "alarm-1", "data": {"status": "firing", "note": "é"}}))


def verified(request: dict[str, Any]) -> Any:
    return standardwebhooks.Webhook(SECRET).verify(request["body"], request["headers"])


def test_alarm_through_the_receiver_arrives_signed_without_the_secret(endpoint: Endpoint) -> None:
    publisher = build_publisher(f"{endpoint.base}/hooks/alarms?team=ops&secret={SECRET}", BackendOptions())
    receiver = Receiver(MemoryStore(), publisher, MemoryQuarantine())
    assert receiver.handle(Request("POST", "/callback", samples.load()["metric"])).status == 200

    [request] = endpoint.requests
    assert request["path"] == "/hooks/alarms?team=ops"  # the secret never leaves
    event = verified(request)
    assert event["id"] == request["headers"]["webhook-id"] == "xxxxxxxx"
    assert event["data"]["policy"]["id"] == "policy-n4exeh88"
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 5
    assert request["headers"]["webhook-signature"].startswith("v1,")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + base64.b64encode(b"another secret!!").decode()).verify(
            request["body"], request["headers"]
        )


def test_503_is_retried_after_retry_after(endpoint: Endpoint) -> None:
    endpoint.script = [(503, {"Retry-After": "1"}), (429, {})]
    WebhookPublisher(endpoint.base + "/", SECRET).publish(message())
    first, second, third = endpoint.requests
    assert second["at"] - first["at"] >= 0.95  # Retry-After honoured
    assert [verified(r)["id"] for r in (first, second, third)] == ["alarm-1"] * 3
    assert {r["headers"]["webhook-id"] for r in (first, second, third)} == {"alarm-1"}


def test_400_is_not_retried(endpoint: Endpoint) -> None:
    endpoint.script = [(400, {})]
    with pytest.raises(PublishError, match="400"):
        WebhookPublisher(endpoint.base + "/", SECRET).publish(message())
    assert len(endpoint.requests) == 1


def test_retries_are_bounded(endpoint: Endpoint) -> None:
    endpoint.script = [(500, {})] * 10
    started = time.monotonic()
    with pytest.raises(PublishError, match="4 attempt"):
        WebhookPublisher(endpoint.base + "/", SECRET).publish(message())
    assert len(endpoint.requests) == 4  # the first try and 3 retries
    assert time.monotonic() - started < 3


def test_a_retry_after_beyond_the_budget_fails_at_once(endpoint: Endpoint) -> None:
    endpoint.script = [(503, {"Retry-After": "30"})]
    started = time.monotonic()
    with pytest.raises(PublishError, match="not waiting"):
        WebhookPublisher(endpoint.base + "/", SECRET).publish(message())
    assert len(endpoint.requests) == 1 and time.monotonic() - started < 1


def test_redirects_are_not_followed(endpoint: Endpoint) -> None:
    endpoint.script = [(307, {"Location": "http://127.0.0.1:1/elsewhere"})]
    with pytest.raises(PublishError, match="307"):
        WebhookPublisher(endpoint.base + "/", SECRET).publish(message())
    assert len(endpoint.requests) == 1


def test_url_needs_one_valid_secret() -> None:
    for url in ("https://h/x", "https://h/x?secret=", "https://h/x?secret=a&secret=b", "https://h/x?secret=!!"):
        with pytest.raises(ConfigError):
            WebhookPublisher.from_url(urlsplit(url), BackendOptions())
    publisher = WebhookPublisher.from_url(urlsplit(f"https://u:p%40ss@h:8443?secret={SECRET}"), BackendOptions())
    assert publisher.url == "https://h:8443/"
    assert publisher._headers["Authorization"] == "Basic " + base64.b64encode(b"u:p@ss").decode()


def test_retry_after_forms() -> None:
    assert retry_after("2") == 2.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412478.0) == 2.0
    assert retry_after("soon") is None and retry_after(None) is None
