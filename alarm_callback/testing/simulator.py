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
from datetime import datetime, timedelta
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
    kind: str  # firing, repeat, recovery, bad; hostile kinds: see `hostile_items`


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


# Vendor times (no offset, Asia/Shanghai) of the simulated alarms: alarm i first occurred
# `i` seconds after this, so the alarm history has one occurrence per new alarm.
FIRST_OCCURRENCE = datetime(2026, 11, 28, 8, 0, 0)
VENDOR_TIME = "%Y-%m-%d %H:%M:%S"


def alarm_stream(n: int, seed: int = 0, bad_rate: float = 0.01) -> Iterator[Item]:
    """`n` deliveries: about 60% new alarms, 20% repeats and 20% recoveries of live ones,
    `bad_rate` unreadable bodies. Every new alarm gets its own object (so identities differ)
    and its own first occurrence (so the alarm history tells occurrences apart); a
    recovery recovers 5 minutes after it."""
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
            first = datetime.strptime(alarm["firstOccurTime"], VENDOR_TIME)
            recovered = (first + timedelta(minutes=5)).strftime(VENDOR_TIME)
            alarm.update({"sessionId": session_id, "alarmStatus": rng.choice([0, "0"]), "recoverTime": recovered})
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
            alarm["firstOccurTime"] = (FIRST_OCCURRENCE + timedelta(seconds=i)).strftime(VENDOR_TIME)
            live.append(alarm)
            kind = "firing"
        key = session_id
        if rng.random() < 0.05:  # a graded policy: the level is part of the key
            key = f"{session_id}_Serious"
            alarm = {**alarm, "alertId": key, "alarmLevel": "Serious"}
        yield Item(key, session_id, json.dumps(alarm).encode(), kind)


def hostile_items(items: list[Item], seed: int = 0, rate: float = 0.01, max_message_bytes: int = 65536) -> list[Item]:
    """`items` with hostile deliveries mixed in, each about `rate` of the stream:

    * ``conflict``: a second, different body under the key of an earlier alarm (acked,
      quarantined as ``dedup_conflict``, never published);
    * ``surrogate``: a lone UTF-16 surrogate (``"\\ud800"``) in a string field (400 ``unencodable``);
    * ``nan_id`` / ``huge_id``: ``NaN`` or ``1e400`` as the sessionId (400 ``invalid_id``);
    * ``huge_number``: ``1e400`` and ``NaN`` in number fields (accepted: read as no value);
    * ``too_large``: a body whose message is over `max_message_bytes` (413 ``message_too_large``).
    """
    rng = random.Random(seed + 1)  # noqa: S311  # nosec B311
    out: list[Item] = []
    seen: list[tuple[Item, dict[str, Any]]] = []
    for i, item in enumerate(items):
        out.append(item)
        if item.key is not None and item.kind == "firing":
            seen.append((item, json.loads(item.body)))
        if not seen or rng.random() >= rate * 5:
            continue
        earlier, alarm = rng.choice(seen)
        kind = rng.choice(["conflict", "surrogate", "nan_id", "huge_number", "too_large"])
        hostile = copy.deepcopy(alarm)
        sid = f"hostile-{seed}-{i}"
        if kind == "conflict":
            hostile["conflictingField"] = f"another body {i}"
            out.append(Item(earlier.key, earlier.session_id, json.dumps(hostile).encode(), "conflict"))
            continue
        hostile["sessionId"] = sid
        hostile["hostileIndex"] = i  # bodies stay distinct (the quarantine keeps one copy per body)
        hostile.pop("alertId", None)
        if kind == "surrogate":
            hostile["alarmPolicyInfo"]["policyName"] = "PLACEHOLDER"
            body = json.dumps(hostile).replace('"PLACEHOLDER"', '"bad \\ud800 name"')
            out.append(Item(None, None, body.encode(), "surrogate"))
        elif kind == "nan_id":
            body = json.dumps(hostile).replace(f'"{sid}"', rng.choice(["NaN", "1e400", "-Infinity"]))
            out.append(Item(None, None, body.encode(), "nan_id"))
        elif kind == "huge_number":
            hostile["durationTime"] = 1.5
            hostile["alarmObjInfo"]["dimensions"]["unInstanceId"] = f"ins-huge{seed}-{i}"
            body = json.dumps(hostile).replace("1.5", rng.choice(["1e400", "NaN", "-1e400"]))
            out.append(Item(sid, sid, body.encode(), "huge_number"))
        else:
            hostile["padding"] = "x" * max_message_bytes
            out.append(Item(None, None, json.dumps(hostile).encode(), "too_large"))
    return out


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
