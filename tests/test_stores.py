"""Store semantics, shared by every backend's tests through `check_store_semantics`."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alarm_callback.backends.memory import MemoryStore
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.core.outbox import PENDING, PUBLISHED, UNDELIVERABLE, ClaimStatus, Store

T0 = 1_700_000_000.0


def check_store_semantics(store: Store) -> None:
    """The contract every Store backend must meet (ttl=100 s, lease=10 s)."""
    assert store.get("k1") is None
    first = store.claim("k1", "m1", now=T0)
    assert first.status is ClaimStatus.CLAIMED
    assert (first.record.status, first.record.message) == (PENDING, "m1")
    # a second claim within the lease sees the first one in progress; the receiver then asks
    # for it to be swept before it acks (DynamoDB lists a claim in its index only then)
    assert store.claim("k1", "m2", now=T0 + 1).status is ClaimStatus.IN_PROGRESS
    store.ensure_swept("k1", now=T0 + 1)
    store.ensure_swept("k1", now=T0 + 2)  # idempotent
    # pending() lists it only once it is older than asked
    assert store.pending(older_than=10, now=T0 + 5) == []
    [stale] = store.pending(older_than=10, now=T0 + 11)
    assert (stale.key, stale.message) == ("k1", "m1")
    # past the lease, a resend takes it over; the ORIGINAL message, first claim time and
    # expiry stay (issue 11: a takeover used to overwrite an acked alarm), attempts count up
    takeover = store.claim("k1", "m3", now=T0 + 11)
    assert takeover.status is ClaimStatus.CLAIMED
    assert (takeover.record.message, takeover.record.created_at, takeover.record.attempts) == ("m1", T0, 2)
    assert takeover.record.lease_until == T0 + 21
    store.mark_published("k1", now=T0 + 12)
    record = store.get("k1")
    assert record is not None and record.status == PUBLISHED and record.message == "m1"
    assert store.pending(older_than=0, now=T0 + 50) == []
    store.ensure_swept("k1", now=T0 + 13)  # settled: stays out of the outbox
    store.ensure_swept("absent", now=T0 + 13)  # no record: nothing is written
    assert store.pending(older_than=0, now=T0 + 50) == [] and store.get("absent") is None
    # published: duplicates until it expires, long after any lease
    dup = store.claim("k1", "m4", now=T0 + 60)
    assert dup.status is ClaimStatus.PUBLISHED and dup.record.message == "m1"
    # expiry (ttl 100 s from the first claim) frees the key again
    assert store.claim("k1", "m5", now=T0 + 112).status is ClaimStatus.CLAIMED
    store.ensure_swept("k1", now=T0 + 112)
    # pending() is ordered oldest first and bounded
    for i in range(5):
        store.claim(f"p{i}", f"m{i}", now=T0 + 200 + i)
        store.ensure_swept(f"p{i}", now=T0 + 200 + i)
    keys = [r.key for r in store.pending(older_than=10, now=T0 + 300, limit=3)]
    assert keys == ["k1", "p0", "p1"]


def check_conflicts_markers_and_give_up(store: Store) -> None:
    """Issue 11: another body under a claimed key never overwrites it, however old the
    claim; markers are one write, never pending; an undeliverable record leaves the outbox."""
    assert store.claim("c1", "a", now=T0, digest="d1").status is ClaimStatus.CLAIMED
    conflict = store.claim("c1", "b", now=T0 + 1, digest="d2")
    assert conflict.status is ClaimStatus.CONFLICT and conflict.record.message == "a"
    # past the lease (a queue outage): still a conflict, not a takeover
    assert store.claim("c1", "b", now=T0 + 11, digest="d2").status is ClaimStatus.CONFLICT
    standing = store.get("c1")
    assert standing is not None and (standing.message, standing.digest, standing.attempts) == ("a", "d1", 1)
    assert standing.lease_until == T0 + 10
    # the same body takes it over
    again = store.claim("c1", "a2", now=T0 + 12, digest="d1", lease_seconds=40)
    assert again.status is ClaimStatus.CLAIMED and again.record.message == "a" and again.record.attempts == 2
    assert again.record.lease_until == T0 + 52  # the sweeper's longer lease
    assert store.claim("c1", "a", now=T0 + 30, digest="d1").status is ClaimStatus.IN_PROGRESS
    store.mark_published("c1", now=T0 + 31)
    assert store.claim("c1", "b", now=T0 + 32, digest="d2").status is ClaimStatus.CONFLICT
    assert store.claim("c1", "a", now=T0 + 32, digest="d1").status is ClaimStatus.PUBLISHED
    # markers: one conditional write, published from birth, never in the outbox
    assert store.remember("occ:1", "c1", now=T0) is True
    assert store.remember("occ:1", "other", now=T0 + 1) is False
    marker = store.get("occ:1")
    assert marker is not None and (marker.status, marker.message) == (PUBLISHED, "c1")
    assert store.claim("occ:1", "x", now=T0 + 2).status is ClaimStatus.PUBLISHED
    # a claim writes its occurrence marker in the same atomic step (never pending) ...
    assert store.claim("m1", "a", now=T0, digest="d1", marker="occ:m1").claimed
    marker = store.get("occ:m1")
    assert marker is not None and (marker.status, marker.message) == (PUBLISHED, "m1")
    assert [r.key for r in store.pending(older_than=0, now=T0 + 50) if r.key.startswith("occ:")] == []
    # ... never moves a marker another key (or the reconciler) already holds, and still claims
    assert store.claim("m2", "b", now=T0, digest="d2", marker="occ:m1").claimed
    held = store.get("occ:m1")
    assert held is not None and held.message == "m1"
    # a claim that is lost writes no marker
    assert store.claim("m1", "a", now=T0 + 1, digest="d1", marker="occ:m1b").status is ClaimStatus.IN_PROGRESS
    assert store.get("occ:m1b") is None
    store.mark_published("m1", now=T0 + 1)
    store.mark_published("m2", now=T0 + 1)
    # undeliverable: out of the outbox, and still remembered as this key's record
    store.claim("u1", "m", now=T0)
    store.mark_published("u1", now=T0 + 1, status=UNDELIVERABLE)
    assert [r.key for r in store.pending(older_than=0, now=T0 + 50)] == []
    gone = store.get("u1")
    assert gone is not None and gone.status == UNDELIVERABLE


def check_concurrent_claims(make: Callable[[], Store], threads: int = 16) -> None:
    store = make()
    results: list[ClaimStatus] = []
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()
        results.append(store.claim("same-key", "m").status)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert results.count(ClaimStatus.CLAIMED) == 1
    assert results.count(ClaimStatus.IN_PROGRESS) == threads - 1


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    stores: list[Store] = []

    def make() -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(ttl_seconds=100, lease_seconds=10)
        else:
            store = SQLiteStore(str(tmp_path / "store.db"), ttl_seconds=100, lease_seconds=10)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def test_semantics(make_store: Callable[[], Store]) -> None:
    check_store_semantics(make_store())


def test_conflicts_markers_and_give_up(make_store: Callable[[], Store]) -> None:
    check_conflicts_markers_and_give_up(make_store())


def test_concurrent_claims_from_threads(make_store: Callable[[], Store]) -> None:
    check_concurrent_claims(make_store)


def test_purge_removes_only_expired_published(make_store: Callable[[], Store]) -> None:
    store = make_store()
    store.claim("done", "m", now=T0)
    store.mark_published("done", now=T0)
    store.claim("stuck", "m", now=T0)
    assert store.purge(now=T0 + 50) == 0
    assert store.purge(now=T0 + 101) == 1
    assert store.get("done") is None
    assert store.get("stuck") is not None  # pending is never purged: it is still owed to the queue


def _claim_in_process(path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SQLiteStore(path)
    barrier.wait()
    out.put(store.claim("cross-process", "m").status.value)


def check_claims_from_processes(target: Callable[..., None], where: str, n: int = 6) -> None:
    """`n` processes claim one key at once through `target(where, barrier, out)`: one wins."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(where, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    statuses = sorted(out.get(timeout=5) for _ in range(n))
    assert statuses.count("claimed") == 1
    assert statuses.count("in_progress") == n - 1


