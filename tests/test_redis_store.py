"""The Redis store against the real server on 127.0.0.1:6379: the shared store contract,
concurrent claims from threads and from processes, the receiver and sweeper on top.
Each test gets its own key prefix and deletes its keys afterwards."""

from __future__ import annotations

import json
import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
from alarm_callback.backends.redis.store import RedisStore
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import store_from_settings
from alarm_callback.core.episodes import EpisodeTracker
from alarm_callback.core.errors import PublishError, StoreError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED, ClaimStatus, Store
from alarm_callback.core.ports import Publisher
from alarm_callback.core.receiver import Outcome, Receiver
from alarm_callback.core.sweeper import sweep
from tests.conftest import post, require_server
from tests.test_episodes import (
    check_concurrent_steps,
    check_episode_semantics,
    check_receiver_lifecycle,
    check_steps_from_processes,
)
from tests.test_stores import (
    T0,
    check_claims_from_processes,
    check_concurrent_claims,
    check_conflicts_markers_and_give_up,
    check_store_semantics,
)

URL = "redis://127.0.0.1:6379/0"

pytestmark = pytest.mark.integration


def _store(prefix: str, ttl: float = 100, lease: float = 10) -> RedisStore:
    return RedisStore.connect(urlsplit(f"{URL}?prefix={prefix}"), ttl, lease)


@pytest.fixture
def prefix() -> Iterator[str]:
    require_server("redis", "127.0.0.1", 6379)
    name = f"test-{uuid.uuid4().hex}"
    yield name
    cleaner = _store(name)
    cleaner.drop_all()
    cleaner.close()


@pytest.fixture
def make_store(prefix: str) -> Iterator[Callable[[], Store]]:
    stores: list[RedisStore] = []

    def make() -> Store:
        stores.append(_store(prefix))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


def test_store_semantics(make_store: Callable[[], Store]) -> None:
    check_store_semantics(make_store())
    check_conflicts_markers_and_give_up(make_store())


def test_concurrent_claims_from_threads(make_store: Callable[[], Store]) -> None:
    check_concurrent_claims(make_store, threads=16)


