"""Issue 15, part 4: routing rules (ALARM_CALLBACK_ROUTES), the Router publisher and drop://.

The three worked examples are read from docs/routing.md, so the page and the tests cannot
drift apart; their target URLs are served by memory publishers (drop:// by the real one)."""

from __future__ import annotations

import copy
import json
import logging
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alarm_callback.backends.drop import DropPublisher
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import publisher_from_settings
from alarm_callback.consumer import decode
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED, Store
from alarm_callback.core.ports import FanOut, Publisher
from alarm_callback.core.receiver import Receiver
from alarm_callback.core.routing import Router, parse_routes
from alarm_callback.core.sweeper import sweep
from alarm_callback.core.targets import DROP_URL, parse_targets, shown_url
from alarm_callback.ops.cli import setting_error
from alarm_callback.reconcile.run import reconcile
from tests.conftest import post
from tests.test_episodes import lifecycle_bodies
from tests.test_receiver import FlakyPublisher
from tests.test_reconcile import NOW, FakeHistory, records

DOC = Path(__file__).resolve().parents[1] / "docs" / "routing.md"


def doc_examples() -> list[dict[str, str]]:
    """The environment of each worked example, parsed as a shell would."""
    section = DOC.read_text().split("## Worked examples", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [dict(word.split("=", 1) for word in shlex.split(block)) for block in blocks]


def router_for(env: dict[str, str]) -> tuple[Router, dict[str, Publisher]]:
    """The example's rules, validated as Settings does, with every target URL a memory queue."""
    settings = Settings(queue_url=env["ALARM_CALLBACK_QUEUE_URL"], routes=env["ALARM_CALLBACK_ROUTES"])
    rules = parse_routes(settings.routes)
    default = parse_targets(settings.queue_url, "QUEUE_URL")
    urls = dict.fromkeys([*default, *(url for rule in rules for url in rule.targets)])
    publishers: dict[str, Publisher] = {url: DropPublisher() if url == DROP_URL else up() for url in urls}
    return Router(rules, default, publishers), publishers


def up() -> FlakyPublisher:
    """A memory queue a test can take down (`down = True`)."""
    publisher = FlakyPublisher()
    publisher.down = False
    return publisher


def queue(publishers: dict[str, Publisher], url: str) -> list[Message]:
    target = publishers[url]
    assert isinstance(target, MemoryPublisher)
    return target.messages


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    yield (lambda: MemoryStore()) if request.param == "memory" else (lambda: SQLiteStore(str(tmp_path / "s.db")))


def with_namespace(sample: dict[str, Any], namespace: str, session: str) -> dict[str, Any]:
    body = copy.deepcopy(sample)
    body["sessionId"] = session
    body["alarmObjInfo"]["namespace"] = namespace
    return body


# -- the worked examples of docs/routing.md -----------------------------------------------------


def test_the_doc_has_three_examples() -> None:
    examples = doc_examples()
    assert len(examples) == 3
    assert all(set(env) == {"ALARM_CALLBACK_QUEUE_URL", "ALARM_CALLBACK_ROUTES"} for env in examples)


def test_example_1_recoveries_also_to_a_second_queue(
    make_store: Callable[[], Store], metric_sample: dict[str, Any]
) -> None:
    router, publishers = router_for(doc_examples()[0])
    receiver = Receiver(make_store(), router, MemoryQuarantine())
    firing, _, _, recovery = lifecycle_bodies(metric_sample)
    assert post(receiver, firing).status == post(receiver, recovery).status == 200
    alarms, recoveries = queue(publishers, "cmq://alarms"), queue(publishers, "cmq://alarm-recoveries")
    assert [m.attributes["status"] for m in alarms] == ["firing", "resolved"]
    assert [m.attributes["status"] for m in recoveries] == ["resolved"]
    assert recoveries[0].id == alarms[1].id and recoveries[0].body == alarms[1].body


def test_example_2_repeats_after_the_third_are_dropped(
    make_store: Callable[[], Store], metric_sample: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    router, publishers = router_for(doc_examples()[1])
    store = make_store()
    receiver = Receiver(store, router, MemoryQuarantine())
    firing, repeat, _, recovery = lifecycle_bodies(metric_sample)
    bodies = [firing] + [{**copy.deepcopy(repeat), "sessionId": f"repeat-{i}"} for i in range(4)] + [recovery]
    with caplog.at_level(logging.INFO, logger="alarm_callback"):
        for body in bodies:
            assert post(receiver, body).status == 200
    delivered = queue(publishers, "sqs://sqs.ap-singapore.amazonaws.com/123456789012/alarms")
    assert [decode(m.body).sequence for m in delivered] == [1, 2, 3, 6]
    drops = [r for r in caplog.records if r.getMessage() == "routed to drop://"]
    assert [(r.route, r.dropped, r.dropped_total) for r in drops] == [  # type: ignore[attr-defined]
        ("quiet-repeats", True, 1),
        ("quiet-repeats", True, 2),
    ]
    assert [r.dedup_key for r in drops] == ["repeat-2", "repeat-3"]  # type: ignore[attr-defined]
    # a drop is a delivery: nothing is left for the sweeper
    assert all(store.get(str(body["sessionId"])).status == PUBLISHED for body in bodies)  # type: ignore[union-attr]
    assert router.dropped == 2 and router.counts == {"quiet-repeats": 2, "default": 4}


def test_example_3_a_namespace_to_a_webhook_everything_else_to_the_default(
    make_store: Callable[[], Store], metric_sample: dict[str, Any], event_sample: dict[str, Any]
) -> None:
    env = doc_examples()[2]
    router, publishers = router_for(env)
    receiver = Receiver(make_store(), router, MemoryQuarantine())
    for body in (
        with_namespace(metric_sample, "qce/cdb", "mysql-alarm"),
        with_namespace(metric_sample, "qce/redis", "redis-alarm"),
        with_namespace(metric_sample, "qce/cvm", "cvm-alarm"),
        event_sample,
    ):
        assert post(receiver, body).status == 200
    webhook = json.loads(env["ALARM_CALLBACK_ROUTES"])[0]["to"]
    assert [m.id for m in queue(publishers, webhook)] == ["mysql-alarm", "redis-alarm"]
    assert [m.id for m in queue(publishers, "cmq://alarms")] == ["cvm-alarm", event_sample["sessionId"]]


# -- the outbox guarantee per route ------------------------------------------------------------


def test_a_failed_target_leaves_the_record_pending_and_the_sweeper_delivers_with_the_same_id(
    make_store: Callable[[], Store], metric_sample: dict[str, Any]
) -> None:
    router, publishers = router_for(doc_examples()[0])
    store = make_store()
    receiver = Receiver(store, router, MemoryQuarantine())
    recoveries = publishers["cmq://alarm-recoveries"]
    assert isinstance(recoveries, FlakyPublisher)
    recoveries.down = True
    recovery = lifecycle_bodies(metric_sample)[3]
    assert post(receiver, recovery).status == 200  # acked: durable in the outbox
    record = store.get(recovery["sessionId"])
    assert record is not None and record.status == PENDING
    assert [m.id for m in queue(publishers, "cmq://alarms")] == [recovery["sessionId"]]  # took it already
    recoveries.down = False
    report = sweep(store, router, receiver.builder, now=record.updated_at + 3600)
    assert (report.published, report.failed) == (1, 0)
    assert [m.id for m in recoveries.messages] == [recovery["sessionId"]]
    alarms = queue(publishers, "cmq://alarms")
    assert [m.id for m in alarms] == [recovery["sessionId"]] * 2 and alarms[0].body == alarms[1].body  # a repeat
    assert store.get(recovery["sessionId"]).status == PUBLISHED  # type: ignore[union-attr]


def test_a_route_failure_names_the_route() -> None:
    down = FlakyPublisher()
    rules = parse_routes('[{"name": "ops", "match": {"kind": "metric"}, "to": "memory://x"}]')
    router = Router(rules, ["memory://y"], {"memory://x": down, "memory://y": MemoryPublisher()})
    with pytest.raises(PublishError, match="route 'ops': queue down"):
        router.publish(Message("k1", "{}", attributes={"kind": "metric"}))


def test_the_reconcilers_messages_route_the_same_way_and_carry_no_episode() -> None:
    """docs/consuming.md says so: they come from the alarm history, not through the receiver."""
    rules = parse_routes(
        '[{"name": "repeats", "match": {"sequence": ">0"}, "to": "memory://episodes"},'
        ' {"name": "history", "match": {"recovered": true}, "to": "memory://history"}]'
    )
    publishers: dict[str, Publisher] = {url: MemoryPublisher() for url in ("memory://episodes", "memory://history")}
    router = Router(rules, ["memory://episodes"], publishers)
    report = reconcile(FakeHistory([records()["779d129a"]]), MemoryStore(), router, since=7200, until=300, now=NOW)
    assert report.items and all(item.outcome == "published" for item in report.items)
    published = queue(publishers, "memory://history")
    assert len(published) == len(report.items) and queue(publishers, "memory://episodes") == []
    for message in published:
        event = decode(message.body)
        assert event.recovered and event.episode is None and event.sequence is None and event.data.episode is None
        assert "episode" not in message.attributes and "sequence" not in message.attributes


# -- matching ---------------------------------------------------------------------------------


def matching(routes: str, message: Message) -> str:
    rules = parse_routes(routes)
    urls = {url for rule in rules for url in rule.targets} | {"memory://default"}
    router = Router(rules, ["memory://default"], {url: MemoryPublisher() for url in urls})
    return router.route_for(message).rule.name


def test_sequence_comparisons_lists_and_absent_attributes() -> None:
    for condition, hits in [
        ('">3"', [4, 9]),
        ('">= 3"', [3, 4, 9]),
        ('"<2"', [1]),
        ('"<=2"', [1, 2]),
        ('"=2"', [2]),
        ("2", [2]),
        ("[1, 3]", [1, 3]),
    ]:
        routes = f'[{{"name": "r", "match": {{"sequence": {condition}}}, "to": "memory://r"}}]'
        got = [
            n for n in (1, 2, 3, 4, 9) if matching(routes, Message("k", "{}", attributes={"sequence": str(n)})) == "r"
        ]
        assert got == hits, condition
    # no sequence (unknown alarms, episodes off, the reconciler's messages): never matches
    assert matching('[{"name": "r", "match": {"sequence": ">0"}, "to": "memory://r"}]', Message("k", "{}")) == "default"


def test_first_match_wins_and_every_condition_must_hold() -> None:
    routes = json.dumps(
        [
            {
                "name": "serious-cvm",
                "match": {"namespace": "qce/cvm", "level": ["Serious", "Warn"]},
                "to": "memory://a",
            },
            {"name": "cvm", "match": {"namespace": "qce/cvm"}, "to": "memory://b"},
            {"name": "also-cvm", "match": {"namespace": "qce/cvm"}, "to": "memory://c"},
        ]
    )
    serious = Message("k", json.dumps({"data": {"level": "Serious"}}), attributes={"namespace": "qce/cvm"})
    remind = Message("k", json.dumps({"data": {"level": "Remind"}}), attributes={"namespace": "qce/cvm"})
    assert matching(routes, serious) == "serious-cvm"
    assert matching(routes, remind) == "cvm"
    assert matching(routes, Message("k", "{}", attributes={"namespace": "qce/cdb"})) == "default"


def test_flags_that_are_not_set_read_as_their_default() -> None:
    routes = json.dumps(
        [
            {"name": "unchecked", "match": {"dedup": "skipped"}, "to": "memory://a"},
            {
                "name": "live",
                "match": {"recovered": False, "flapping": "false", "dedup": "checked"},
                "to": "memory://b",
            },
        ]
    )
    assert matching(routes, Message("k", "{}")) == "live"
    assert matching(routes, Message("k", "{}", attributes={"dedup": "skipped"})) == "unchecked"
    assert matching(routes, Message("k", "{}", attributes={"recovered": "true"})) == "default"


# -- validation: a bad rule stops the start with a clear message --------------------------------


@pytest.mark.parametrize(
    ("routes", "says"),
    [
        ("{not json", "ROUTES is not JSON"),
        ('{"match": {}}', "must be a JSON list"),
        ('["cmq://alarms"]', "rule 1 must be a JSON object"),
        ('[{"match": {"colour": "red"}, "to": "memory://"}]', "rule 1 ('rule-1'): unknown attribute 'colour'"),
        ('[{"match": {"status": "resolve"}, "to": "memory://"}]', "match.status: ['resolve'] never occurs"),
        ('[{"match": {"sequence": "> three"}, "to": "memory://"}]', "a comparison like '>3'"),
        ('[{"match": {"sequence": true}, "to": "memory://"}]', "a comparison like '>3'"),
        ('[{"match": {"region": 3}, "to": "memory://"}]', "match.region must be a string"),
        ('[{"match": {}, "to": "memory://"}]', "'match' must be a non-empty object"),
        ('[{"match": {"kind": "event"}}]', "'to' (the target URLs) is missing"),
        ('[{"match": {"kind": "event"}, "to": []}]', "names no target URL"),
        ('[{"match": {"kind": "event"}, "to": ["drop://", "memory://"]}]', "drop:// must be the only target"),
        ('[{"match": {"kind": "event"}, "targets": "memory://"}]', "unknown key(s) ['targets']"),
        (
            '[{"name": "a", "match": {"kind": "event"}, "to": "memory://"}, {"name": "a", "match": {"kind": "metric"}, '
            '"to": "memory://"}]',
            "'a' is reserved or used twice",
        ),
        ('[{"name": "default", "match": {"kind": "event"}, "to": "memory://"}]', "reserved"),
    ],
)
def test_bad_rules_are_a_config_error_naming_the_rule(routes: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_routes(routes)
    assert says in str(raised.value)
    with pytest.raises(ValidationError) as invalid:  # the same rule refused by Settings, at start
        Settings(routes=routes)
    line = setting_error(invalid.value)
    assert line.startswith("ALARM_CALLBACK_ROUTES: ROUTES") and says in line


def test_an_unknown_scheme_is_refused_by_settings_without_echoing_secrets() -> None:
    routes = '[{"name": "ops", "match": {"kind": "event"}, "to": "amqpp://user:hunter2-secret@mq/vhost?x=1"}]'
    with pytest.raises(ValidationError) as invalid:
        Settings(routes=routes)
    line = setting_error(invalid.value)
    assert "rule 'ops': unknown URL scheme 'amqpp' in 'amqpp://mq/vhost'" in line
    assert "hunter2" not in line


def test_drop_beside_another_default_target_is_refused_at_wiring() -> None:
    with pytest.raises(ConfigError, match="QUEUE_URL: drop:// must be the only target"):
        publisher_from_settings(Settings(queue_url="memory://,drop://"))


# -- wiring -------------------------------------------------------------------------------------


def test_wiring_builds_a_router_only_when_there_is_something_to_route() -> None:
    assert isinstance(publisher_from_settings(Settings(queue_url="memory://a,memory://b")), FanOut)
    assert isinstance(publisher_from_settings(Settings(queue_url="drop://")), Router)  # its drops get logged
    routes = '[{"name": "r", "match": {"status": "resolved"}, "to": ["memory://a", "memory://b"]}]'
    router = publisher_from_settings(Settings(queue_url="memory://a", routes=routes))
    assert isinstance(router, Router)
    assert router.routes[0].publisher.publishers[0] is router.default.publisher  # type: ignore[attr-defined]
    assert len(router.publishers) == 2  # memory://a built once for both routes


def test_the_size_limit_is_the_smallest_of_every_reachable_target() -> None:
    small, large, unlimited = MemoryPublisher(), MemoryPublisher(), DropPublisher()
    small.max_message_bytes, large.max_message_bytes = 65536, 262144
    rules = parse_routes(
        '[{"match": {"kind": "event"}, "to": "cmq://small"}, {"match": {"kind": "metric"}, "to": "drop://"}]'
    )
    router = Router(rules, ["sqs://large"], {"cmq://small": small, "sqs://large": large, DROP_URL: unlimited})
    assert router.max_message_bytes == 65536
    assert Receiver(MemoryStore(), router, MemoryQuarantine()).max_message_bytes == 65536


def test_route_targets_are_masked_in_logs_and_secrets() -> None:
    url = "amqps://robot:pa55-w0rd-routing@mq.example.com/alarms?exchange=x"
    assert shown_url(url) == "amqps://mq.example.com/alarms"
    assert shown_url("https://hooks.example.com/a?secret=whsec_x") == "https://hooks.example.com/a"
    settings = Settings(routes=json.dumps([{"match": {"kind": "event"}, "to": url}]))
    assert "pa55-w0rd-routing" in settings.secrets()
