"""The outbox sweeper: publishes records a request claimed but could not hand off.

Runs on a schedule (a timer-triggered function, or `alarm-callback sweep`). It takes each
stale record over with the same atomic `claim` a resend would use, so a sweeper and a
late resend never both publish from one lease.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .message import Message
from .outbox import Store
from .ports import Publisher
from .receiver import remember_occurrence

log = logging.getLogger("alarm_callback")


@dataclass(frozen=True, slots=True)
class SweepReport:
    found: int
    published: int
    failed: int
    purged: int


def sweep(
    store: Store,
    publisher: Publisher,
    now: float | None = None,
    limit: int = 100,
    record_occurrences: bool = False,
) -> SweepReport:
    """Publish pending records whose claim lease has run out (at most `limit` per run)."""
    now = time.time() if now is None else now
    stale = store.pending(store.lease_seconds, now=now, limit=limit)
    published = failed = 0
    for record in stale:
        try:
            claim = store.claim(record.key, record.message, now=now)
        except Exception:  # one unreachable record must not stop the rest
            log.exception("sweep claim failed", extra={"dedup_key": record.key})
            failed += 1
            continue
        if not claim.claimed:
            continue  # a resend took it over meanwhile
        try:
            message = Message.from_body(record.message)
            publisher.publish(message)
        except Exception:
            log.exception("sweep publish failed", extra={"dedup_key": record.key})
            failed += 1
            continue
        published += 1
        try:
            store.mark_published(record.key, now=now)
        except Exception:  # published; the next sweep may repeat it under the same id
            log.exception("sweep mark_published failed", extra={"dedup_key": record.key})
        if record_occurrences:
            remember_occurrence(store, message)
    purged = store.purge(now)
    report = SweepReport(len(stale), published, failed, purged)
    log.info("sweep done", extra={"published": published, "failed": failed})
    return report
