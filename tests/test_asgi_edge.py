"""The local ASGI edge driven directly (scope / receive / send, no server): the credential
is checked before the body is read, a client gone before its body is not processed, and a
normal post is acked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.core.auth import Authenticator
from alarm_callback.core.receiver import Receiver
from alarm_callback.edges.asgi import App

TOKEN = "s3cr3t-token"


class Client:
    """One ASGI request: records every receive() call and every message sent back."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.pending = list(messages)
        self.received = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        if self.pending:
            return self.pending.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if starts else None

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"))


def scope(path: str = f"/callback/{TOKEN}", method: str = "POST", query: bytes = b"", headers: Any = ()) -> Any:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
    }


@pytest.fixture
def app() -> App:
    return App(Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine(), Authenticator(token=TOKEN)))


def run(app: App, request_scope: Any, client: Client) -> Client:
    asyncio.run(app(request_scope, client.receive, client.send))
    return client


def published(app: App) -> list[Any]:
    publisher = app.receiver.publisher
    assert isinstance(publisher, MemoryPublisher)
    return publisher.messages


def body_messages(body: bytes, parts: int = 1) -> list[dict[str, Any]]:
    size = -(-len(body) // parts)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]


@pytest.mark.parametrize(
    "request_scope",
    [
        pytest.param(scope("/callback"), id="no-credential"),
        pytest.param(scope("/callback/wrong"), id="wrong-path-token"),
        pytest.param(scope("/callback", query=b"token=wrong"), id="wrong-query-token"),
        pytest.param(scope("/callback", headers=[(b"authorization", b"Basic eDp5")]), id="wrong-basic"),
    ],
)
def test_unauthenticated_post_is_401_without_reading_the_body(
    app: App, request_scope: Any, seed_samples: dict[str, bytes]
) -> None:
    client = run(app, request_scope, Client(body_messages(seed_samples["metric"])))
    assert client.status == 401 and client.body["error"] == "unauthorized"
    assert client.received == 0  # receive() never called: not a byte of the body was read
    assert published(app) == []
    quarantine = app.receiver.quarantine
    assert isinstance(quarantine, MemoryQuarantine) and quarantine.items == {}


def test_get_is_405_without_reading_the_body(app: App) -> None:
    client = run(app, scope(method="GET"), Client([]))
    assert client.status == 405 and client.received == 0


@pytest.mark.parametrize("parts", [1, 3])
def test_disconnect_before_the_body_is_not_processed(app: App, seed_samples: dict[str, bytes], parts: int) -> None:
    # parts=1: gone before any body; parts=3: gone after part of it
    messages = body_messages(seed_samples["metric"], parts)[: parts - 1]
    client = run(app, scope(), Client([*messages, {"type": "http.disconnect"}]))
    assert client.received == len(messages) + 1
    assert client.sent == [] and published(app) == []
    quarantine = app.receiver.quarantine
    assert isinstance(quarantine, MemoryQuarantine) and quarantine.items == {}


@pytest.mark.parametrize(
    "request_scope",
    [
        pytest.param(scope(), id="token-in-path"),
        pytest.param(scope("/callback", query=b"token=" + TOKEN.encode()), id="token-in-query"),
    ],
)
@pytest.mark.parametrize("parts", [1, 4])
def test_post_is_acked(app: App, seed_samples: dict[str, bytes], request_scope: Any, parts: int) -> None:
    client = run(app, request_scope, Client(body_messages(seed_samples["metric"], parts)))
    assert client.status == 200 and client.body["retCode"] == 0
    assert client.body["sessionId"] == json.loads(seed_samples["metric"])["sessionId"]
    assert len(published(app)) == 1


def test_bad_json_after_authentication_is_400_and_kept(app: App) -> None:
    client = run(app, scope(), Client(body_messages(b"{not json")))
    assert client.status == 400 and client.body["error"] == "invalid_json"
    quarantine = app.receiver.quarantine
    assert isinstance(quarantine, MemoryQuarantine) and len(quarantine.items) == 1


def test_health_and_not_found_read_no_body(app: App) -> None:
    assert run(app, scope("/healthz", method="GET"), Client([])).status == 200
    assert run(app, scope("/elsewhere"), Client([])).status == 404
