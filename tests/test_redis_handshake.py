"""Issue 14: a container's first claim on Redis costs at most 2 round trips before it.

A tiny TCP proxy in front of the real Redis on 127.0.0.1:6379 records every command the
client sends; the commands before the first EVALSHA/EVAL (the claim itself) are the
connection handshake, and there must be at most two of them. redis-py's defaults would send
HELLO, CLIENT MAINT_NOTIFICATIONS, two CLIENT SETINFO and (for a non-zero db) SELECT.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from alarm_callback.backends.redis.store import RedisStore
from alarm_callback.core.outbox import ClaimStatus
from tests.conftest import require_server

pytestmark = pytest.mark.integration

REDIS = ("127.0.0.1", 6379)


class CountingProxy:
    """Forwards one port to Redis and keeps the bytes each client sent, in order."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(REDIS)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def commands(self) -> list[list[str]]:
        with self._lock:
            return parse_commands(bytes(self.sent))

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


def parse_commands(raw: bytes) -> list[list[str]]:
    """The RESP arrays of bulk strings a client sends (every redis-py command is one)."""
    commands: list[list[str]] = []
    at = 0
    while at < len(raw):
        assert raw[at : at + 1] == b"*", raw[at : at + 40]
        end = raw.index(b"\r\n", at)
        count, at = int(raw[at + 1 : end]), end + 2
        args: list[str] = []
        for _ in range(count):
            end = raw.index(b"\r\n", at)
            size, at = int(raw[at + 1 : end]), end + 2
            args.append(raw[at : at + size].decode(errors="replace"))
            at += size + 2
        commands.append(args)
    return commands


def before_first_claim(commands: list[list[str]]) -> list[list[str]]:
    for index, args in enumerate(commands):
        if args[0].upper() in ("EVALSHA", "EVAL"):
            return commands[:index]
    raise AssertionError(f"no EVALSHA/EVAL sent: {commands}")


@pytest.fixture
def proxy() -> Iterator[CountingProxy]:
    require_server("redis", *REDIS)
    running = CountingProxy()
    yield running
    running.close()


def test_parse_commands() -> None:
    raw = b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$4\r\nPING\r\n"
    assert parse_commands(raw) == [["SELECT", "1"], ["PING"]]


@pytest.mark.parametrize("db", ["0", "1"])
def test_first_claim_needs_at_most_two_round_trips(proxy: CountingProxy, db: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    store = RedisStore.connect(urlsplit(f"redis://127.0.0.1:{proxy.port}/{db}?prefix={prefix}"), 100, 10)
    try:
        assert store.claim("k1", "m1").status is ClaimStatus.CLAIMED
        handshake = before_first_claim(proxy.commands())
        assert len(handshake) <= 2, handshake
        names = [" ".join(args[:2]).upper() for args in handshake]
        assert not any(name.startswith(("HELLO", "CLIENT")) for name in names), names
        assert names == ([] if db == "0" else ["SELECT 1"]), names
    finally:
        store.drop_all()
        store.close()
