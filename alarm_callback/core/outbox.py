"""The dedup store and outbox: one base class, one small module per backend.

A record per dedup key holds the serialized message and a status:

* ``pending``: claimed, handed to nobody yet (or the hand-off failed). The message is
  durable here; this is the outbox the sweeper drains: every pending record it lists
  (`pending`), which is every one except, on DynamoDB, a claim that nobody has asked to
  be swept yet (`ensure_swept`; the receiver asks before it acks an alarm it has not
  published).
* ``published``: on the queue. Resends of this key are acked without a second publish.

`claim` is the one atomic step, decided by `Record.decide`:

* the key is absent or expired: a new record is written (``attempts = 1``);
* it is ``pending`` past its lease (the request that claimed it crashed or its publish
  failed) and holds the *same* body (its digest): the caller takes it over. The stored
  message, ``created_at`` and digest stay as they are (the original alarm is what gets
  published); the lease moves and ``attempts`` counts up;
* otherwise the caller lost: it is told what is there (`ClaimStatus.PUBLISHED`,
  `IN_PROGRESS`), or `CONFLICT` when the standing record holds a *different* body under
  the same key. A conflict never overwrites: the receiver quarantines the second body.

Two more record kinds share the table: occurrence **markers**, ``published`` from birth,
never pending, so the sweeper never sees them; and ``undeliverable`` records, which the
sweeper gave up on after too many attempts (their message is in the quarantine).

A marker tells the history reconciler that an occurrence is owed or delivered under a
dedup key. A claim that writes a *new* record writes its marker (``claim(marker=...)``)
in the same atomic step, unless a live record already holds the marker's key: so no
claim, seen or unseen by its caller, can leave an alarm owed without its marker (the
reconciler would publish it again under a second id). `remember` writes a marker alone.

Backends implement `_claim` with their own atomic primitive (a lock, one SQLite
transaction, a Lua script, ``TransactWriteItems``) and use `Record.decide` for the
decision, so the rule is written once.
"""

from __future__ import annotations

import enum
import logging
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple

if TYPE_CHECKING:
    from .ports import Publisher

log = logging.getLogger("alarm_callback")

PENDING = "pending"
PUBLISHED = "published"
UNDELIVERABLE = "undeliverable"


class ClaimStatus(enum.Enum):
    CLAIMED = "claimed"  # this caller owns the key now: publish, then mark_published
    PUBLISHED = "published"  # already handed off: ack, publish nothing
    IN_PROGRESS = "in_progress"  # another caller holds a live lease: ack, it (or the sweeper) publishes
    CONFLICT = "conflict"  # the key holds another body: ack, quarantine this one, touch nothing


class Record(NamedTuple):
    key: str
    status: str
    message: str
    created_at: float  # first claim: how long the alarm has been owed
    updated_at: float
    expires_at: float  # dedup memory ends here (records decide expiry; TTL deletion runs late)
    lease_until: float  # a pending record may be taken over after this
    digest: str = ""  # of the body that was claimed; "" for markers and older records
    attempts: int = 1  # claims of this record: the first, then every takeover

    def decide(self, now: float, digest: str) -> Literal["new", "takeover", "lost"]:
        """What a claim of this standing record with a body of `digest` does."""
        if self.expires_at <= now:
            return "new"
        if (
            self.status == PENDING
            and self.lease_until <= now
            and (not digest or not self.digest or digest == self.digest)
        ):
            return "takeover"
        return "lost"

    # Both updates call the constructor with every field spelled out: `_replace` builds a
    # keyword dict and maps it over the fields on every call, and `marked` runs on every
    # published alarm. `tests/test_stores.py` checks they change only what they name.

    def taken_over(self, now: float, lease_seconds: float) -> Record:
        return Record(
            self.key,
            self.status,
            self.message,
            self.created_at,
            now,
            self.expires_at,
            now + lease_seconds,
            self.digest,
            self.attempts + 1,
        )

    def marked(self, status: str, now: float) -> Record:
        return Record(
            self.key,
            status,
            self.message,
            self.created_at,
            now,
            self.expires_at,
            self.lease_until,
            self.digest,
            self.attempts,
        )


