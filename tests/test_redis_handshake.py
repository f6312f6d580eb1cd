"""Issue 14: a container's first claim on Redis costs at most 2 round trips before it.

A tiny TCP proxy (`alarm_callback.testing.redis_proxy`) in front of the real Redis on
127.0.0.1:6379 records every command the client sends; the commands before the first EVALSHA/EVAL (the claim itself) are the
connection handshake, and there must be at most two of them. redis-py's defaults would send
HELLO, CLIENT MAINT_NOTIFICATIONS, two CLIENT SETINFO and (for a non-zero db) SELECT.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from alarm_callback.backends.redis.store import RedisStore
from alarm_callback.core.outbox import ClaimStatus
from alarm_callback.testing.redis_proxy import CountingProxy, before_first, parse_commands
from tests.conftest import require_server

pytestmark = pytest.mark.integration

REDIS = ("127.0.0.1", 6379)


@pytest.fixture
def proxy() -> Iterator[CountingProxy]:
    require_server("redis", *REDIS)
    running = CountingProxy(REDIS)
    yield running
    running.close()


def test_parse_commands() -> None:
    raw = b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$4\r\nPING\r\n"
    assert parse_commands(raw) == [["SELECT", "1"], ["PING"]]
    assert before_first(parse_commands(raw), ["ping"]) == [["SELECT", "1"]]
    with pytest.raises(ValueError, match="none of"):
        before_first(parse_commands(raw))
    with pytest.raises(ValueError, match="not a RESP array"):
        parse_commands(b"PING\r\n")


@pytest.mark.parametrize("db", ["0", "1"])
def test_first_claim_needs_at_most_two_round_trips(proxy: CountingProxy, db: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    store = RedisStore.connect(urlsplit(f"redis://127.0.0.1:{proxy.port}/{db}?prefix={prefix}"), 100, 10)
    try:
        assert store.claim("k1", "m1").status is ClaimStatus.CLAIMED
        handshake = before_first(proxy.commands())
        assert len(handshake) <= 2, handshake
        names = [" ".join(args[:2]).upper() for args in handshake]
        assert not any(name.startswith(("HELLO", "CLIENT")) for name in names), names
        assert names == ([] if db == "0" else ["SELECT 1"]), names
    finally:
        store.drop_all()
        store.close()
