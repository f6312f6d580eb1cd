"""The chaos run: the Tencent simulator against a receiver whose store and queue fail.

``python -m alarm_callback.chaos --n 10000 --fault-rate 0.2`` (`make chaos`) sends N
alarms through a receiver whose backend calls fail at the given rate (see `faults`), then
runs the sweeper until the outbox is empty, and prints what happened. It exits non-zero
when an invariant breaks:

- every acked alarm was published;
- no id was published twice, except after an unrecorded hand-off (an ambiguous call or a
  crash after the queue took the message) or as a copy flagged ``dedup: skipped``;
- nothing unaccounted for: every sent alarm was acked or counted as never acked, every
  published id was sent, every refused body is in the quarantine, the outbox is empty.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..backends.memory import MemoryPublisher, MemoryQuarantine
from ..core.outbox import Store
from ..core.receiver import Receiver
from ..core.sweeper import sweep
from .faults import Crash, FaultyPublisher, FaultyStore, Injector
from .simulator import Simulator, Transport, alarm_stream, receiver_transport


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

    @property
    def ok(self) -> bool:
        return (
            self.acked_not_published == 0
            and self.unexplained_repeats == 0
            and self.published_not_sent == 0
            and self.quarantined == self.bad_bodies
            and self.outbox_left == 0
            and self.acked + self.never_acked == self.sent
        )

    def table(self) -> str:
        rows = [
            ("backend", self.backend),
            ("alarms sent (distinct ids)", self.sent),
            ("acked", self.acked),
            ("never acked after 3 resends", self.never_acked),
            ("  of which published anyway", self.never_acked_but_published),
            ("published (messages)", self.published),
            ("distinct ids published", self.distinct_published),
            ("repeats published", self.repeats),
            ("  after an unrecorded hand-off", self.repeats_after_unrecorded_handoff),
            ("  flagged dedup=skipped", self.repeats_flagged_unchecked),
            ("  unexplained", self.unexplained_repeats),
            ("acked but never published (lost)", self.acked_not_published),
            ("published but never sent", self.published_not_sent),
            ("bad bodies sent", self.bad_bodies),
            ("quarantined", self.quarantined),
            ("left in the outbox", self.outbox_left),
            ("sweeper runs", self.sweeps),
            ("faults injected", sum(self.faults.values())),
            ("seconds", round(self.seconds, 2)),
            ("verdict", "OK" if self.ok else "FAILED"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def run(
    store: Store,
    n: int,
    fault_rate: float,
    seed: int = 0,
    backend: str = "memory",
    store_down: str = "publish",
    transport: Callable[[Receiver], Transport] = receiver_transport,
    duplicate_rate: float = 0.05,
) -> ChaosReport:
    """One chaos run. Faults are drawn from one seeded sequence, so a run is reproducible
    when `duplicate_rate` is 0 (concurrent duplicates race, and so do their draws)."""
    started = time.perf_counter()
    injector = Injector(fault_rate, seed)
    queue = MemoryPublisher()
    quarantine = MemoryQuarantine()
    faulty_store = FaultyStore(store, injector)
    faulty_queue = FaultyPublisher(queue, injector)
    receiver = Receiver(faulty_store, faulty_queue, quarantine, store_down=store_down)
    items = list(alarm_stream(n, seed))
    outcomes = Simulator(transport(receiver), seed=seed, duplicate_rate=duplicate_rate).run(items)

    # Drain the outbox, faults still on; each run is a later minute (a fresh lease).
    clock = time.time()
    sweeps = 0
    for sweeps in range(1, 10_000):  # noqa: B007 - the count is reported
        clock += store.lease_seconds + 1
        with contextlib.suppress(Exception, Crash):  # a sweeper run that died: the next carries on
            sweep(faulty_store, faulty_queue, now=clock, limit=1000)
        if not store.pending(0, now=clock + store.lease_seconds + 1, limit=1):
            break
    outbox_left = len(store.pending(0, now=clock + store.lease_seconds + 1, limit=100_000))

    copies = Counter(m.id for m in queue.messages)
    flagged = {m.id for m in queue.messages if m.attributes.get("dedup") == "skipped"}
    sent = {o.item.key for o in outcomes if o.item.key is not None}
    acked = {o.item.key for o in outcomes if o.acked and o.item.key is not None}
    repeated = {key for key, count in copies.items() if count > 1}
    after_unrecorded = repeated & injector.ledger.unrecorded
    flagged_repeats = (repeated - after_unrecorded) & flagged
    return ChaosReport(
        backend=backend,
        sent=len(sent),
        bad_bodies=sum(1 for o in outcomes if o.item.key is None),
        acked=len(acked),
        never_acked=len(sent - acked),
        never_acked_but_published=len((sent - acked) & set(copies)),
        published=len(queue.messages),
        distinct_published=len(copies),
        repeats=sum(count - 1 for count in copies.values()),
        repeats_after_unrecorded_handoff=sum(copies[k] - 1 for k in after_unrecorded),
        repeats_flagged_unchecked=sum(copies[k] - 1 for k in flagged_repeats),
        unexplained_repeats=sum(copies[k] - 1 for k in repeated - after_unrecorded - flagged_repeats),
        acked_not_published=len(acked - set(copies)),
        published_not_sent=len(set(copies) - sent),
        quarantined=len(quarantine.items),
        outbox_left=outbox_left,
        faults=dict(injector.ledger.faults),
        sweeps=sweeps,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alarm_callback.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", default="memory://", help="store URL (memory://, sqlite:///path, redis://...)")
    parser.add_argument("--store-down", choices=["publish", "reject"], default="publish")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from ..config.settings import Settings
    from ..config.wiring import store_from_settings

    store = store_from_settings(Settings(store_url=args.store))
    report = run(store, args.n, args.fault_rate, args.seed, args.store.split(":")[0], args.store_down)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}))
    else:
        print(report.table())
        print("faults: " + ", ".join(f"{k}={v}" for k, v in sorted(report.faults.items())))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