def test_sqlite_concurrent_claims_from_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()  # create the schema once
    check_claims_from_processes(_claim_in_process, path)


def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    SQLiteStore(path).claim("k", "m", now=T0)
    again = SQLiteStore(path, lease_seconds=10)
    assert again.claim("k", "m", now=T0 + 1).status is ClaimStatus.IN_PROGRESS


def test_record_updates_change_only_what_they_name() -> None:
    """`Record.marked` and `taken_over` spell the constructor out (no `_replace`): every
    other field is carried over as `_replace` would carry it."""
    from alarm_callback.core.outbox import Record

    record = Record("k", PENDING, "m", 1.0, 2.0, 3.0, 4.0, "d", 5)
    assert record.marked(PUBLISHED, 9.0) == record._replace(status=PUBLISHED, updated_at=9.0)
    assert record.taken_over(9.0, 10.0) == record._replace(updated_at=9.0, lease_until=19.0, attempts=6)
    assert len(Record._fields) == 9  # a new field must be carried over by both


def test_sqlite_params_spell_out_every_record_field() -> None:
    """The claim binds `_params(record)` instead of `record._asdict()` (slower): it must name
    every field of `Record`, with the same values."""
    from alarm_callback.backends.sqlite.store import _params

    record = SQLiteStore(":memory:").new_record("k", "m", now=T0, digest="d")
    assert _params(record) == record._asdict()
