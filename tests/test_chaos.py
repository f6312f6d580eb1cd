"""The chaos invariants at N=1,000 on each store (memory, SQLite, Redis, DynamoDB on moto's
server), in-process and over HTTP, with the production model: occurrence markers, the
history reconciler during a queue outage and at the end, two real-time sweepers, hostile
bodies and newer-version outbox records."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
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
from alarm_callback.testing.moto import moto_process
from alarm_callback.testing.simulator import (
    Simulator,
    Transport,
    adapter_transport,
    alarm_stream,
    hostile_items,
    http_transport,
)
from tests.conftest import free_port, require_moto_server, require_server
from tests.test_fuzz_adapters import reply_status

LEASE = 0.3  # real seconds: the sweepers run in threads against the real clock


def assert_invariants(report: ChaosReport) -> None:
    """Everything `ChaosReport.ok` checks, with the figures that show each path was taken."""
    assert report.ok, report.table()
    assert report.occurrences_both_unexplained == 0, report.table()  # one id per occurrence
    assert report.lost == 0, report.table()  # acked: published or quarantined as undeliverable
    assert report.unexplained_repeats == 0, report.table()
    assert report.published_not_sent == 0, report.table()
    assert report.outbox_left == 0, report.table()  # nothing pending at the end
    assert report.refused_quarantined == report.bad_bodies, report.table()
    assert report.conflicts > 0 and report.conflicts_missing == 0, report.table()  # every conflict quarantined
    assert report.newer_records > 0 and report.newer_published == report.newer_records, report.table()
    assert report.undeliverable >= 1, report.table()  # the too-large newer record, given up and counted
    assert report.acked + report.never_acked == report.sent, report.table()
    assert report.reconcile_runs == 2 and report.history_records > 0, report.table()
    assert report.never_acked_reconciled > 0, report.table()  # the reconciler recovered what Tencent gave up
    assert report.outage_refused > 0, report.table()
    assert sum(report.faults.values()) > 0  # the run really was faulted


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server with the service's atomic writes, in its own process (in this one, its
    threads would share the GIL with the simulator and both sweepers)."""
    require_moto_server()
    with moto_process() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    made: Store
    if request.param == "memory":
        made = MemoryStore(lease_seconds=LEASE)
    elif request.param == "sqlite":
        made = SQLiteStore(str(tmp_path / "chaos.db"), lease_seconds=LEASE)
    elif request.param == "redis":
        require_server("redis", "127.0.0.1", 6379)
        from urllib.parse import urlsplit

        from alarm_callback.backends.redis.store import RedisStore

        made = RedisStore.connect(
            urlsplit(f"redis://127.0.0.1:6379/0?prefix=chaos-{uuid.uuid4().hex[:8]}"), 86400, LEASE
        )
    else:
        import boto3

        from alarm_callback.backends.aws import clients
        from alarm_callback.backends.aws.dynamodb import DynamoDBStore, table_definition
        from tests.test_aws_backends import REGION, dummy_credentials

        endpoint = request.getfixturevalue("moto_endpoint")
        dummy_credentials(monkeypatch)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        clients.reset_clients()
        table = f"chaos-{uuid.uuid4().hex[:8]}"
        boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint).create_table(**table_definition(table))
        made = DynamoDBStore(table, 86400, LEASE)
    yield made
    made.close()
    if request.param == "dynamodb":
        from alarm_callback.backends.aws import clients

        clients.reset_clients()


@pytest.mark.timeout(900)
def test_chaos_invariants(store: Store) -> None:
    # moto's server answers a few hundred calls a second on 2 cores: fewer alarms there
    n = 300 if type(store).__name__ == "DynamoDBStore" else 1000
    report = run(store, n=n, fault_rate=0.2, seed=7)
    assert_invariants(report)
    assert report.sent > 0.9 * n and report.acked > 0.95 * report.sent
    assert report.repeats_after_unrecorded_handoff > 0  # the ambiguous paths were exercised


def test_chaos_with_store_down_reject() -> None:
    report = run(MemoryStore(lease_seconds=LEASE), n=1000, fault_rate=0.2, seed=11, store_down="reject")
    assert_invariants(report)
    assert report.repeats_flagged_unchecked == 0  # reject never publishes unchecked


def test_one_id_per_occurrence_across_callback_and_reconciler() -> None:
    """Failed (3 in 10,000 at 20% faults) until the occurrence marker became part of the
    claim's atomic step: a claim whose answer was lost, or whose caller crashed right
    after it, left no marker, and the reconciler published the occurrence again."""
    report = run(MemoryStore(lease_seconds=LEASE), n=1000, fault_rate=0.2, seed=7)
    assert report.occurrences_both_unexplained == 0, report.table()


def test_chaos_without_faults_publishes_each_alarm_once_under_one_id() -> None:
    report = run(MemoryStore(lease_seconds=LEASE), n=500, fault_rate=0.0, seed=3)
    assert report.ok, report.table()
    assert report.repeats == 0 and report.lost == 0 and report.occurrences_both == 0, report.table()
    assert report.conflicts_quarantined == report.conflicts > 0, report.table()
    assert report.undeliverable == 1  # only the newer record too large for the queue
    assert report.never_acked > 0 and report.never_acked_reconciled > 0  # the unreachable endpoint's alarms


def test_stream_and_faults_are_reproducible() -> None:
    """The stream and the fault draws are seeded. (A run is not: its sweepers are threads.)"""
    first = hostile_items(list(alarm_stream(300, 5)), 5)
    assert first == hostile_items(list(alarm_stream(300, 5)), 5)
    assert {item.kind for item in first} >= {"conflict", "surrogate", "nan_id", "huge_number", "too_large"}
    one, two = Injector(0.2, 5), Injector(0.2, 5)
    assert [one.draw() for _ in range(500)] == [two.draw() for _ in range(500)]


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
        report = run(MemoryStore(lease_seconds=LEASE), n=300, fault_rate=0.2, seed=13, transport=over_http)
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
    report = run(
        MemoryStore(lease_seconds=LEASE), n=300, fault_rate=0.2, seed=17, transport=_through_adapter(platform, template)
    )
    assert_invariants(report)


def test_patiently_asks_again_after_failures_and_lets_the_last_one_out() -> None:
    from alarm_callback.testing.chaos import patiently

    answers = iter([TimeoutError("slow"), TimeoutError("slow"), "ok"])

    def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert patiently(call, pause=0) == "ok"
    calls: list[int] = []

    def failing() -> str:
        calls.append(1)
        raise TimeoutError("never")

    with pytest.raises(TimeoutError):
        patiently(failing, tries=4, pause=0)
    assert len(calls) == 4
