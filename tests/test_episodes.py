"""Issue 15, alarm episodes: the per-fingerprint record, its compare-and-swap on every store,
concurrency, and the receiver's messages (episode + sequence) end to end."""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import to_json

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.consumer import decode
from alarm_callback.core.episodes import CLOSED, OPEN, EpisodeMark, EpisodeState, EpisodeTracker, advance
from alarm_callback.core.outbox import Store
from alarm_callback.core.receiver import Receiver
from alarm_callback.core.sweeper import sweep
from tests.conftest import post

T0 = 1_700_000_000.0
FP = "fp-1"


# -- the decision ---------------------------------------------------------------------------


def test_advance_opens_counts_closes_and_reopens() -> None:
    mark, state = advance(None, FP, "a", "firing", T0, 100, opened_at=T0 - 5)
    assert (mark.sequence, mark.state, mark.opened_at, mark.orphan) == (1, OPEN, T0 - 5, False)
    assert state is not None
    repeat, state = advance(state, FP, "b", "firing", T0 + 1, 100)
    assert (repeat.id, repeat.sequence, repeat.opened_at) == (mark.id, 2, T0 - 5)
    assert state is not None
    recovery, state = advance(state, FP, "c", "resolved", T0 + 2, 100)
    assert (recovery.id, recovery.sequence, recovery.state) == (mark.id, 3, CLOSED)
    assert state is not None
    # a resend of any remembered key returns its mark and writes nothing
    assert advance(state, FP, "b", "firing", T0 + 3, 100) == (repeat, None)
    again, state = advance(state, FP, "d", "firing", T0 + 4, 100)
    assert again.id != mark.id and again.sequence == 1 and again.state == OPEN
    # forgotten after the TTL: a firing opens a new episode
    assert state is not None
    late, _ = advance(state, FP, "e", "firing", T0 + 200, 100)
    assert late.id != again.id and late.sequence == 1


def test_advance_orphan_recovery() -> None:
    mark, state = advance(None, FP, "r", "resolved", T0, 100)
    assert (mark.sequence, mark.state, mark.orphan) == (1, CLOSED, True)
    assert state is not None
    after, _ = advance(state, FP, "f", "firing", T0 + 1, 100)
    assert (after.sequence, after.state, after.orphan) == (1, OPEN, False) and after.id != mark.id


# -- the store contract -----------------------------------------------------------------------


def check_episode_semantics(store: Store) -> None:
    """Every backend: compare-and-swap on a versioned blob, driven by the tracker."""
    assert store.load_episode("nothing") is None
    assert store.swap_episode("x", 0, "one", T0, 100) is True
    assert store.swap_episode("x", 0, "lost", T0, 100) is False
    assert store.load_episode("x") == (1, "one")
    assert store.swap_episode("x", 2, "lost", T0, 100) is False
    assert store.swap_episode("x", 1, "two", T0, 100) is True
    assert store.load_episode("x") == (2, "two")
    assert store.swap_episode("absent", 3, "lost", T0, 100) is False
    assert store.load_episode("absent") is None

    tracker = EpisodeTracker(ttl_seconds=100)
    marks = [
        tracker.step(store, FP, key, status, T0 + i)
        for i, (key, status) in enumerate([("a", "firing"), ("b", "firing"), ("c", "firing"), ("d", "resolved")])
    ]
    assert [m.sequence for m in marks] == [1, 2, 3, 4]
    assert len({m.id for m in marks}) == 1 and marks[-1].state == CLOSED
    assert tracker.step(store, FP, "b", "firing", T0 + 5) == marks[1]  # a resend: no bump
    other = tracker.step(store, "fp-2", "z", "firing", T0)
    assert other.id != marks[0].id and other.sequence == 1
    reopened = tracker.step(store, FP, "e", "firing", T0 + 6)
    assert reopened.sequence == 1 and reopened.id != marks[0].id


