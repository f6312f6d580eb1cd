"""The alarm-history reconciler: publish what Tencent gave up on. Pure Python; no cloud SDK.

Tencent stops after 3 tries. When the endpoint was down longer, the alarm is in Cloud
Monitor's alarm history (DescribeAlarmHistories) but on nobody's queue. This module reads
a window of that history through a `HistorySource` (the Tencent SDK client lives in
`backends/tencent/history.py`) and, for every history record and every state it implies
(``firing``; plus ``resolved`` when the record's AlarmStatus is ``OK``), takes the
occurrence key the receiver remembers for each alarm it publishes
(``identity.occurrence_key``, written when ``RECORD_OCCURRENCES=true``):

* ``CLAIMED``: no callback delivered it: publish the alarm (``recovered: true``) and mark
  the key published;
* ``PUBLISHED``: a callback delivered it (``delivered``), or an earlier run published it
  (``reconciled``): skip. A marker whose callback record is still pending (claimed, but
  its delivery died and no resend got through) is handed to the sweeper
  (`Store.ensure_swept`), which publishes it under the callback's id;
* ``IN_PROGRESS``: someone is handing it off right now: skip.

So a second run over the same window publishes nothing. A failed publish leaves the claim
pending: the sweeper (it drains every pending record) or the next run after the lease
publishes it, under the same message id.

The history is listed completely before anything is published: an API error (after the
bounded retries) raises `HistoryError` and nothing at all is published for that window.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from ..core.build import stored_event
from ..core.errors import ConfigError
from ..core.identity import occurrence_key
from ..core.message import DEFAULT_SOURCE, encode
from ..core.models.names import Status
from ..core.normalize import to_int
from ..core.outbox import PENDING, ClaimStatus, Store, swept
from ..core.ports import Publisher
from .records import record_states, text, to_alarm
from .report import OccurrenceResult, ReconcileReport, Verdict, iso

log = logging.getLogger("alarm_callback")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class HistoryError(Exception):
    """The alarm history could not be listed completely (after retries). Nothing is published."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        suffix = f" (RequestId {request_id})" if request_id else ""
        super().__init__(f"{code}: {message}{suffix}")


@dataclass(frozen=True, slots=True)
class Listing:
    """Every history record whose first occurrence is in the window, and what it cost."""

    records: list[dict[str, Any]]
    requests: int = 0  # API calls, retries included
    pages: int = 0
    throttled: int = 0  # RequestLimitExceeded answers that were retried


class HistorySource(Protocol):
    def list(self, start: int, end: int) -> Listing:
        """All records with ``start <= FirstOccurTime <= end`` (epoch seconds), or raise HistoryError."""
        ...


def parse_duration(text: str | int | float) -> float:
    """'30m' -> 1800.0. Units s, m, h, d; a bare number is seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise ConfigError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < 0:
        raise ConfigError(f"duration must not be negative: {text!r}")
    return seconds


def window(since: float, until: float, now: float, ttl_seconds: float | None = None) -> tuple[int, int]:
    """(start, end) epoch seconds of the FirstOccurTime window."""
    if since <= until:
        raise ConfigError(f"--since ({since:g}s) must reach further back than --until ({until:g}s)")
    if ttl_seconds is not None and since > ttl_seconds:
        raise ConfigError(
            f"--since ({since:g}s) is longer than the dedup TTL ({ttl_seconds:g}s): occurrence markers of "
            "delivered alarms may have expired and would be published again"
        )
    return int(now - since), int(now - until)


def reconcile(
    history: HistorySource,
    store: Store,
    publisher: Publisher,
    *,
    since: float,
    until: float,
    now: float | None = None,
    event_source: str = DEFAULT_SOURCE,
) -> ReconcileReport:
    """Publish every occurrence in the window that no callback delivered (see module doc).

    Raises HistoryError (nothing published) when the history cannot be listed, and
    ConfigError for a window that cannot work."""
    now = time.time() if now is None else now
    start, end = window(since, until, now, store.ttl_seconds)
    listing = history.list(start, end)
    received_at = datetime.fromtimestamp(now, timezone.utc)
    items: list[OccurrenceResult] = []
    for record in _unique(listing.records):
        first = to_int(text(record.get("FirstOccurTime")))
        if first is None or not start <= first <= end:
            continue  # outside the window (the API filters loosely): a later run covers it
        for status in record_states(record):
            items.append(reconcile_occurrence(record, status, store, publisher, end, received_at, event_source))
    report = ReconcileReport(
        window_start=iso(start) or "",
        window_end=iso(end) or "",
        records=len(listing.records),
        requests=listing.requests,
        pages=listing.pages,
        throttled=listing.throttled,
        items=items,
    )
    log.info("reconcile done", extra=report.summary())
    return report


def _unique(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pages can shift while they are read: a record seen twice is reconciled once, with
    the copy read last (its status is the freshest)."""
    unique: dict[str, dict[str, Any]] = {}
    for record in records:
        key = text(record.get("AlarmId")) or json.dumps(record, sort_keys=True, default=str)
        unique[key] = record
    return list(unique.values())