def _claim_in_process(prefix: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = _store(prefix)
    barrier.wait()
    out.put(store.claim("cross-process", "m").status.value)
    store.close()


def test_concurrent_claims_from_processes(prefix: str) -> None:
    check_claims_from_processes(_claim_in_process, prefix, n=8)


def test_keys_live_under_the_prefix_and_expire_only_when_published(prefix: str) -> None:
    store = _store(prefix)
    store.claim("k", "m")
    key = f"{{{prefix}}}:r:k"
    assert store.client.ttl(key) == -1  # pending: no expiry, still owed to the queue
    assert store.client.zscore(f"{{{prefix}}}:pending", "k") is not None
    store.mark_published("k")
    assert 0 < store.client.ttl(key) <= 100
    assert store.client.zscore(f"{{{prefix}}}:pending", "k") is None
    assert all(k.startswith(f"{{{prefix}}}:") for k in store.client.keys(f"*{prefix}*"))
    store.close()


def test_published_record_that_vanished_is_claimable_again(prefix: str) -> None:
    store = _store(prefix)
    store.claim("k", "m", now=T0)
    store.mark_published("k", now=T0)
    store.client.delete(f"{{{prefix}}}:r:k")  # what Redis expiry does
    assert store.claim("k", "m2", now=T0 + 1).status is ClaimStatus.CLAIMED
    store.close()


def test_mark_published_of_an_unknown_key_writes_nothing(prefix: str) -> None:
    store = _store(prefix)
    store.mark_published("ghost", now=T0)
    assert store.get("ghost") is None
    store.close()


def test_pending_drops_orphaned_index_entries_and_says_so(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    store = _store(prefix)
    store.claim("a", "m", now=T0)
    store.claim("b", "m", now=T0 + 1)
    store.client.delete(f"{{{prefix}}}:r:a")  # what an evicting maxmemory-policy does
    with caplog.at_level("ERROR", logger="alarm_callback"):
        assert [r.key for r in store.pending(10, now=T0 + 100)] == ["b"]
    [line] = [r for r in caplog.records if r.getMessage() == "pending records vanished from redis"]
    assert line.__dict__["keys"] == ["a"] and line.__dict__["count"] == 1
    assert store.client.zcard(f"{{{prefix}}}:pending") == 1
    store.close()


def test_an_evicting_maxmemory_policy_is_warned_about_once(prefix: str) -> None:
    store = _store(prefix)
    policy = store.client.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        store.client.config_set("maxmemory-policy", "allkeys-lru")
        [warning] = store.warnings()
        assert "allkeys-lru" in warning and "noeviction" in warning
        assert store.warnings() == []  # once per container
        store.client.config_set("maxmemory-policy", "noeviction")
        assert _store(prefix).warnings() == []
    finally:
        store.client.config_set("maxmemory-policy", policy)
        store.close()


def test_from_settings_uses_ttl_lease_and_prefix(prefix: str) -> None:
    settings = Settings(
        store_url=f"{URL}?prefix={prefix}&socket_timeout=2", dedup_ttl_seconds=120, claim_lease_seconds=3
    )
    store = store_from_settings(settings)
    assert isinstance(store, RedisStore)
    assert (store.prefix, store.ttl_seconds, store.lease_seconds) == (prefix, 120, 3)
    kwargs = store.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.0 and kwargs["socket_connect_timeout"] == 0.5
    store.close()


def test_unreachable_server_is_a_store_error() -> None:
    store = RedisStore.connect(urlsplit("redis://127.0.0.1:1/0?socket_connect_timeout=0.2"))
    with pytest.raises(StoreError):
        store.claim("k", "m")
    with pytest.raises(StoreError):
        store.pending(0)
    with pytest.raises(StoreError):
        store.mark_published("k")
    with pytest.raises(StoreError):
        store.get("k")


class _Down(Publisher):
    def publish(self, message: Message) -> None:
        raise PublishError("queue down")


def test_receiver_and_sweeper_on_redis(prefix: str, metric_sample: dict[str, object]) -> None:
    store = _store(prefix, ttl=86400, lease=0.01)
    receiver = Receiver(store, _Down(), MemoryQuarantine())
    assert post(receiver, metric_sample).status == 200  # acked although the queue is down
    record = store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING
    queue = MemoryPublisher()
    report = sweep(store, queue, now=record.updated_at + 1)
    assert (report.published, [m.id for m in queue.messages]) == (1, ["xxxxxxxx"])
    published = store.get("xxxxxxxx")
    assert published is not None and published.status == PUBLISHED
    # a resend after the hand-off is a duplicate: nothing more is published
    again = Receiver(store, queue, MemoryQuarantine())
    assert again.accept(json.dumps(metric_sample).encode()).outcome is Outcome.DUPLICATE
    assert len(queue.messages) == 1
    store.close()


def test_rediss_url_builds_a_tls_client_without_connecting() -> None:
    store = store_from_settings(Settings(store_url="rediss://:p%40ss@redis.example:6380/2?prefix=tls"))
    assert isinstance(store, RedisStore) and store.prefix == "tls"
    pool = store.client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["password"] == "p@ss" and pool.connection_kwargs["db"] == 2


def test_redis_quarantine_round_trip(prefix: str) -> None:
    from alarm_callback.backends.redis.quarantine import RedisQuarantine
    from alarm_callback.config.wiring import quarantine_from_settings
    from alarm_callback.core.ports import Quarantined

    quarantine = quarantine_from_settings(Settings(quarantine_url=f"{URL}?prefix={prefix}"))
    assert isinstance(quarantine, RedisQuarantine)
    first = Quarantined("a1", T0, "invalid_json", "bad", b"\xff{not json", "scf-apigw", truncated=True)
    second = Quarantined("b2", T0 + 1, "missing_id", "no id", b"{}", "scf-direct")
    quarantine.put(second)
    quarantine.put(first)
    assert quarantine.list() == [first, second]
    assert quarantine.list(limit=1) == [first]
    quarantine.delete("a1")
    assert quarantine.list() == [second]
    quarantine.close()


# -- issue 15: episodes ---------------------------------------------------------------------


def test_episode_semantics(make_store: Callable[[], Store]) -> None:
    check_episode_semantics(make_store())


def test_episode_steps_from_threads(make_store: Callable[[], Store]) -> None:
    check_concurrent_steps(make_store)


def _step_in_redis(
    prefix: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue, i: int
) -> None:  # type: ignore[type-arg]
    store = _store(prefix)
    barrier.wait()
    out.put(EpisodeTracker(100).step(store, "procs", f"k{i}", "firing", T0).sequence)


def test_episode_steps_from_processes(prefix: str) -> None:
    check_steps_from_processes(_step_in_redis, prefix)


def test_episode_record_expires_without_notifications(prefix: str) -> None:
    store = _store(prefix)
    assert store.swap_episode("fp", 0, "blob", T0, 100)
    ttl = store.client.pttl(f"{{{prefix}}}:e:fp")
    assert 99_000 < int(ttl) <= 100_000  # type: ignore[arg-type]


def test_receiver_lifecycle_on_redis(prefix: str, metric_sample: dict[str, Any]) -> None:
    check_receiver_lifecycle(_store(prefix), metric_sample)
