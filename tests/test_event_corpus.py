"""Every published gateway event in tests/fixtures/events (see its README and manifest)
carries an alarm through the deployed entry point: a metric and an event alarm, plain and
base64, with the token in the path and in each query field; a wrong token is 401, a broken
body is 400 and kept, and the fixture's own body is answered 4xx and kept, never raised."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import handler
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
from alarm_callback.edges import entry, select
from tests.conftest import memory_backends

EVENTS = Path(__file__).parent / "fixtures" / "events"
MANIFEST: list[dict[str, Any]] = json.loads((EVENTS / "manifest.json").read_text())
TOKEN = "c0rpus-token-0123456789"
SCF_CONTEXT = {"request_id": "corpus-0000", "function_name": "alarm-callback", "namespace": "default"}
# Which adapter claims each event source (the scf CLI emits both gateway shapes).
ADAPTERS = {
    "aws-rest-v1": {"aws-rest-api"},
    "aws-http-v2": {"aws-http-api"},
    "aws-function-url": {"aws-function-url"},
    "aws-alb": {"aws-alb"},
    "aws-alb-multivalue": {"aws-alb"},
    "scf-api-gateway": {"scf-api-gateway"},
    "scf-function-url": {"scf-function-url"},
    "scf-http-sourceip-only": {"scf-http"},
    "scf-cli-emulator": {"scf-api-gateway", "scf-http"},
    "other": {"scf-http-fallback"},
}
IDS = [entry_["file"].removesuffix(".json") for entry_ in MANIFEST]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MemoryPublisher, MemoryQuarantine]]:
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", TOKEN)
    for name in ("BASIC_AUTH", "ALLOW_UNAUTHENTICATED", "SCF_RESPONSE"):
        monkeypatch.delenv(f"ALARM_CALLBACK_{name}", raising=False)
    memory_backends(monkeypatch)
    entry.reset()
    current = entry.receiver()
    assert isinstance(current.publisher, MemoryPublisher) and isinstance(current.quarantine, MemoryQuarantine)
    yield current.publisher, current.quarantine
    entry.reset()


def load(item: dict[str, Any]) -> dict[str, Any]:
    return json.loads((EVENTS / item["file"]).read_text())  # type: ignore[no-any-return]


def put(event: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        event = event.setdefault(key, {})
    event[last] = value


def get(event: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        event = event.get(key) if isinstance(event, dict) else None
    return event


def add_token(event: dict[str, Any], field: str) -> None:
    """The token into one query field, in that field's own form."""
    current = get(event, field)
    if field == "rawQueryString":
        put(event, field, f"{current}&token={TOKEN}" if current else f"token={TOKEN}")
    elif field.startswith("multiValue"):
        put(event, field, {**(current or {}), "token": [TOKEN]})
    else:
        put(event, field, {**(current or {}), "token": TOKEN})


def envelope(item: dict[str, Any], body: bytes | None, *, b64: bool = False, path: str = f"/callback/{TOKEN}") -> Any:
    """The fixture as a POST to `path` carrying `body` (None: keep the fixture's own)."""
    event = copy.deepcopy(load(item))
    for field in item["method_fields"]:
        put(event, field, "POST")
    for field in item["path_fields"]:
        put(event, field, path)
    if body is not None:
        put(event, item["body_field"], base64.b64encode(body).decode() if b64 else body.decode())
        if b64 or item["base64_field"] not in item["absent_fields"]:
            put(event, item["base64_field"], b64)
    return event


def call(item: dict[str, Any], event: Any) -> tuple[Any, int, Any]:
    """(raw reply, status, decoded body) through the platform's entry point."""
    if item["platform"] == "aws":
        reply = handler.lambda_handler(event, None)
    else:
        reply = handler.main_handler(event, SCF_CONTEXT)
    assert isinstance(reply, dict) and isinstance(reply.get("statusCode"), int), reply
    body = reply["body"]
    payload = json.loads(base64.b64decode(body) if reply["isBase64Encoded"] else body)
    return reply, reply["statusCode"], payload


