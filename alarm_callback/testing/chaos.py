"""The chaos run: the Tencent simulator against a receiver whose store and queue fail.

``python -m alarm_callback.testing.chaos --n 10000 --fault-rate 0.2`` (`make chaos`) sends N
alarms through a receiver whose backend calls fail at the given rate (see `faults`), then
runs the sweeper until the outbox is empty, and prints what happened. It exits non-zero
when an invariant breaks:

- every acked alarm was published;
- no id was published twice, except after an unrecorded hand-off (an ambiguous call or a
  crash after the queue took the message, or a hand-off recorded only after its lease ran
  out, which a deployed function's timeout would have cut short) or as a copy flagged
  ``dedup: skipped``;
- nothing unaccounted for: every sent alarm was acked or counted as never acked, every
  published id was sent, every refused body is in the quarantine, the outbox is empty.

This module is longer than the project's ~300 lines because the run, the invariants it
checks and the table that reports them are read together: every counted row is defined
next to the event that produces it. The hostile bodies and the simulated alarm history
already live apart (`simulator`, `history`); split the report next if it grows again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

from ..backends.memory import MemoryPublisher, MemoryQuarantine
from ..core.build import MessageBuilder, digest
from ..core.errors import PublishError
from ..core.message import Message
from ..core.outbox import Store
from ..core.ports import Publisher, Quarantine
from ..core.receiver import Receiver
from ..core.sweeper import sweep
from ..reconcile.run import reconcile
from .faults import DEFAULT_MIX, Crash, FaultyPublisher, FaultyStore, Injector, Outage
from .history import SimulatedHistory
from .simulator import Item, Simulator, Transport, alarm_stream, hostile_items, receiver_transport
from .simulator import Outcome as SimOutcome


@dataclass(frozen=True, slots=True)
class ChaosReport:
    backend: str
    sent: int
    bad_bodies: int
    acked: int
    never_acked: int
    never_acked_but_published: int
    published: int
    distinct_published: int
    repeats: int
    repeats_after_unrecorded_handoff: int
    repeats_flagged_unchecked: int
    unexplained_repeats: int
    acked_not_published: int
    published_not_sent: int
    quarantined: int
    outbox_left: int
    faults: dict[str, int]
    sweeps: int
    seconds: float
    # production model: markers, reconciler, outage, hostile bodies, newer records, 2 sweepers
    fault_rate: float = 0.0
    repeats_after_outlived_lease: int = 0  # of the unrecorded: recorded only after the lease ran out
    unexplained_timelines: dict[str, list[str]] = field(default_factory=dict)  # a few, to debug
    undeliverable: int = 0  # acked, given up by the sweeper, in the quarantine as undeliverable
    refused_quarantined: int = 0  # quarantine items for refused bodies (400/413)
    hostile: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    conflicts_quarantined: int = 0
    conflicts_explained: int = 0  # the loser was never acked, or went out unchecked (store down)
    newer_records: int = 0
    newer_published: int = 0
    outage_refused: int = 0
    history_records: int = 0
    reconciled_published: int = 0  # distinct history-... ids published
    never_acked_reconciled: int = 0  # never-acked alarms the reconciler published
    occurrences_both: int = 0  # occurrences under a callback id AND a history id
    # the callback went out unchecked (store down: no claim, so no marker; flagged dedup=skipped)
    occurrences_both_explained: int = 0
    occurrences_both_late_callback: int = 0  # the callback came after the reconciler had published
    occurrences_both_unseen_claim: int = 0  # the callback's claim took effect unseen: no marker
    reconcile_runs: int = 0
    acked_still_pending: int = 0  # of acked_not_published: still owed in the outbox when the run ended

    @property
    def lost(self) -> int:
        """Acked, not published, not quarantined, and not in the outbox either: gone."""
        return self.acked_not_published - self.acked_still_pending

    @property
    def occurrences_both_unexplained(self) -> int:
        return self.occurrences_both - self.occurrences_both_explained - self.occurrences_both_late_callback

    @property
    def conflicts_missing(self) -> int:
        return self.conflicts - self.conflicts_quarantined - self.conflicts_explained

    @property
    def ok(self) -> bool:
        return (
            self.acked_not_published == 0
            and self.unexplained_repeats == 0
            and self.published_not_sent == 0
            and self.refused_quarantined == self.bad_bodies
            and self.outbox_left == 0
            and self.acked + self.never_acked == self.sent
            and self.conflicts_missing == 0
            and self.occurrences_both_unexplained == 0
            and self.newer_published == self.newer_records
        )

    def table(self) -> str:
        rows = [
            ("backend", self.backend),
            ("fault rate", self.fault_rate),
            ("alarms sent (distinct ids)", self.sent),
            ("acked", self.acked),
            ("never acked after 3 resends", self.never_acked),
            ("  of which published anyway", self.never_acked_but_published),
            ("  of which published by the reconciler", self.never_acked_reconciled),
            ("published (messages)", self.published),
            ("distinct ids published", self.distinct_published),
            ("repeats published", self.repeats),
            ("  after an unrecorded hand-off", self.repeats_after_unrecorded_handoff),
            ("    of which recorded after its lease", self.repeats_after_outlived_lease),
            ("  flagged dedup=skipped", self.repeats_flagged_unchecked),
            ("  unexplained", self.unexplained_repeats),
            ("acked: published or undeliverable", self.acked - self.acked_not_published),
            ("  undeliverable (quarantined)", self.undeliverable),
            ("acked, not yet published: still pending", self.acked_still_pending),
            ("acked but never published (lost)", self.lost),
            ("published but never sent", self.published_not_sent),
            ("bad bodies sent (refused)", self.bad_bodies),
            ("  quarantined", self.refused_quarantined),
            ("hostile bodies sent", ", ".join(f"{k}={v}" for k, v in sorted(self.hostile.items())) or "-"),
            ("same-key conflicts sent", self.conflicts),
            ("  quarantined as dedup_conflict", self.conflicts_quarantined),
            ("  loser unacked or unchecked", self.conflicts_explained),
            ("  missing", self.conflicts_missing),
            ("newer-version outbox records", self.newer_records),
            ("  published", self.newer_published),
            ("publishes refused by the outage", self.outage_refused),
            ("history records (reconciler runs)", f"{self.history_records} ({self.reconcile_runs})"),
            ("history ids published", self.reconciled_published),
            ("occurrences under 2 ids (callback+history)", self.occurrences_both),
            ("  went out unchecked (store down)", self.occurrences_both_explained),
            ("  callback after the reconciler", self.occurrences_both_late_callback),
            ("  unexplained", self.occurrences_both_unexplained),
            ("    of which claim took effect unseen", self.occurrences_both_unseen_claim),
            ("left in the outbox (pending)", self.outbox_left),
            ("quarantined (all reasons)", self.quarantined),
            ("sweeper runs", self.sweeps),
            ("faults injected", sum(self.faults.values())),
            ("seconds", round(self.seconds, 2)),
            ("verdict", "OK" if self.ok else "FAILED"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


class LimitedQueue(MemoryPublisher):
    """The memory queue with a broker's size limit: a larger message is refused."""

    def __init__(self, max_message_bytes: int) -> None:
        super().__init__()
        self.max_message_bytes = max_message_bytes

    def publish(self, message: Message) -> None:
        size = len(message.body.encode("utf-8", "surrogatepass"))
        if self.max_message_bytes is not None and size > self.max_message_bytes:
            raise PublishError(f"message is {size} bytes; the queue takes at most {self.max_message_bytes}")
        super().publish(message)


