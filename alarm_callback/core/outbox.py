"""The dedup store and outbox: one base class, one small module per backend.

A record per dedup key holds the serialized message and a status:

* ``pending``: claimed, handed to nobody yet (or the hand-off failed). The message is
  durable here; this is the outbox the sweeper drains.
* ``published``: on the queue. Resends of this key are acked without a second publish.

`claim` is the one atomic step. It succeeds when the key is absent, expired, or
``pending`` past its lease (the request that claimed it crashed or its publish failed:
a resend or the sweeper takes it over). Otherwise it reports what is there.

Backends implement `claim` with their own atomic primitive (conditional put, SET NX,
INSERT ... ON CONFLICT) and use `Record.claimable` for the decision, so the rule is
written once.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import ClassVar

PENDING = "pending"
PUBLISHED = "published"


class ClaimStatus(enum.Enum):
    CLAIMED = "claimed"  # this caller owns the key now: publish, then mark_published
    PUBLISHED = "published"  # already handed off: ack, publish nothing
    IN_PROGRESS = "in_progress"  # another caller holds a live lease: ack, it (or the sweeper) publishes


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    status: str
    message: str
    created_at: float
    updated_at: float
    expires_at: float  # dedup memory ends here (records decide expiry; TTL deletion runs late)
    lease_until: float  # a pending record may be taken over after this

    def claimable(self, now: float) -> bool:
        return self.expires_at <= now or (self.status == PENDING and self.lease_until <= now)

    def marked_published(self, now: float) -> Record:
        return replace(self, status=PUBLISHED, updated_at=now)


@dataclass(frozen=True, slots=True)
class Claim:
    status: ClaimStatus
    record: Record

    @property
    def claimed(self) -> bool:
        return self.status is ClaimStatus.CLAIMED


class Store(ABC):
    """Dedup store + outbox. Subclasses set `schemes` and implement the abstract methods."""

    schemes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> None:
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds

    def new_record(self, key: str, message: str, now: float | None = None) -> Record:
        now = time.time() if now is None else now
        return Record(
            key=key,
            status=PENDING,
            message=message,
            created_at=now,
            updated_at=now,
            expires_at=now + self.ttl_seconds,
            lease_until=now + self.lease_seconds,
        )

    @staticmethod
    def lost_claim(existing: Record) -> Claim:
        """What a caller that lost the claim race is told."""
        status = ClaimStatus.PUBLISHED if existing.status == PUBLISHED else ClaimStatus.IN_PROGRESS
        return Claim(status, existing)

    @abstractmethod
    def claim(self, key: str, message: str, now: float | None = None) -> Claim:
        """Atomically take `key` (see module doc). Raises StoreError when unreachable."""

    @abstractmethod
    def mark_published(self, key: str, now: float | None = None) -> None:
        """Record that the message is on the queue."""

    @abstractmethod
    def get(self, key: str) -> Record | None: ...

    @abstractmethod
    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        """Pending records last touched more than `older_than` seconds ago, oldest first."""

    def remember(self, key: str, message: str, now: float | None = None) -> None:
        """Record `key` as published without a hand-off of its own (occurrence markers for
        the reconciler). Backends may override with a single write."""
        if self.claim(key, message, now).claimed:
            self.mark_published(key, now)

    def purge(self, now: float | None = None) -> int:
        """Delete expired published records; backends with native TTL need not."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
