"""The chaos invariants at N=1,000 on each backend that exists here, in-process and over HTTP."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from alarm_callback.backends.memory import MemoryStore
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.core.outbox import Store
from alarm_callback.core.receiver import Receiver
from alarm_callback.edges import entry
from alarm_callback.edges.asgi import App
from alarm_callback.edges.base import select
from alarm_callback.testing.chaos import ChaosReport, run
from alarm_callback.testing.faults import Crash, FaultyStore, Injector
from alarm_callback.testing.simulator import Simulator, Transport, adapter_transport, alarm_stream, http_transport
from tests.conftest import free_port
from tests.test_fuzz_adapters import reply_status


def assert_invariants(report: ChaosReport) -> None:
    assert report.acked_not_published == 0, report.table()
    assert report.unexplained_repeats == 0, report.table()
    assert report.published_not_sent == 0, report.table()
    assert report.outbox_left == 0, report.table()
    assert report.quarantined == report.bad_bodies, report.table()
    assert report.acked + report.never_acked == report.sent, report.table()
    assert report.ok
    assert sum(report.faults.values()) > 0  # the run really was faulted


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "chaos.db"))
    yield made
    made.close()


def test_chaos_invariants(store: Store) -> None:
    report = run(store, n=1000, fault_rate=0.2, seed=7)
    assert_invariants(report)
    assert report.sent > 900 and report.acked > 0.95 * report.sent
    assert report.repeats_after_unrecorded_handoff > 0  # the ambiguous paths were exercised


def test_chaos_with_store_down_reject(store: Store) -> None:
    report = run(store, n=1000, fault_rate=0.2, seed=11, store_down="reject")
    assert_invariants(report)
    assert report.repeats_flagged_unchecked == 0  # reject never publishes unchecked


def test_chaos_without_faults_publishes_each_alarm_exactly_once() -> None:
    report = run(MemoryStore(), n=500, fault_rate=0.0, seed=3)
    assert_invariants_no_faults(report)


def assert_invariants_no_faults(report: ChaosReport) -> None:
    assert report.acked == report.sent == report.distinct_published == report.published
    assert report.repeats == 0 and report.never_acked == 0


def test_faults_are_reproducible() -> None:
    first = run(MemoryStore(), n=300, fault_rate=0.2, seed=5, duplicate_rate=0)
    second = run(MemoryStore(), n=300, fault_rate=0.2, seed=5, duplicate_rate=0)
    assert first.faults == second.faults
    assert (first.published, first.repeats, first.acked) == (second.published, second.repeats, second.acked)


def test_crash_is_not_swallowed_by_the_receiver() -> None:
    injector = Injector(1.0, mix={"crash": 1.0})
    receiver_store = FaultyStore(MemoryStore(), injector)
    from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
    from tests.conftest import post

    receiver = Receiver(receiver_store, MemoryPublisher(), MemoryQuarantine())
    with pytest.raises(Crash):
        post(receiver, {"sessionId": "s1", "alarmType": "metric"})


def _serve(receiver: Receiver) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(App(receiver), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}/callback", server, thread


def test_chaos_over_http_through_the_local_server() -> None:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def over_http(receiver: Receiver) -> Transport:
        url, server, thread = _serve(receiver)
        servers.append((server, thread))
        return http_transport(url)

    try:
        report = run(MemoryStore(), n=300, fault_rate=0.2, seed=13, transport=over_http)
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(10)
    assert_invariants(report)


def test_simulator_counts_resends_like_tencent() -> None:
    answers = iter([(500, b""), (None, b""), (200, b'{"sessionId": "wrong", "retCode": 0}'), (200, b"")])

    def flaky(body: bytes, timeout: float) -> tuple[int | None, bytes]:
        return next(answers)

    item = next(alarm_stream(1, seed=0, bad_rate=0.0))
    outcome = Simulator(flaky).deliver(item)
    assert (outcome.attempts, outcome.acked) == (4, False)
    assert outcome.statuses == [500, None, 200, 200]


ADAPTER_FIXTURES = sorted(
    (platform, path)
    for platform in ("aws", "scf")
    for path in (Path(__file__).parent / "fixtures" / platform).glob("*.json")
    if "direct" not in path.stem  # a direct invocation carries the alarm itself, no envelope
)


def _through_adapter(platform: str, template: dict[str, Any]) -> Callable[[Receiver], Transport]:
    """Tencent's bodies wrapped in a real gateway event of `platform`, through its adapter."""

    def build_event(body: bytes) -> dict[str, Any]:
        event = copy.deepcopy(template)
        event["body"] = body.decode("utf-8", "replace")
        if "isBase64Encoded" in event:
            event["isBase64Encoded"] = False
        return event

    def read_reply(reply: Any) -> tuple[int, bytes]:
        status, payload = reply_status(reply)
        return status, json.dumps(payload).encode()

    def factory(receiver: Receiver) -> Transport:
        known = entry.adapters(platform)

        def handler(event: Any, context: Any) -> Any:
            adapter = select(event, context, known)
            return adapter.render(receiver.handle(adapter.request))

        return adapter_transport(handler, build_event, read_reply)

    return factory


@pytest.mark.parametrize(("platform", "path"), ADAPTER_FIXTURES, ids=[p.stem for _, p in ADAPTER_FIXTURES])
def test_chaos_through_each_adapter(platform: str, path: Path) -> None:
    template = json.loads(path.read_text())
    report = run(MemoryStore(), n=300, fault_rate=0.2, seed=17, transport=_through_adapter(platform, template))
    assert_invariants(report)