def newer_version_records(store: Store, items: list[Item], seed: int, count: int, limit: int) -> set[str]:
    """Pending outbox records as a newer version might write them, acked and listed for the
    sweeper (`Store.ensure_swept`): the known fields plus ones this version has never heard
    of (the sweeper must still publish them). Returns
    their keys. One more, too large for the queue (an older version had no limit), can never
    be published: the sweeper must give up on it into the quarantine."""
    keys: set[str] = set()
    now = time.time()
    bodies = [i for i in items if i.kind == "firing" and i.key is not None][:count]
    for n, item in enumerate(bodies):
        key = f"newer-{seed}-{n}"
        alarm = {**json.loads(item.body), "sessionId": key}
        alarm.pop("alertId", None)
        body = json.dumps(alarm)
        record = {
            "kind": "callback",
            "body": body,
            "received_at": now,
            "source": "v9",
            "schema": 9,
            "trace": {"id": f"t-{n}", "hops": [1, 2]},
        }
        text = json.dumps(record)
        patiently(lambda: store.claim(key, text, now - 3600, digest=digest(body.encode())))  # noqa: B023 - called at once
        patiently(lambda: store.ensure_swept(key, now - 3600))  # noqa: B023 - acked: its receiver listed it
        keys.add(key)
    poison = f"newer-{seed}-too-large"
    alarm = {**json.loads(bodies[0].body), "sessionId": poison, "padding": "x" * limit} if bodies else {}
    if alarm:
        alarm.pop("alertId", None)
        body = json.dumps(alarm)
        record = {"kind": "callback", "body": body, "received_at": now, "source": "v0"}
        text = json.dumps(record)
        patiently(lambda: store.claim(poison, text, now - 3600, digest=digest(body.encode())))
        patiently(lambda: store.ensure_swept(poison, now - 3600))
        keys.add(poison)
    return keys