class Claim(NamedTuple):
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

    def new_record(
        self, key: str, message: str, now: float | None = None, digest: str = "", lease_seconds: float | None = None
    ) -> Record:
        now = time.time() if now is None else now
        return Record(
            key=key,
            status=PENDING,
            message=message,
            created_at=now,
            updated_at=now,
            expires_at=now + self.ttl_seconds,
            lease_until=now + (self.lease_seconds if lease_seconds is None else lease_seconds),
            digest=digest,
        )

    def new_marker(self, key: str, pointer: str, now: float) -> Record:
        """An occurrence marker: published from birth, `message` names the dedup key it points at."""
        return Record(key, PUBLISHED, pointer, now, now, now + self.ttl_seconds, now)

    @staticmethod
    def lost_claim(existing: Record, digest: str = "") -> Claim:
        """What a caller that lost the claim race is told."""
        if digest and existing.digest and digest != existing.digest:
            return Claim(ClaimStatus.CONFLICT, existing)
        status = ClaimStatus.PUBLISHED if existing.status != PENDING else ClaimStatus.IN_PROGRESS
        return Claim(status, existing)

    def claim(
        self,
        key: str,
        message: str,
        now: float | None = None,
        *,
        digest: str = "",
        lease_seconds: float | None = None,
        marker: str | None = None,
    ) -> Claim:
        """Atomically take `key` (see module doc). `lease_seconds` overrides the store's lease
        (the sweeper covers its whole run). `marker`: the occurrence key whose marker a new
        record writes in the same step. Raises StoreError when unreachable."""
        now = time.time() if now is None else now
        record = self.new_record(key, message, now, digest, lease_seconds)
        return self._claim(record, now, None if marker is None else self.new_marker(marker, key, now))

    def mark_published(self, key: str, now: float | None = None, status: str = PUBLISHED) -> None:
        """Record that the message is on the queue (or, with ``status=UNDELIVERABLE``, that
        the sweeper gave up on it): either way the record leaves the outbox."""
        self._settle(key, status, time.time() if now is None else now)

    def ensure_swept(self, key: str, now: float | None = None) -> None:
        """Make sure the sweeper finds record `key` while it is pending. The receiver calls
        it before acking a claim it has not published (the publish failed; a resend found
        the claim in progress or under another body), the reconciler for an owed record a
        marker points at. A no-op for a record no longer pending, and for stores whose claim
        already lists every pending record for the sweeper (all but DynamoDB, which adds a
        record to its pending index only here: a new alarm that is published at once never
        enters it). Raises StoreError when unreachable: the caller must not ack then."""
        self._expose(key, time.time() if now is None else now)

    def _expose(self, key: str, now: float) -> None:  # noqa: B027 - a no-op where claims are listed
        """Where `pending` does not list every pending record: list record `key` if pending."""

    def remember(self, key: str, pointer: str, now: float | None = None) -> bool:
        """Write an occurrence marker in one conditional write (see `new_marker`); False when
        a live record already holds `key`. Never pending, so never swept."""
        now = time.time() if now is None else now
        return self._remember(self.new_marker(key, pointer, now), now)

    def together(self, publisher: Publisher) -> AbstractContextManager[object]:
        """A block whose episode step, claim, publish and mark commit as one write, where this
        store and `publisher` share a database (the SQLite outbox and local queue in one
        file); a no-op elsewhere. Inside it each call still fails alone (a refused publish leaves the
        claim, pending); an exception out of the block itself (StoreError: the write could
        not begin or commit) means nothing the block wrote is durable."""
        return nullcontext()

    # -- what a backend implements, each with its own atomic primitive --------------------

    @abstractmethod
    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        """Write `record` if the key is free, take the standing record over, or report it
        (`lost_claim`): the decision of `Record.decide`, in one atomic step. When `record`
        is written fresh, `marker` is written in the same step where its key is free (a
        held marker key never fails the claim)."""

    @abstractmethod
    def _settle(self, key: str, status: str, now: float) -> None:
        """Set a pending record's final status (it leaves the outbox, keeps its expiry)."""

    @abstractmethod
    def _remember(self, marker: Record, now: float) -> bool:
        """Write `marker` unless a live record holds its key."""

    @abstractmethod
    def get(self, key: str) -> Record | None: ...

    @abstractmethod
    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        """Pending records last touched more than `older_than` seconds ago, oldest first."""

    # -- episodes (core/episodes.py): one compare-and-swap on a versioned blob per fingerprint --

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        """The episode record of `fingerprint` as (version, blob), or None when absent.
        An expired record may still be returned (TTL deletion runs late): the tracker
        decides expiry from the record itself. Raises StoreError when unreachable."""
        raise NotImplementedError(f"{type(self).__name__} keeps no episodes")

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        """Write `blob` as version ``version + 1`` if the stored version is still `version`
        (0: no record); False when another writer got there first.
        The record expires (backend TTL) `ttl_seconds` after `now`."""
        raise NotImplementedError(f"{type(self).__name__} keeps no episodes")

    def purge(self, now: float | None = None) -> int:
        """Delete expired settled records; backends with native TTL need not."""
        return 0

    def warnings(self) -> list[str]:
        """Configuration of the backend that endangers the guarantee (checked by the sweeper
        at the start of a run, off the callback path)."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def swept(store: Store, key: str, failure: str) -> bool:
    """`store.ensure_swept(key)`: True once the store confirms the sweeper will find a pending
    record `key`; False, with `failure` logged, when it could not (the caller must not take
    the record for owed-and-listed: the receiver answers 503, the others leave it to a retry)."""
    try:
        store.ensure_swept(key)
    except Exception:
        log.exception(failure, extra={"dedup_key": key})
        return False
    return True
