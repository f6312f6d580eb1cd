"""Alarm episodes: one per fingerprint from its first firing to its recovery.

Per fingerprint the store keeps one small record (`EpisodeState`): the open (or last
closed) episode's id, when it opened, when it was last notified, how many notifications
it has had and whether it is open. Every firing or resolved notification advances it once:

* a firing with no open episode opens one (sequence 1);
* each further firing (repeat notifications: new sessionId, same fingerprint) counts up;
* a recovery closes the episode with the next sequence;
* a recovery with no open episode is still published, as a one-message closed episode
  flagged ``orphan`` (``orphanresolve`` on the CloudEvent);
* a firing after a recovery opens a new episode.

**Flapping.** Each state change (an episode opening, an episode closing) is timestamped in
the record; while more than ``flap_threshold`` of them fall within the last
``flap_window_seconds``, every notification of the fingerprint is marked ``flapping``, until
it calms down (the old changes leave the window).

A record not notified for ``ttl_seconds`` is forgotten (every backend also expires it).

**Once per notification.** The step runs before the outbox claim and its result
(`EpisodeMark`) is stored in the outbox record's input, so the sweeper rebuilds the same
message. A resend of the same dedup key must not count twice: the record remembers the
marks of its last `RECENT` keys and returns the remembered mark for a key it has seen,
writing nothing. Tencent resends a push within seconds, long before that many other
notifications of the same alarm.

**Atomicity.** The decision is written once, here (`advance`); backends provide one
compare-and-swap on a versioned blob (`Store.load_episode` / `Store.swap_episode`), each
with its own primitive: a lock, a conditional UPDATE/INSERT, a Lua script, a conditional
PutItem. `EpisodeTracker.step` retries a lost swap, so concurrent deliveries of one
fingerprint each get their own sequence number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic_core import to_json

if TYPE_CHECKING:
    from .outbox import Store

OPEN = "open"
CLOSED = "closed"
RECENT = 16  # dedup keys whose marks an episode record remembers
MAX_SWAPS = 50
WRITTEN_KEPT = 128  # fingerprints whose last record an EpisodeTracker keeps parsed (a few KB each)
DEFAULT_EPISODE_TTL = 259200.0  # 3 days without a notification: the episode is forgotten
DEFAULT_FLAP_THRESHOLD = 4  # more than 4 state changes ...
DEFAULT_FLAP_WINDOW = 3600.0  # ... within an hour: flapping

State = Literal["open", "closed"]


class EpisodeContention(RuntimeError):
    """The swap kept losing (should not happen outside a storm of one fingerprint)."""


class EpisodeMark(NamedTuple):
    """What one notification's message carries about its episode."""

    id: str
    sequence: int
    opened_at: float
    state: str
    orphan: bool = False
    flapping: bool = False

    def to_dict(self) -> dict[str, Any]:
        # Spelled out, in field order: in about half the time of `_asdict()`, and an episode
        # record serializes 16 of these per notification.
        return {
            "id": self.id,
            "sequence": self.sequence,
            "opened_at": self.opened_at,
            "state": self.state,
            "orphan": self.orphan,
            "flapping": self.flapping,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> EpisodeMark:
        return cls(
            id=str(value["id"]),
            sequence=int(value["sequence"]),
            opened_at=float(value["opened_at"]),
            state=str(value["state"]),
            orphan=bool(value.get("orphan", False)),
            flapping=bool(value.get("flapping", False)),
        )


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """The per-fingerprint record (stored as JSON by every backend)."""

    id: str
    opened_at: float
    last_at: float
    count: int
    state: str
    recent: list[tuple[str, EpisodeMark]] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)  # state changes within the flap window
    # `recent` as `dumps` writes it: one compact JSON text per ``[key, mark.to_dict()]`` pair,
    # when `advance` built this record from one that had them. Each notification then
    # serializes its own pair only, not sixteen; the texts are shared between records and
    # never changed. None: built on demand.
    recent_json: list[str] | None = field(default=None, compare=False, repr=False)

    def recent_texts(self) -> list[str]:
        """`recent` as the JSON texts of its ``[key, mark]`` pairs (see `dumps`)."""
        if self.recent_json is not None:
            return self.recent_json
        return [pair_json(key, mark) for key, mark in self.recent]

    def dumps(self) -> str:
        """Compact JSON, as `pydantic_core.to_json` writes the record's dict (keys in sorted
        order, each mark's in field order, `to_dict`): `to_json` writes the fields before
        ``recent`` and the state after it, and the pairs' own texts are put between them, so
        only the new pair is serialized (`test_episodes` checks the text against `to_json`
        of the whole dict). `loads` reads by key. Floats are times: the same digits either
        way; any float reads back the same."""
        head = to_json(
            {
                "changes": list(self.changes),
                "count": self.count,
                "id": self.id,
                "last_at": self.last_at,
                "opened_at": self.opened_at,
            }
        ).decode()
        recent = ",".join(self.recent_texts())
        return f'{head[:-1]},"recent":[{recent}],"state":{to_json(self.state).decode()}}}'

    @classmethod
    def loads(cls, text: str) -> EpisodeState:
        data = json.loads(text)
        return cls(
            id=str(data["id"]),
            opened_at=float(data["opened_at"]),
            last_at=float(data["last_at"]),
            count=int(data["count"]),
            state=str(data["state"]),
            recent=[(str(key), EpisodeMark.from_dict(mark)) for key, mark in data.get("recent", [])],
            changes=[float(t) for t in data.get("changes", [])],
        )

    def remembered(self, key: str) -> EpisodeMark | None:
        for seen, mark in self.recent:
            if seen == key:
                return mark
        return None


