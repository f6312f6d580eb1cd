"""Shared fixtures. Servers: a missing one skips locally but FAILS under CI=true, so a
green CI means every integration test really ran."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from alarm_callback import samples
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.core.http import Request
from alarm_callback.core.receiver import Receiver

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_server(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (CI) when nothing listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
    if IN_CI:
        pytest.fail(message + "; CI=true, so integration tests may not skip")
    pytest.skip(message)


def memory_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the deployed entry points' store, queue and quarantine at memory://."""
    for name in ("STORE_URL", "QUEUE_URL", "QUARANTINE_URL"):
        monkeypatch.setenv(f"ALARM_CALLBACK_{name}", "memory://")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def seed_samples() -> dict[str, bytes]:
    return samples.load()


@pytest.fixture
def metric_sample(seed_samples: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(seed_samples["metric"])  # type: ignore[no-any-return]


@pytest.fixture
def event_sample(seed_samples: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(seed_samples["event"])  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on memory backends, open (no credential)."""
    yield Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine())


def post(receiver: Receiver, body: bytes | dict[str, Any], path: str = "/callback", **kw: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return receiver.handle(Request("POST", path, raw, **kw))