def reconcile_occurrence(
    record: dict[str, Any],
    status: Status,
    store: Store,
    publisher: Publisher,
    end: int,
    received_at: datetime,
    event_source: str,
) -> OccurrenceResult:
    alarm, identity = to_alarm(record, status, received_at)
    occurrence = occurrence_key(alarm.fingerprint, alarm.first_occur_time, status)

    def item(outcome: Verdict, detail: str | None = None, queued_id: str | None = None) -> OccurrenceResult:
        subject = alarm.condition.metric_name if alarm.condition else alarm.event.event_name if alarm.event else None
        return OccurrenceResult(
            history_id=text(record.get("AlarmId")),
            status=status,
            outcome=outcome,
            kind=alarm.kind,
            object=alarm.object.id or alarm.object.name,
            subject=subject,
            first_occur_time=iso(alarm.first_occur_time),
            message_id=queued_id or alarm.id,
            occurrence=occurrence,
            identity=identity,
            detail=detail,
        )

    if occurrence is None:  # no FirstOccurTime: cannot be matched, so cannot be reconciled safely
        return item("failed", "record has no FirstOccurTime")
    if status == "resolved":
        last = to_int(text(record.get("LastOccurTime")))
        if last is None or last > end:  # recovered too recently: its callback may still be in flight
            return item("too_recent", "recovered after the window end; a later run will see it")
    message = encode(alarm, event_source, recovered=True)
    try:
        claim = store.claim(occurrence, stored_event(message))
    except Exception as exc:
        log.exception("reconcile claim failed", extra={"dedup_key": occurrence})
        return item("failed", f"store: {type(exc).__name__}")
    if claim.status is ClaimStatus.PUBLISHED:
        queued = _queued_id(claim.record.message)
        if queued == alarm.id:
            return item("reconciled", queued_id=queued)
        return item("delivered", _owed(store, claim.record.message), queued_id=queued)
    if claim.status is ClaimStatus.IN_PROGRESS:
        return item("in_progress")
    try:
        publisher.publish(message)
    except Exception as exc:
        log.exception("reconcile publish failed; left pending", extra={"dedup_key": occurrence})
        swept(store, occurrence, "reconcile could not hand a pending record to the sweeper")
        return item("failed", f"publish: {type(exc).__name__}; pending, retried after the lease")
    try:
        store.mark_published(occurrence)
    except Exception:  # published; a retry would repeat it under the same id
        log.exception("reconcile mark_published failed", extra={"dedup_key": occurrence})
    return item("published")


def _owed(store: Store, pointer: str) -> str | None:
    """A receiver's marker (`pointer`: its dedup key) whose record is still pending: the
    callback was claimed but never published nor acked (its delivery died, and every resend
    failed), so only the sweeper can still publish it: make sure it finds the record
    (`Store.ensure_swept`; on DynamoDB a claim joins the pending index only then). The
    detail for the report, or None when the record is settled (the usual case)."""
    if pointer.startswith("{"):  # the reconciler's own record of an earlier run: settled
        return None
    try:
        record = store.get(pointer)
    except Exception:
        log.exception("reconcile could not read the record a marker points at", extra={"dedup_key": pointer})
        return "the callback's record could not be read; the next run looks again"
    if record is None or record.status != PENDING:
        return None
    if not swept(store, pointer, "reconcile could not hand a pending record to the sweeper"):
        return "the callback's record is pending and could not be handed to the sweeper; the next run tries again"
    return "the callback's record is pending: handed to the sweeper"


def _queued_id(stored: str) -> str | None:
    """The id on the queue for an occurrence: the receiver's marker stores the message id,
    the reconciler's own claim its CloudEvent (`stored_event`)."""
    if not stored.startswith("{"):
        return stored or None
    try:
        found = json.loads(stored)
        if found.get("kind") == "event":  # the reconciler's own outbox record
            found = json.loads(found["event"])
        queued = found.get("id")
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    return queued if isinstance(queued, str) else None