def run(
    store: Store,
    n: int,
    fault_rate: float,
    seed: int = 0,
    backend: str = "memory",
    store_down: str = "publish",
    transport: Callable[[Receiver], Transport] = receiver_transport,
    duplicate_rate: float = 0.05,
    *,
    max_message_bytes: int = 65536,
    hostile_rate: float = 0.01,
    history_share: float = 0.8,
    newer_records: int = 5,
    max_attempts: int = 8,
    sweep_budget: float = 2.0,  # each sweeper claim is leased this long: a loaded CI machine must not outrun it
    drain_timeout: float = 600.0,
) -> ChaosReport:
    """One chaos run, modelled on production (see the module doc). The stream goes out in
    three parts: before, during and after a queue outage. The reconciler runs during the
    outage and at the end; two sweepers run in threads in real time from the end of the
    outage until the outbox is empty. Leases are real: give the store a short one
    (``lease_seconds`` of a few tenths), or the drain waits that long between takeovers.
    Faults are drawn from one seeded sequence, but threads race for the draws."""
    started = time.perf_counter()
    injector = Injector(fault_rate, seed)
    queue = LimitedQueue(max_message_bytes)
    outage = Outage(queue)
    quarantine = MemoryQuarantine()
    faulty_store = FaultyStore(store, injector)
    faulty_queue = FaultyPublisher(outage, injector)
    receiver = Receiver(faulty_store, faulty_queue, quarantine, store_down=store_down, record_occurrences=True)
    items = hostile_items(list(alarm_stream(n, seed)), seed, hostile_rate, max_message_bytes)
    history = SimulatedHistory(seed, history_share)
    endpoint = Endpoint(transport(receiver))
    simulator = Simulator(endpoint.send, seed=seed, duplicate_rate=duplicate_rate)
    # The reconciler sees the same faults except crashes: a crash would end its whole run
    # (a later scheduled run starts over), which at these rates would be every run.
    calmer = Injector(fault_rate, seed + 3, mix={k: v for k, v in DEFAULT_MIX.items() if k != "crash"})
    calmer.ledger = injector.ledger
    reconcile_store, reconcile_queue = FaultyStore(store, calmer), FaultyPublisher(outage, calmer)

    outcomes: list[SimOutcome] = []
    acked_at: dict[str, int] = {}  # key -> index of the delivery that got it acked first
    claimed_by_run: dict[str, int] = {}  # occurrence -> index of the reconciler run that claimed it
    runs_at: list[int] = []

    def send(part: list[Item]) -> None:
        for item in part:
            history.add(item)
        for outcome in simulator.run(part):
            if outcome.acked and outcome.item.key is not None:
                acked_at.setdefault(outcome.item.key, len(outcomes))
            outcomes.append(outcome)

    def reconcile_now() -> None:
        # Production's reconciler leaves the newest occurrences alone (RECONCILE_UNTIL, 5 min)
        # and sweepers run every minute: an occurrence is older than a lease plus a full sweep
        # before it is reconciled. Modelled by waiting out the longest lease (a sweeper that
        # died mid-run holds its claims for its budget), then two completed passes.
        time.sleep(max(store.lease_seconds, sweep_budget) + 0.05)
        sweepers.wait_for_runs(2, timeout=drain_timeout)
        runs_at.append(len(outcomes))
        now, since = history.window()
        for _ in range(100):  # a run that died (Crash) is run again, as the next schedule would
            try:
                reconcile(history, reconcile_store, reconcile_queue, since=since, until=0, now=now)
                break
            except Crash:
                continue
        for occurrence in history.occurrences:
            record = patiently(lambda: store.get(occurrence))  # noqa: B023 - called at once
            if record is not None and record.message.startswith('{"kind":"event"'):
                claimed_by_run.setdefault(occurrence, len(outcomes))

    first, second = len(items) // 3, 2 * len(items) // 3
    # The sweepers run throughout, as the scheduled ones do (during the outage too: they fail
    # to publish, but each claim they take writes the occurrence marker first).
    sweepers = Sweepers(faulty_store, faulty_queue, quarantine, sweep_budget, max_attempts)
    sweepers.start()
    try:
        send(items[:first])
        outage.down = True
        endpoint.down = True  # the endpoint is unreachable for a while too: Tencent gives up
        send(items[first : first + max(1, len(items) // 50)])
        endpoint.down = False
        send(items[first + max(1, len(items) // 50) : second])
        reconcile_now()
        outage.down = False

        newer = newer_version_records(store, items, seed, newer_records, max_message_bytes)
        send(items[second:])
        sweepers.drain(store, drain_timeout)
        reconcile_now()
        sweepers.drain(store, drain_timeout)
    finally:
        sweepers.stop()
    pending_keys = _pending_keys(store)

    messages = list(queue.messages)
    copies = Counter(m.id for m in messages)
    flagged = {m.id for m in messages if m.attributes.get("dedup") == "skipped"}
    callback_ids = {k for k in copies if not k.startswith("history-")}
    history_ids = {k for k in copies if k.startswith("history-")}
    sent = {o.item.key for o in outcomes if o.item.key is not None} | newer
    acked = {o.item.key for o in outcomes if o.acked and o.item.key is not None} | newer
    repeated = {key for key, count in copies.items() if count > 1}
    occurrence_of = {m.id: m.occurrence for m in messages}
    unrecorded = injector.ledger.unrecorded
    after_unrecorded = {k for k in repeated if k in unrecorded or occurrence_of.get(k) in unrecorded}
    flagged_repeats = (repeated - after_unrecorded) & flagged
    undeliverable = {
        item.source.removeprefix("outbox:") for item in quarantine.items.values() if item.reason == "undeliverable"
    }
    refused = sum(1 for item in quarantine.items.values() if item.reason not in ("undeliverable", "dedup_conflict"))

    # Conflicts: the body the store did not keep must be in the quarantine as dedup_conflict.
    conflict_ids = {i.id for i in quarantine.items.values() if i.reason == "dedup_conflict"}
    by_key: dict[str, list[SimOutcome]] = {}
    for outcome in outcomes:
        if outcome.item.key is not None:
            by_key.setdefault(outcome.item.key, []).append(outcome)
    conflicts = kept = explained = 0
    for outcome in outcomes:
        if outcome.item.kind != "conflict" or outcome.item.key is None:
            continue
        conflicts += 1
        key = outcome.item.key
        record = patiently(lambda: store.get(key))  # noqa: B023 - called at once
        bodies = [o for o in by_key[outcome.item.key] if record is None or digest(o.item.body) != record.digest]
        if any(digest(o.item.body) in conflict_ids for o in bodies):
            kept += 1
        elif all(not o.acked for o in bodies) or outcome.item.key in flagged:
            explained += 1

    # One id per occurrence: never a callback id and a history id for the same occurrence,
    # unless the callback went out unchecked (the store was down: no claim, no marker, the
    # message flagged dedup=skipped), or it only came after the reconciler had claimed it.
    callback_occurrences: dict[str, set[str]] = {}
    for key in callback_ids:
        occurrence = occurrence_of.get(key)
        if occurrence is not None:
            callback_occurrences.setdefault(occurrence, set()).add(key)
    both = both_explained = both_late = both_crashed = 0
    for key in history_ids:
        occurrence = occurrence_of.get(key)
        keys = callback_occurrences.get(occurrence or "", set())
        if not keys:
            continue
        both += 1
        claimed = claimed_by_run.get(occurrence or "", len(outcomes))
        early = {k for k in keys if acked_at.get(k, len(outcomes)) < claimed}
        if not early:
            both_late += 1
        elif early & flagged:
            both_explained += 1
        elif early & injector.ledger.unseen_claims:
            both_crashed += 1

    never_acked = sent - acked
    never_acked_occurrences = {occurrence_of.get(k) for k in history_ids}
    hostile = Counter(o.item.kind for o in outcomes if o.item.kind not in ("firing", "repeat", "recovery"))
    return ChaosReport(
        backend=backend,
        sent=len(sent),
        # refused bodies that reached the receiver (not those sent while the endpoint was down)
        bad_bodies=sum(1 for o in outcomes if o.item.key is None and any(x is not None for x in o.statuses)),
        acked=len(acked),
        never_acked=len(never_acked),
        never_acked_but_published=len(never_acked & set(copies)),
        published=len(messages),
        distinct_published=len(copies),
        repeats=sum(count - 1 for count in copies.values()),
        repeats_after_unrecorded_handoff=sum(copies[k] - 1 for k in after_unrecorded),
        repeats_after_outlived_lease=sum(copies[k] - 1 for k in after_unrecorded & injector.ledger.outlived_lease),
        repeats_flagged_unchecked=sum(copies[k] - 1 for k in flagged_repeats),
        unexplained_repeats=sum(copies[k] - 1 for k in repeated - after_unrecorded - flagged_repeats),
        unexplained_timelines={
            k: injector.ledger.events.get(k, []) for k in sorted(repeated - after_unrecorded - flagged_repeats)[:5]
        },
        acked_not_published=len(acked - set(copies) - undeliverable),
        acked_still_pending=len((acked - set(copies) - undeliverable) & pending_keys),
        published_not_sent=len(callback_ids - sent)
        + len({k for k in history_ids if k not in set(history.occurrences.values())}),
        quarantined=len(quarantine.items),
        outbox_left=len(pending_keys),
        faults=dict(injector.ledger.faults),
        sweeps=sweepers.runs,
        seconds=time.perf_counter() - started,
        fault_rate=fault_rate,
        undeliverable=len(undeliverable & acked),
        refused_quarantined=refused,
        hostile=dict(hostile),
        conflicts=conflicts,
        conflicts_quarantined=kept,
        conflicts_explained=explained,
        newer_records=len(newer),
        newer_published=len(newer & (set(copies) | undeliverable)),
        outage_refused=outage.refused,
        history_records=len(history.records),
        reconciled_published=len(history_ids),
        never_acked_reconciled=sum(
            1 for o in outcomes if o.item.key in never_acked and _occurrence(o.item) in never_acked_occurrences
        ),
        occurrences_both=both,
        occurrences_both_explained=both_explained,
        occurrences_both_late_callback=both_late,
        occurrences_both_unseen_claim=both_crashed,
        reconcile_runs=len(runs_at),
    )


_BUILDER = MessageBuilder()
T = TypeVar("T")


def patiently(call: Callable[[], T], tries: int = 20, pause: float = 1.0) -> T:
    """`call()`, asked again after a growing pause (1 s doubling to 16 s: about 4 minutes in
    all) when it fails: for the run's own bookkeeping of the store (setting up records,
    reading the outcome), which no fault is injected into. Under load moto's server answers
    some calls after the client's read timeout: one such answer ended a 10,000-alarm run at
    50% faults after 33 minutes, and five in a row (5 s of patience) another after 30."""
    for attempt in range(tries - 1):
        try:
            return call()
        except Exception:  # the last try, below, lets its failure out
            time.sleep(min(pause * 2**attempt, 16 * pause))
    return call()


def _pending_keys(store: Store) -> set[str]:
    return patiently(lambda: {r.key for r in store.pending(0, now=time.time() + 10**6, limit=100_000)})


def _occurrence(item: Item) -> str | None:
    try:
        return _BUILDER.build(json.loads(item.body), item.key or "", time.time()).occurrence
    except Exception:
        return None


class Endpoint:
    """The callback URL as Tencent sees it: while `down`, no answer at all."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.down = False

    def send(self, body: bytes, timeout: float) -> tuple[int | None, bytes]:
        return (None, b"") if self.down else self.transport(body, timeout)


class Sweepers:
    """Two sweepers in threads, overlapping in real time like two scheduled runs, each
    calling `sweep` again as soon as its last run ended (a run that died: the next carries on)."""

    def __init__(
        self, store: Store, publisher: Publisher, quarantine: Quarantine, budget: float, max_attempts: int
    ) -> None:
        self.store, self.publisher, self.quarantine = store, publisher, quarantine
        self.budget, self.max_attempts = budget, max_attempts
        self.runs = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(2)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            found = 1  # a run that died may have left work: go again soon
            with contextlib.suppress(Exception, Crash):
                found = sweep(
                    self.store,
                    self.publisher,
                    quarantine=self.quarantine,
                    limit=200,
                    budget_seconds=self.budget,
                    max_attempts=self.max_attempts,
                ).found
            with self._lock:
                self.runs += 1
            # Deployed, a sweeper runs once a minute; here, again at once while there is work,
            # and after a short pause when the outbox was empty (each run queries the store).
            self._stop.wait(0.01 if found else 0.1)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for_runs(self, more: int, timeout: float) -> None:
        """Until `more` further sweep runs have completed (the pending backlog was walked)."""
        with self._lock:
            target = self.runs + more
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.runs >= target:
                    return
            time.sleep(0.01)

    def drain(self, store: Store, timeout: float, every: float = 0.5) -> None:
        """Wait until nothing is pending (asked of the unfaulted store every `every` seconds:
        each ask is an index query, which on moto competes with the sweepers' own)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # a slow store (moto under load) times out: ask again
                if not store.pending(0, now=time.time() + 10**6, limit=1):
                    return
            time.sleep(every)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def open_store(url: str, lease_seconds: float) -> tuple[Store, Callable[[], None]]:
    """The store a URL names, with a real-time lease of `lease_seconds`, and its clean-up.
    ``dynamodb-moto://`` starts moto's server on 127.0.0.1 with a fresh table (and points this
    process's AWS clients at it); ``redis://...`` gets a fresh key prefix unless it names one."""
    from ..config.settings import Settings
    from ..config.wiring import store_from_settings

    stops: list[Callable[[], None]] = []
    if url.startswith("dynamodb-moto"):
        url, stop = _moto_table()
        stops.append(stop)
    elif url.startswith(("redis://", "rediss://")) and "prefix=" not in url:
        url += ("&" if "?" in url else "?") + f"prefix=chaos-{uuid.uuid4().hex[:8]}"
    store = store_from_settings(Settings(store_url=url, claim_lease_seconds=lease_seconds))

    def close() -> None:
        store.close()
        for stop in stops:
            stop()

    return store, close


def _moto_table() -> tuple[str, Callable[[], None]]:
    import os

    import boto3

    from ..backends.aws import clients
    from ..backends.aws.dynamodb import table_definition
    from .moto import moto_process

    server = contextlib.ExitStack()
    endpoint = server.enter_context(moto_process())
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105 - moto's dummy credentials
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        os.environ[name] = value
    clients.reset_clients()
    table = f"chaos-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).create_table(**table_definition(table))
    return f"dynamodb://{table}", server.close


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alarm_callback.testing.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--store",
        default="memory://",
        help="store URL: memory://, sqlite:///path, redis://127.0.0.1:6379/0, dynamodb-moto:// (moto server)",
    )
    parser.add_argument("--lease", type=float, default=0.3, help="claim lease in real seconds")
    parser.add_argument("--store-down", choices=["publish", "reject"], default="publish")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the sweepers to empty the outbox (a 10,000-alarm run on moto at 50%% faults needs more)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    store, close = open_store(args.store, args.lease)
    try:
        report = run(
            store,
            args.n,
            args.fault_rate,
            args.seed,
            args.store.split(":")[0],
            args.store_down,
            drain_timeout=args.drain_timeout,
        )
    finally:
        close()
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}))
    else:
        print(f"chaos run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, seed {args.seed}")
        print(report.table())
        print("faults: " + ", ".join(f"{k}={v}" for k, v in sorted(report.faults.items())))
        for key, timeline in report.unexplained_timelines.items():
            print(f"unexplained repeat {key}:", *timeline, sep="\n  ")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