def test_manifest_lists_every_fixture() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "manifest.json")
    assert sorted(item["file"] for item in MANIFEST) == files
    assert {item["source"] for item in MANIFEST} <= set(ADAPTERS)


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
def test_fixture_is_claimed_by_its_adapter(item: dict[str, Any]) -> None:
    adapters = entry.adapters(item["platform"])
    for event in (load(item), envelope(item, b"{}")):
        assert select(event, SCF_CONTEXT, adapters).name in ADAPTERS[item["source"]]


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
def test_alarms_in_the_path_are_acked_once_each(
    deployed: tuple[MemoryPublisher, MemoryQuarantine], item: dict[str, Any], seed_samples: dict[str, bytes]
) -> None:
    publisher, quarantine = deployed
    for kind in ("metric", "event"):
        for b64 in (False, True):
            reply, status, payload = call(item, envelope(item, seed_samples[kind], b64=b64))
            session = json.loads(seed_samples[kind])["sessionId"]
            assert (status, payload) == (200, {"sessionId": session, "retCode": 0}), (kind, b64)
            if item["source"].startswith("aws-alb"):
                assert reply["statusDescription"] == "200 OK"
                mode = "multiValueHeaders" if item["source"] == "aws-alb-multivalue" else "headers"
                assert set(reply) == {"statusCode", "statusDescription", mode, "body", "isBase64Encoded"}
            else:
                assert set(reply) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert len(publisher.messages) == 2 and len({m.id for m in publisher.messages}) == 2
    assert quarantine.items == {}


@pytest.mark.parametrize(
    ("item", "field"),
    [(item, field) for item in MANIFEST for field in item["query_fields"]],
    ids=[f"{name}:{field}" for name, item in zip(IDS, MANIFEST, strict=True) for field in item["query_fields"]],
)
def test_token_in_each_query_field_is_enough(
    deployed: tuple[MemoryPublisher, MemoryQuarantine],
    item: dict[str, Any],
    field: str,
    seed_samples: dict[str, bytes],
) -> None:
    publisher, _ = deployed
    for kind in ("metric", "event"):
        for b64 in (False, True):
            event = envelope(item, seed_samples[kind], b64=b64, path="/callback")
            add_token(event, field)
            _, status, payload = call(item, event)
            assert status == 200 and payload["retCode"] == 0, (kind, b64, payload)
    assert len(publisher.messages) == 2


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
def test_wrong_token_is_401(
    deployed: tuple[MemoryPublisher, MemoryQuarantine], item: dict[str, Any], seed_samples: dict[str, bytes]
) -> None:
    publisher, quarantine = deployed
    for path in ("/callback/wrong", "/callback"):
        _, status, payload = call(item, envelope(item, seed_samples["metric"], path=path))
        assert status == 401 and payload["error"] == "unauthorized"
    assert publisher.messages == [] and quarantine.items == {}


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
@pytest.mark.parametrize("b64", [False, True], ids=["plain", "base64"])
def test_broken_json_is_400_and_kept(
    deployed: tuple[MemoryPublisher, MemoryQuarantine], item: dict[str, Any], b64: bool
) -> None:
    publisher, quarantine = deployed
    _, status, payload = call(item, envelope(item, b"{not json", b64=b64))
    assert status == 400 and payload["error"] == "invalid_json"
    assert [kept.body for kept in quarantine.items.values()] == [b"{not json"]
    assert publisher.messages == []


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
def test_own_body_is_4xx_and_kept(deployed: tuple[MemoryPublisher, MemoryQuarantine], item: dict[str, Any]) -> None:
    """The fixture's original body (a greeting, a test payload, none at all) is no alarm."""
    publisher, quarantine = deployed
    _, status, payload = call(item, envelope(item, None))
    assert 400 <= status < 500 and payload["retCode"] == status
    assert len(quarantine.items) == 1 and publisher.messages == []


@pytest.mark.parametrize("item", MANIFEST, ids=IDS)
def test_untouched_fixture_is_answered_not_raised(
    deployed: tuple[MemoryPublisher, MemoryQuarantine], item: dict[str, Any]
) -> None:
    """As published (GET or POST, no credential): a 4xx reply in the source's shape."""
    _, status, _ = call(item, load(item))
    assert status in (401, 405)
    assert deployed[0].messages == []