def check_concurrent_steps(make: Callable[[], Store], threads: int = 12) -> None:
    """Concurrent notifications of one fingerprint each get their own sequence number, and
    concurrent resends of one key share one."""
    barrier = threading.Barrier(threads)
    marks: list[EpisodeMark] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        store = make()
        barrier.wait(timeout=60)  # a worker that died breaks the barrier instead of hanging the rest
        mark = EpisodeTracker(100).step(store, "conc", f"k{i // 2}", "firing", T0 + 1)  # pairs share a key
        with lock:
            marks.append(mark)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert len(marks) == threads
    assert len({m.id for m in marks}) == 1
    assert sorted({m.sequence for m in marks}) == list(range(1, threads // 2 + 1))


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    shared = MemoryStore(100)

    def make() -> Store:
        return shared if request.param == "memory" else SQLiteStore(str(tmp_path / "s.db"), 100)

    yield make


def test_episode_semantics(make_store: Callable[[], Store]) -> None:
    check_episode_semantics(make_store())


def test_concurrent_steps_from_threads(make_store: Callable[[], Store]) -> None:
    check_concurrent_steps(make_store)


def test_purge_forgets_episodes(tmp_path: Path) -> None:
    for store in (MemoryStore(100), SQLiteStore(str(tmp_path / "p.db"), 100)):
        store.swap_episode("x", 0, "b", T0, 100)
        store.purge(now=T0 + 50)
        assert store.load_episode("x") is not None
        store.purge(now=T0 + 101)
        assert store.load_episode("x") is None


def _step_in_sqlite(path: str, barrier: Any, out: Any, i: int) -> None:
    barrier.wait()
    out.put(EpisodeTracker(100).step(SQLiteStore(path), "procs", f"k{i}", "firing", T0).sequence)


def check_steps_from_processes(target: Callable[..., None], where: str, n: int = 6) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(where, barrier, out, i)) for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(out.get(timeout=5) for _ in range(n)) == list(range(1, n + 1))


def test_sqlite_steps_from_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    check_steps_from_processes(_step_in_sqlite, path)


# -- the receiver: issue 15's done-when ----------------------------------------------------


def lifecycle_bodies(sample: dict[str, Any], instance: str = "ins-o9p3rg3m", tag: str = "") -> list[dict[str, Any]]:
    """A firing, two repeat notifications (new sessionIds) and the recovery of one alarm."""
    bodies = []
    for i, status in enumerate([1, 1, 1, 0]):
        body = copy.deepcopy(sample)
        body["sessionId"] = f"s{tag}{i}"
        body["alarmStatus"] = status
        body["alarmObjInfo"]["dimensions"]["unInstanceId"] = instance
        body["alarmPolicyInfo"]["conditions"]["alarmNotifyType"] = "continuousAlarm"
        if status == 0:
            body["recoverTime"] = "2017-03-09 08:00:00"
        bodies.append(body)
    return bodies


def check_receiver_lifecycle(store: Store, sample: dict[str, Any]) -> None:
    publisher = MemoryPublisher()
    receiver = Receiver(store, publisher, MemoryQuarantine())
    bodies = lifecycle_bodies(sample)
    for body in bodies:
        assert post(receiver, body).status == 200
        assert post(receiver, body).status == 200  # every notification resent: counted once
    events = [decode(m.body) for m in publisher.messages]
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    assert len({e.episode for e in events}) == 1 and events[0].episode
    assert [e.data.episode.state for e in events if e.data.episode] == ["open", "open", "open", "closed"]
    assert {m.attributes["episode"] for m in publisher.messages} == {events[0].episode}
    assert [m.attributes["sequence"] for m in publisher.messages] == ["1", "2", "3", "4"]
    assert all(e.data.episode and e.data.episode.opened_at == events[0].data.first_occur_time for e in events)
    # a second object under the same policy: another episode
    for body in lifecycle_bodies(sample, "ins-other", "o")[:2]:
        post(receiver, body)
    others = [decode(m.body) for m in publisher.messages[4:]]
    assert [e.sequence for e in others] == [1, 2] and others[0].episode != events[0].episode


def test_receiver_lifecycle_memory(metric_sample: dict[str, Any]) -> None:
    check_receiver_lifecycle(MemoryStore(), metric_sample)


def test_receiver_lifecycle_sqlite(metric_sample: dict[str, Any], tmp_path: Path) -> None:
    check_receiver_lifecycle(SQLiteStore(str(tmp_path / "r.db")), metric_sample)


def test_orphan_recovery_is_flagged(metric_sample: dict[str, Any]) -> None:
    publisher = MemoryPublisher()
    receiver = Receiver(MemoryStore(), publisher, MemoryQuarantine())
    post(receiver, lifecycle_bodies(metric_sample)[3])
    [message] = publisher.messages
    event = decode(message.body)
    assert (event.orphanresolve, event.sequence) == (True, 1)
    assert event.data.episode is not None and event.data.episode.orphan


class _Down(Exception):
    pass


class _FailingPublisher(MemoryPublisher):
    def publish(self, message: Any) -> None:
        raise _Down("queue down")


def test_sweeper_republishes_the_same_episode(metric_sample: dict[str, Any]) -> None:
    """The mark is stored with the outbox input: the sweeper's message is byte for byte the
    request's, and never counts the episode again."""
    store = MemoryStore(lease_seconds=0.0)
    receiver = Receiver(store, _FailingPublisher(), MemoryQuarantine())
    first, second = lifecycle_bodies(metric_sample)[:2]
    post(receiver, first)
    publisher = MemoryPublisher()
    assert sweep(store, publisher, receiver.builder).published == 1
    receiver.publisher = publisher
    post(receiver, second)
    events = [decode(m.body) for m in publisher.messages]
    assert [e.sequence for e in events] == [1, 2]
    assert len({e.episode for e in events}) == 1


def test_episodes_off(metric_sample: dict[str, Any]) -> None:
    publisher = MemoryPublisher()
    receiver = Receiver(MemoryStore(), publisher, MemoryQuarantine(), episode_ttl_seconds=0)
    post(receiver, metric_sample)
    event = decode(publisher.messages[0].body)
    assert event.episode is None and event.sequence is None and event.data.episode is None
    assert "episode" not in publisher.messages[0].body.split('"data"')[0]


# -- flapping ----------------------------------------------------------------------------------


def test_flapping_after_more_than_n_changes_within_the_window_until_it_calms_down() -> None:
    state = None
    flags = []
    # firing/resolved alternating once a minute: every notification is a state change
    for i in range(6):
        mark, state = advance(
            state, FP, f"k{i}", "firing" if i % 2 == 0 else "resolved", T0 + 60 * i, 1e6, None, 3, 600
        )
        flags.append(mark.flapping)
    assert flags == [False, False, False, True, True, True]
    # repeats change nothing; once the changes leave the window it calms down
    late, state = advance(state, FP, "r1", "firing", T0 + 360, 1e6, None, 3, 600)
    assert late.flapping  # still 4+ changes within 600 s (the firing at 360 s reopened)
    calm, _ = advance(state, FP, "r2", "firing", T0 + 360 + 600, 1e6, None, 3, 600)
    assert calm.flapping is False and calm.sequence == 2  # a repeat of the episode opened at 360 s


def test_flapping_off_with_a_zero_window() -> None:
    state = None
    for i in range(10):
        mark, state = advance(state, FP, f"k{i}", "firing" if i % 2 == 0 else "resolved", T0 + i, 1e6, None, 1, 0)
        assert not mark.flapping


def test_flapping_messages_are_flagged(metric_sample: dict[str, Any]) -> None:
    publisher = MemoryPublisher()
    receiver = Receiver(MemoryStore(), publisher, MemoryQuarantine(), flap_threshold=2, flap_window_seconds=3600)
    firing, _, _, recovery = lifecycle_bodies(metric_sample)
    for i in range(4):
        body = copy.deepcopy(firing if i % 2 == 0 else recovery)
        body["sessionId"] = f"flap{i}"
        post(receiver, body)
    events = [decode(m.body) for m in publisher.messages]
    assert [e.flapping for e in events] == [None, None, True, True]
    assert [m.attributes.get("flapping") for m in publisher.messages] == [None, None, "true", "true"]
    assert events[2].data.episode is not None and events[2].data.episode.flapping


def test_the_record_serializes_as_dataclasses_asdict_did() -> None:
    """`to_dict`/`dumps` spell the fields out (no `asdict` deep copy) and `dumps` writes with
    `pydantic_core.to_json`: the JSON `json.dumps(asdict, sort_keys=True)` wrote, a mark's keys
    in field order."""
    marks = [EpisodeMark(f"e{i}", i + 1, 1767225600.5 + i, OPEN, orphan=i == 2, flapping=i > 3) for i in range(16)]
    state = EpisodeState(
        "e0", 1767225600.5, 1767229200.25, 16, OPEN, [(f"k{i}", m) for i, m in enumerate(marks)], [1.5]
    )
    old = dataclasses.asdict(state)
    del old["recent_json"]  # a cache of `recent` in its JSON form, not a record field
    old["recent"] = [[key, mark._asdict()] for key, mark in state.recent]
    assert json.loads(state.dumps()) == json.loads(json.dumps(old, separators=(",", ":"), sort_keys=True))
    assert list(json.loads(state.dumps())) == sorted(old)
    assert [json.dumps(m.to_dict()) for m in marks] == [json.dumps(m._asdict()) for m in marks]
    assert EpisodeState.loads(state.dumps()) == state
    tiny = EpisodeState("e0", 1e-05, 0.1, 1, CLOSED, [], [])  # not a time: other text, same value
    assert EpisodeState.loads(tiny.dumps()) == tiny


def test_records_built_by_advance_write_what_their_marks_would() -> None:
    """`advance` carries the previous record's pairs over as JSON texts (`recent_json`):
    along a chain longer than `RECENT`, through a reopening and a forgotten record, each
    record writes the very text `to_json` writes of its whole dict, and reads back equal."""
    current: EpisodeState | None = None
    for step in range(40):
        status = "resolved" if step % 7 == 6 else "firing"
        now = 1767225600.0 + step * (300000.0 if step == 20 else 60.5)
        _, new = advance(current, "fp", f"k{step}", status, now, 259200.0, None)
        assert new is not None and new.recent_json is not None
        plain = dataclasses.replace(new, recent_json=None)
        assert new.dumps() == plain.dumps() == to_json(_as_dict(new)).decode()
        assert EpisodeState.loads(new.dumps()) == new
        current = new if step % 5 else EpisodeState.loads(new.dumps())  # parsed records have no pairs


def _as_dict(state: EpisodeState) -> dict[str, object]:
    """The record as one dict, in the order `dumps` writes it."""
    return {
        "changes": state.changes,
        "count": state.count,
        "id": state.id,
        "last_at": state.last_at,
        "opened_at": state.opened_at,
        "recent": [[key, mark.to_dict()] for key, mark in state.recent],
        "state": state.state,
    }


def test_the_record_text_is_to_json_of_its_dict_for_any_text() -> None:
    """`dumps` puts the pairs' texts between two `to_json` outputs: keys and ids with quotes,
    backslashes, control and non-ASCII characters write what `to_json` of the whole dict does."""
    odd = ['k"1', "k\\2", "k\n3", "ключ", "🔔", "\u2028", ""]
    current: EpisodeState | None = None
    for i, key in enumerate(odd):
        _, current = advance(current, "fp", key, "firing" if i % 3 else "resolved", 1000.0 + i, 86400.0, 1e-7)
        assert current is not None
        assert current.dumps() == to_json(_as_dict(current)).decode()
        assert EpisodeState.loads(current.dumps()) == current


def test_a_tracker_reads_back_what_it_wrote_and_parses_what_others_wrote() -> None:
    store = MemoryStore()
    mine, other = EpisodeTracker(), EpisodeTracker()
    assert mine.step(store, "fp", "k1", "firing", 100.0).sequence == 1
    assert other.step(store, "fp", "k2", "firing", 101.0).sequence == 2  # parses mine's record
    assert mine.step(store, "fp", "k3", "firing", 102.0).sequence == 3  # text differs: parses other's
    assert mine.step(store, "fp", "k4", "resolved", 103.0).sequence == 4  # its own, kept
    assert mine.step(store, "fp", "k1", "firing", 104.0).sequence == 1  # a resend: the remembered mark
