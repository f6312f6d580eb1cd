"""Seeded, reproducible fault injection around any Store and Publisher.

Wraps a real backend and, for a chosen share of calls, makes them fail the ways networks
do. The `Ledger` records every key whose hand-off became *unrecorded* (the queue took the
message but the store could not say so), because exactly those may legitimately be
published twice; the chaos run checks that every repeat is one of them.

Faults:
- ``error``: the call fails and did nothing.
- ``timeout``: the caller gives up after a short wait; the call did nothing.
- ``slow``: the call succeeds after a short wait.
- ``ambiguous``: the call DID take effect, but the caller sees a failure.
- ``crash``: the process dies at this point (`Crash`, a BaseException the receiver does not
  catch): on a claim, after the claim took effect (between claim and publish); on a publish,
  after the message was sent (between publish and mark).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..core.errors import PublishError, StoreError
from ..core.message import Message
from ..core.outbox import Claim, Record, Store
from ..core.ports import Publisher

FAULTS = ("error", "timeout", "slow", "ambiguous", "crash")
DEFAULT_MIX = {"error": 0.35, "timeout": 0.15, "slow": 0.15, "ambiguous": 0.2, "crash": 0.15}
T = TypeVar("T")


class Crash(BaseException):
    """The process died here. Deliberately not an Exception: nothing may swallow it."""


@dataclass
class Ledger:
    """What the injector did, for the chaos report."""

    calls: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    unrecorded: set[str] = field(default_factory=set)  # keys published but maybe not marked
    # claims that took effect while their caller saw none (a crash after it, an ambiguous
    # failure): their occurrence marker must have been written with them
    unseen_claims: set[str] = field(default_factory=set)
    # hand-offs recorded only after their lease ran out (see FaultyStore): a deployed
    # function would have timed out first, so these count as unrecorded
    outlived_lease: set[str] = field(default_factory=set)
    events: dict[str, list[str]] = field(default_factory=dict)  # key -> timeline (`trace`)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, operation: str, fault: str | None, key: str | None = None, unrecorded: bool = False) -> None:
        with self.lock:
            self.calls[operation] += 1
            if fault:
                self.faults[f"{operation}:{fault}"] += 1
            if unrecorded and key is not None:
                self.unrecorded.add(key)
            if key is not None:
                self.trace(key, f"{operation} {fault or 'ok'}")

    def trace(self, key: str, event: str) -> None:
        """Keep `event` in the key's timeline (the chaos report prints the timelines of the
        alarms that break an invariant). Call with the lock held."""
        now = f"{time.time():.3f}"
        self.events.setdefault(key, []).append(f"{now} {threading.current_thread().name}: {event}")


class Injector:
    """Decides, reproducibly from `seed`, which calls fail and how."""

    def __init__(
        self,
        rate: float,
        seed: int = 0,
        mix: dict[str, float] | None = None,
        slow_seconds: float = 0.002,
        timeout_seconds: float = 0.001,
    ) -> None:
        self.rate = rate
        self.mix = mix or DEFAULT_MIX
        self.slow_seconds = slow_seconds
        self.timeout_seconds = timeout_seconds
        self.enabled = True
        self.ledger = Ledger()
        self._random = random.Random(seed)  # noqa: S311  # nosec B311
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        with self._lock:
            if not self.enabled or self._random.random() >= self.rate:
                return None
            return self._random.choices(list(self.mix), weights=list(self.mix.values()))[0]

    def run(
        self,
        operation: str,
        key: str | None,
        call: Callable[[], T],
        failure: type[Exception],
        *,
        unrecorded_on: tuple[str, ...] = (),
    ) -> T:
        """Run `call` under a drawn fault. `unrecorded_on`: the faults after which this call
        took effect unseen, leaving the hand-off of `key` unrecorded."""
        fault = self.draw()
        if fault in ("error", "timeout"):
            self.ledger.note(operation, fault, key)
            if fault == "timeout":
                time.sleep(self.timeout_seconds)
            raise failure(f"injected {fault} in {operation}")
        if fault == "slow":
            time.sleep(self.slow_seconds)
        result = call()
        self.ledger.note(operation, fault, key, unrecorded=fault in unrecorded_on)
        if fault == "ambiguous":
            raise failure(f"injected ambiguous failure in {operation} (it took effect)")
        if fault == "crash":
            raise Crash(f"injected crash after {operation}")
        return result


class FaultyStore(Store):
    """A Store whose claim, mark_published, ensure_swept, remember and pending go through
    the injector."""

    schemes = ()

    def __init__(self, inner: Store, injector: Injector) -> None:
        super().__init__(inner.ttl_seconds, inner.lease_seconds)
        self.inner = inner
        self.injector = injector
        # Per thread (a request or a sweeper run): the lease of each claim it holds. Deployed,
        # the function's timeout is no longer than the lease, so a hand-off still unrecorded
        # when its lease runs out has been killed by then; here the thread lives on, so such
        # a hand-off counts as unrecorded (a takeover may repeat it, under the same id).
        self._held = threading.local()

    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        # An ambiguous claim leaves a pending record while its caller publishes unchecked
        # (STORE_DOWN=publish): the sweeper publishes it again later. A crash after the claim
        # leaves it pending and unpublished: no repeat, the sweeper publishes it once. Either
        # way its occurrence marker was written with it.
        def claim() -> Claim:
            lease = record.lease_until - now
            occurrence = None if marker is None else marker.key
            return self.inner.claim(
                record.key, record.message, now, digest=record.digest, lease_seconds=lease, marker=occurrence
            )

        try:
            won = self.injector.run("claim", record.key, claim, StoreError, unrecorded_on=("ambiguous",))
            if won.claimed:
                self._leases()[record.key] = won.record.lease_until
            with self.injector.ledger.lock:
                lease = f" lease until {won.record.lease_until:.3f}" if won.claimed else ""
                self.injector.ledger.trace(record.key, f"claim at {now:.3f}: {won.status.value}{lease}")
            return won
        except (Crash, StoreError) as exc:
            if isinstance(exc, Crash) or "ambiguous" in str(exc):
                with self.injector.ledger.lock:
                    self.injector.ledger.unseen_claims.add(record.key)
            raise

    def _leases(self) -> dict[str, float]:
        leases: dict[str, float] | None = getattr(self._held, "leases", None)
        if leases is None:
            leases = self._held.leases = {}
        return leases

    def _settle(self, key: str, status: str, now: float) -> None:
        lease_until = self._leases().pop(key, None)
        try:
            self._settle_faulted(key, status, now)
        finally:
            if lease_until is not None and time.time() >= lease_until:
                with self.injector.ledger.lock:
                    self.injector.ledger.outlived_lease.add(key)
                    self.injector.ledger.unrecorded.add(key)

    def _settle_faulted(self, key: str, status: str, now: float) -> None:
        fault = self.injector.draw()
        if fault in ("error", "timeout", "crash"):  # the message is out, the record still says pending
            self.injector.ledger.note("mark", fault, key, unrecorded=True)
            if fault == "crash":
                raise Crash("injected crash before mark_published")
            raise StoreError(f"injected {fault} in mark_published")
        self.inner.mark_published(key, now, status)
        self.injector.ledger.note("mark", fault, key)
        if fault == "ambiguous":
            raise StoreError("injected ambiguous failure in mark_published (it took effect)")

    def _expose(self, key: str, now: float) -> None:
        # On DynamoDB the claim joins the pending index here; elsewhere a no-op that can
        # still fail or crash like any store call, so the receiver's refusal to ack is run.
        self.injector.run("ensure_swept", key, lambda: self.inner.ensure_swept(key, now), StoreError)

    def _remember(self, marker: Record, now: float) -> bool:
        return self.injector.run(
            "remember", marker.key, lambda: self.inner.remember(marker.key, marker.message, now), StoreError
        )

    def get(self, key: str) -> Record | None:
        return self.inner.get(key)

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        return self.inner.load_episode(fingerprint)

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        return self.inner.swap_episode(fingerprint, version, blob, now, ttl_seconds)

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        return self.injector.run("pending", None, lambda: self.inner.pending(older_than, now, limit), StoreError)

    def purge(self, now: float | None = None) -> int:
        return self.inner.purge(now)

    def close(self) -> None:
        self.inner.close()


class FaultyPublisher(Publisher):
    schemes = ()

    def __init__(self, inner: Publisher, injector: Injector) -> None:
        self.inner = inner
        self.injector = injector
        self.max_message_bytes = inner.max_message_bytes  # the receiver reads the limit here

    def publish(self, message: Message) -> None:
        self.injector.run(
            "publish",
            message.id,
            lambda: self.inner.publish(message),
            PublishError,
            unrecorded_on=("ambiguous", "crash"),
        )

    def close(self) -> None:
        self.inner.close()


class Outage(Publisher):
    """A queue that can be switched off: while `down`, every publish fails and does nothing."""

    schemes = ()

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0
        self.max_message_bytes = inner.max_message_bytes

    def publish(self, message: Message) -> None:
        if self.down:
            self.refused += 1
            raise PublishError("injected queue outage")
        self.inner.publish(message)

    def close(self) -> None:
        self.inner.close()
