"""Shared fixtures. Servers: a missing one skips locally but FAILS under CI=true, so a
green CI means every integration test really ran."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
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


def require_moto_server() -> None:
    """Skip (locally) or fail (CI) without moto's server extra."""
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"moto server is not installed ({exc}); CI=true, so integration tests may not skip")
        pytest.skip(f"moto server is not installed: {exc}")


@contextlib.contextmanager
def moto_server_url() -> Iterator[str]:
    """moto's HTTP server on a free port (its URL), stopped afterwards (`require_moto_server`)."""
    require_moto_server()
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def deploy_on_memory(monkeypatch: pytest.MonkeyPatch, token: str, *unset: str) -> MemoryPublisher:
    """The deployed entry point as a cloud function is configured (token and Basic auth),
    but on memory backends; `unset` names more variables to clear. Returns its queue."""
    from alarm_callback.edges import entry

    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", token)
    monkeypatch.setenv("ALARM_CALLBACK_BASIC_AUTH", "tencent:p@ss")
    for name in ("ALARM_CALLBACK_ALLOW_UNAUTHENTICATED", *unset):
        monkeypatch.delenv(name, raising=False)
    memory_backends(monkeypatch)
    entry.reset()
    publisher = entry.receiver().publisher
    assert isinstance(publisher, MemoryPublisher)
    return publisher


def local_env(data: Path, token: str) -> dict[str, str]:
    """This process's environment without ALARM_CALLBACK_* settings, plus SQLite store,
    queue and quarantine under `data` and `token`: what a `make run` user has."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALARM_CALLBACK_")}
    return {
        **base,
        "ALARM_CALLBACK_STORE_URL": f"sqlite:///{data}/store.db",
        "ALARM_CALLBACK_QUEUE_URL": f"sqlite:///{data}/queue.db",
        "ALARM_CALLBACK_QUARANTINE_URL": f"sqlite:///{data}/quarantine.db",
        "ALARM_CALLBACK_TOKEN": token,
    }


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
