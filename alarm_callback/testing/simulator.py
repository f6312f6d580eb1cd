"""A delivery simulator that behaves like Tencent Cloud Monitor.

It builds a stream of alarms from the seed shapes (new alarms firing, repeat notifications
with new sessionIds, recoveries, a few unreadable bodies), posts each one, waits at most
`timeout` seconds for the ack and resends at most `resends` times when the ack is missing,
wrong or not HTTP 200, and now and then sends a concurrent duplicate. It records what was
sent and what was acked, for the chaos report and tests.

Transports decide how a body reaches the receiver: in-process (`receiver_transport`,
`adapter_transport` through a platform adapter) or over HTTP (`http_transport`).
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import samples
from ..core.http import Request
from ..core.receiver import Receiver
from ..ops.sender import is_ack, post
from .faults import Crash

# (status or None when no answer came, reply body)
Transport = Callable[[bytes, float], tuple[int | None, bytes]]


@dataclass(frozen=True, slots=True)
class Item:
    key: str | None  # dedup key; None for a body that should be refused
    session_id: str | None
    body: bytes
    kind: str  # firing, repeat, recovery, bad


@dataclass(slots=True)
class Outcome:
    item: Item
    attempts: int = 0
    acked: bool = False
    statuses: list[int | None] = field(default_factory=list)


def receiver_transport(receiver: Receiver, path: str = "/callback") -> Transport:
    """Straight into `Receiver.handle`. A `Crash` is a dead process: no answer."""

    def send(body: bytes, timeout: float) -> tuple[int | None, bytes]:
        try:
            response = receiver.handle(Request("POST", path, body, source="simulator"))
        except Crash:
            return None, b""
        return response.status, response.body

    return send


def adapter_transport(
    handler: Callable[[Any, Any], Any],
    build_event: Callable[[bytes], Any],
    read_reply: Callable[[Any], tuple[int, bytes]],
    context: Any = None,
) -> Transport:
    """Through a platform entry point: `build_event` wraps the body the way the gateway
    would, `read_reply` turns the handler's return value into (status, body)."""

    def send(body: bytes, timeout: float) -> tuple[int | None, bytes]:
        try:
            return read_reply(handler(build_event(body), context))
        except Crash:
            return None, b""

    return send


def http_transport(url: str) -> Transport:
    def send(body: bytes, timeout: float) -> tuple[int | None, bytes]:
        attempt = post(url, body, timeout)
        return attempt.status, attempt.body.encode()

    return send


def alarm_stream(n: int, seed: int = 0, bad_rate: float = 0.01) -> Iterator[Item]:
    """`n` deliveries: about 60% new alarms, 20% repeats and 20% recoveries of live ones,
    `bad_rate` unreadable bodies. Every new alarm gets its own object, so identities differ."""
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    shapes = [json.loads(body) for body in samples.load().values()]
    live: list[dict[str, Any]] = []
    for i in range(n):
        session_id = f"sim-{seed}-{i}"
        roll = rng.random()
        if roll < bad_rate:
            body = rng.choice(["{not json %d", "[%d]", '{"alarmStatus": 1, "n": %d}']).replace("%d", str(i)).encode()
            yield Item(None, None, body, "bad")
            continue
        if live and roll < 0.2:
            alarm = live.pop(rng.randrange(len(live)))
            alarm = copy.deepcopy(alarm)
            alarm.update(
                {"sessionId": session_id, "alarmStatus": rng.choice([0, "0"]), "recoverTime": "2026-01-01 00:05:00"}
            )
            kind = "recovery"
        elif live and roll < 0.4:
            alarm = copy.deepcopy(rng.choice(live))
            alarm["sessionId"] = session_id
            alarm["durationTime"] = rng.choice([600, "900"])
            kind = "repeat"
        else:
            alarm = copy.deepcopy(rng.choice(shapes))
            alarm["sessionId"] = session_id
            alarm["alarmObjInfo"]["dimensions"]["unInstanceId"] = f"ins-sim{seed}-{i}"
            live.append(alarm)
            kind = "firing"
        key = session_id
        if rng.random() < 0.05:  # a graded policy: the level is part of the key
            key = f"{session_id}_Serious"
            alarm = {**alarm, "alertId": key, "alarmLevel": "Serious"}
        yield Item(key, session_id, json.dumps(alarm).encode(), kind)


class Simulator:
    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float = 5.0,
        resends: int = 3,
        duplicate_rate: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.resends = resends
        self.duplicate_rate = duplicate_rate
        self._random = random.Random(seed)  # noqa: S311  # nosec B311

    def deliver(self, item: Item) -> Outcome:
        """Tencent's loop for one push: try, then resend while the ack is missing or wrong."""
        outcome = Outcome(item)
        for _ in range(1 + self.resends):
            status, body = self.transport(item.body, self.timeout)
            outcome.attempts += 1
            outcome.statuses.append(status)
            if is_ack(status, body.decode("utf-8", "replace"), item.session_id):
                outcome.acked = True
                break
        return outcome

    def run(self, items: Iterator[Item] | list[Item]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for item in items:
            if self._random.random() < self.duplicate_rate:
                outcomes.append(self._concurrently(item))
            else:
                outcomes.append(self.deliver(item))
        return outcomes

    def _concurrently(self, item: Item) -> Outcome:
        """The same push delivered twice at once (Tencent retrying while we are slow)."""
        results: list[Outcome] = []
        threads = [threading.Thread(target=lambda: results.append(self.deliver(item))) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        merged = Outcome(item, sum(r.attempts for r in results), any(r.acked for r in results))
        merged.statuses = [s for r in results for s in r.statuses]
        return merged
