"""The outbox sweeper: publishes records a request claimed but could not hand off.

Runs on a schedule (a timer-triggered function, or `alarm-callback sweep`). It takes each
stale record over with the same atomic `claim` a resend would use, so a sweeper and a
late resend never both publish from one lease. Three rules make overlapping sweepers safe
and a long backlog finite:

* **the lease covers the publish.** Each claim is taken at the time it is made (not the
  run's start) with a lease of the larger of the store's lease and the run's remaining
  budget, as Powertools' idempotency does with the invocation's remaining time: a second
  sweeper (both clouds schedule one a minute) cannot take a record over mid-publish;
* **it drains** batch after batch until the outbox is empty or the budget is spent;
* **it gives up loudly.** A record claimed `max_attempts` times without being published
  leaves the outbox for the quarantine (reason ``undeliverable``, with its message and the
  last error) and is marked ``undeliverable``, logged and counted; so `sweep` fails only
  for new trouble, and nothing is owed forever in silence.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from .build import MessageBuilder
from .outbox import UNDELIVERABLE, Record, Store, swept
from .ports import Publisher, Quarantine, Quarantined

log = logging.getLogger("alarm_callback")


@dataclass(frozen=True, slots=True)
class SweepReport:
    found: int
    published: int
    failed: int
    purged: int
    undeliverable: int = 0


def sweep(
    store: Store,
    publisher: Publisher,
    builder: MessageBuilder | None = None,
    *,
    quarantine: Quarantine | None = None,
    now: float | None = None,
    limit: int = 100,
    budget_seconds: float = 50.0,
    max_attempts: int = 20,
) -> SweepReport:
    """Publish pending records whose claim lease has run out, until none are left or
    `budget_seconds` have passed. `now` is the run's start (tests move it); every claim is
    stamped with the time it is made."""
    builder = builder or MessageBuilder()
    started, began = (time.time() if now is None else now), time.monotonic()

    def clock() -> float:
        return started + (time.monotonic() - began)

    def remaining() -> float:
        return budget_seconds - (time.monotonic() - began)

    for warning in store.warnings():
        log.warning(warning, extra={"reason": "store_configuration"})
    found = published = failed = given_up = 0
    seen: set[str] = set()
    while remaining() > 0:
        batch = [r for r in store.pending(store.lease_seconds, now=clock(), limit=limit) if r.key not in seen]
        if not batch:
            break
        for record in batch:
            if remaining() <= 0:
                break
            seen.add(record.key)
            found += 1
            outcome = _sweep_one(store, publisher, builder, quarantine, record, clock(), remaining(), max_attempts)
            published += outcome == "published"
            failed += outcome == "failed"
            given_up += outcome == "undeliverable"
    try:
        purged = store.purge(clock())
    except Exception:  # the report of what was published matters more than the clean-up
        log.exception("sweep purge failed")
        purged = 0
    report = SweepReport(found, published, failed, purged, given_up)
    log.info("sweep done", extra={"found": found, "published": published, "failed": failed, "undeliverable": given_up})
    return report


def _sweep_one(
    store: Store,
    publisher: Publisher,
    builder: MessageBuilder,
    quarantine: Quarantine | None,
    record: Record,
    now: float,
    remaining: float,
    max_attempts: int,
) -> str:
    try:
        claim = store.claim(
            record.key, record.message, now, digest=record.digest, lease_seconds=max(store.lease_seconds, remaining)
        )
    except Exception:  # one unreachable record must not stop the rest
        log.exception("sweep claim failed", extra={"dedup_key": record.key})
        return "failed"
    if not claim.claimed:
        return "skipped"  # a resend took it over meanwhile
    stored = claim.record
    try:
        publisher.publish(builder.rebuild(stored.message, stored.key))
    except Exception as exc:
        log.exception("sweep publish failed", extra={"dedup_key": stored.key, "attempts": stored.attempts})
        if stored.attempts == 1:  # the listed record had expired: this claim wrote it anew (on
            # DynamoDB unlisted until asked); a failure here leaves it to its callback's resends
            swept(store, stored.key, "sweep could not keep a new claim listed")
        if stored.attempts >= max_attempts and quarantine is not None:
            return _give_up(store, quarantine, stored, f"{type(exc).__name__}: {exc}", now)
        return "failed"
    try:
        store.mark_published(stored.key, now)
    except Exception:  # published; the next sweep may repeat it under the same id
        log.exception("sweep mark_published failed", extra={"dedup_key": stored.key})
    return "published"


def _give_up(store: Store, quarantine: Quarantine, record: Record, error: str, now: float) -> str:
    body = record.message.encode("utf-8", "surrogatepass")
    owed = round(now - record.created_at, 1)
    detail = f"not published after {record.attempts} attempts over {owed} s; last error: {error[:500]}"
    item_id = hashlib.sha256(f"undeliverable:{record.key}".encode()).hexdigest()[:32]
    try:
        quarantine.put(Quarantined(item_id, now, "undeliverable", detail, body, f"outbox:{record.key}"))
        store.mark_published(record.key, now, status=UNDELIVERABLE)
    except Exception:
        log.exception("could not move an undeliverable record to the quarantine", extra={"dedup_key": record.key})
        return "failed"
    log.error(
        "alarm undeliverable: moved from the outbox to the quarantine",
        extra={"dedup_key": record.key, "attempts": record.attempts, "owed_seconds": owed, "reason": "undeliverable"},
    )
    return "undeliverable"