def pair_json(key: str, mark: EpisodeMark) -> str:
    """One entry of a record's ``recent`` as `dumps` writes it."""
    return to_json([key, mark.to_dict()]).decode()


def episode_id(fingerprint: str, key: str) -> str:
    """Deterministic: the fingerprint and the dedup key of the notification that opened it."""
    return hashlib.sha256(f"{fingerprint}\n{key}".encode()).hexdigest()[:24]


def advance(
    current: EpisodeState | None,
    fingerprint: str,
    key: str,
    status: str,
    now: float,
    ttl_seconds: float,
    opened_at: float | None = None,
    flap_threshold: int = DEFAULT_FLAP_THRESHOLD,
    flap_window: float = DEFAULT_FLAP_WINDOW,
) -> tuple[EpisodeMark, EpisodeState | None]:
    """The mark of notification `key` and the record to write (None: write nothing, `key`
    was already counted). `opened_at`: the alarm's first occurrence, when known.
    ``flap_window=0`` turns flapping off."""
    if current is not None and current.last_at + ttl_seconds <= now:
        current = None  # forgotten: as if there were no record
    if current is not None:
        seen = current.remembered(key)
        if seen is not None:
            return seen, None
    is_open = current is not None and current.state == OPEN
    if status == "firing":
        if current is not None and is_open:
            mark = EpisodeMark(current.id, current.count + 1, current.opened_at, OPEN)
        else:
            mark = EpisodeMark(episode_id(fingerprint, key), 1, opened_at if opened_at is not None else now, OPEN)
    elif current is not None and is_open:  # recovery of the open episode
        mark = EpisodeMark(current.id, current.count + 1, current.opened_at, CLOSED)
    else:  # recovery with nothing open
        start = opened_at if opened_at is not None else now
        mark = EpisodeMark(episode_id(fingerprint, key), 1, start, CLOSED, orphan=True)
    changed = (status == "firing") != is_open  # opened, or closed what was open
    changes = [t for t in (current.changes if current is not None else []) if t > now - flap_window]
    if changed and flap_window > 0:
        changes.append(now)
    if len(changes) > flap_threshold:
        mark = mark._replace(flapping=True)
    recent = ([] if current is None else current.recent[-(RECENT - 1) :]) + [(key, mark)]
    texts = ([] if current is None else current.recent_texts()[-(RECENT - 1) :]) + [pair_json(key, mark)]
    state = EpisodeState(mark.id, mark.opened_at, now, mark.sequence, mark.state, recent, changes, texts)
    return mark, state


class EpisodeTracker:
    """Runs `advance` against a store's compare-and-swap until it lands."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_EPISODE_TTL,
        flap_threshold: int = DEFAULT_FLAP_THRESHOLD,
        flap_window: float = DEFAULT_FLAP_WINDOW,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.flap_threshold = flap_threshold
        self.flap_window = flap_window
        # The record this tracker wrote last per fingerprint, with its text: reading the same
        # text back (the next notification of the alarm in a warm container) skips
        # `EpisodeState.loads`. A record is a pure function of its text, and frozen.
        self._written: dict[str, tuple[str, EpisodeState]] = {}

    def step(
        self,
        store: Store,
        fingerprint: str,
        key: str,
        status: str,
        now: float,
        opened_at: float | None = None,
    ) -> EpisodeMark:
        for _ in range(MAX_SWAPS):
            loaded = store.load_episode(fingerprint)
            version, current = (0, None) if loaded is None else (loaded[0], self._read(fingerprint, loaded[1]))
            mark, new = advance(
                current,
                fingerprint,
                key,
                status,
                now,
                self.ttl_seconds,
                opened_at,
                self.flap_threshold,
                self.flap_window,
            )
            if new is None:
                return mark
            blob = new.dumps()
            if store.swap_episode(fingerprint, version, blob, now, self.ttl_seconds):
                if len(self._written) >= WRITTEN_KEPT and fingerprint not in self._written:
                    self._written.clear()
                self._written[fingerprint] = (blob, new)
                return mark
        raise EpisodeContention(f"episode of {fingerprint!r}: {MAX_SWAPS} swaps lost")

    def _read(self, fingerprint: str, blob: str) -> EpisodeState:
        written = self._written.get(fingerprint)
        return written[1] if written is not None and written[0] == blob else EpisodeState.loads(blob)
